//! Server functions answer every error with 500 by default. This gives
//! their responses the status of the `AppError` kind instead (401, 422…),
//! so bad input is never reported as a server fault.

use app::error::AppError;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::StatusCode;

const SERVER_FN_ERROR_HEADER: &str = "serverfnerror";
/// Error bodies are small JSON objects; anything larger is left alone.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn apply(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = err.kind.status();
    }
    Response::from_parts(parts, Body::from(bytes))
}
