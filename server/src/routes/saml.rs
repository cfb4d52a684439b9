//! SAML's public endpoints. Thin: `app::saml` does the work.

use app::ssr::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};

pub fn router() -> Router<AppState> {
    Router::new().route("/saml/{org_id}/metadata", get(metadata))
}

/// `GET /saml/{org_id}/metadata`: the SP metadata, unauthenticated so an
/// IdP can fetch it; 404 for an organization that does not exist.
async fn metadata(State(state): State<AppState>, Path(org_id): Path<String>) -> Response {
    match app::saml::sp::metadata(&state, &org_id).await {
        Ok(Some(xml)) => (
            [
                (header::CONTENT_TYPE, "application/samlmetadata+xml"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            xml,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "No such organization.").into_response(),
        Err(e) => super::error::ApiError(e).into_response(),
    }
}
