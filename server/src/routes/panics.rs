//! A bug that panics in a handler answers 500 like any internal error
//! (logged, no details to the client) instead of dropping the connection
//! with no answer at all.

use app::error::AppError;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn contain(req: Request, next: Next) -> Response {
    let what = format!("{} {}", req.method(), req.uri().path());
    // Its own task, so a panic ends up in the JoinError and not the connection.
    match tokio::spawn(next.run(req)).await {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(request = %what, error = %e, "a handler panicked");
            super::error::ApiError::from(AppError::internal()).into_response()
        }
    }
}
