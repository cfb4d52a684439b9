//! While the database is unreachable, answer 503 with a clear page (or the
//! JSON error) instead of the 500 the session layer or a handler would
//! give, or a page's own error panel. Nothing is retried here: the pool reconnects on its own, so the
//! next request after the database returns is served as usual.

use app::error::AppError;
use app::ssr::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

const PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Temporarily unavailable · Latchkey</title>\
<link rel=\"stylesheet\" href=\"/pkg/latchkey.css\"></head><body>\
<main class=\"auth-page\"><div class=\"auth-card\" role=\"alert\" data-code=\"database_unavailable\">\
<h1>Temporarily unavailable</h1>\
<p>Latchkey cannot reach its database right now, so nothing was done. Please try again in a minute.</p>\
</div></main></body></html>";

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    // An API 503 already says what it is (health, readiness, the JSON
    // error); a page's 503 carries its own error panel, replaced below.
    let failed = res.status() == StatusCode::INTERNAL_SERVER_ERROR
        || (!api && res.status() == StatusCode::SERVICE_UNAVAILABLE);
    if !failed || app::ssr::db::ping(&state.db).await {
        return res;
    }
    tracing::warn!("the database is unreachable: answering 503");
    if api {
        return super::error::ApiError::from(AppError::database_unavailable()).into_response();
    }
    let mut res = (StatusCode::SERVICE_UNAVAILABLE, Html(PAGE)).into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    res
}
