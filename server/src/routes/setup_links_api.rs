//! `/api/v1/orgs/{org}/setup-links…`: setup links over REST, so a SaaS can
//! send one to its customer's IT team from its own product.

use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::orgs_api::ClientIp;
use app::orgs::access;
use app::setup_links::{SetupLink, SetupScope, ssr as setup_links};
use app::ssr::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/setup-links", get(list).post(create))
        .route("/orgs/{org}/setup-links/{id}", delete(revoke))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSetupLink {
    /// What the link may set up: `domains`, `sso`, `provisioning`.
    pub scopes: Vec<SetupScope>,
    /// 1 to 30; 7 when omitted.
    pub expires_in_days: Option<i64>,
    #[serde(default)]
    pub note: String,
}

/// Creates a setup link (needs `sso:write`). The answer's `url` holds the
/// link's secret and is never shown again.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/setup-links", tag = "setup-links", request_body = NewSetupLink, params(("org" = String, Path)),
    responses((status = 201, body = SetupLink), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody, description = "No scope, an expiry outside 1–30 days, or a note too long")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewSetupLink>,
) -> Result<(StatusCode, Json<SetupLink>), ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    let input = setup_links::NewSetupLink {
        scopes: body.scopes,
        expires_in_days: body.expires_in_days,
        note: body.note,
    };
    let link = setup_links::create(&state, &access, input, ip).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// The organization's setup links with creator, expiry and last use;
/// never their URLs.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/setup-links", tag = "setup-links", params(("org" = String, Path)),
    responses((status = 200, body = Vec<SetupLink>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Vec<SetupLink>>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    Ok(Json(setup_links::list(&state.db, &access).await?))
}

/// Revokes a setup link: sessions opened with it stop at their next request.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/setup-links/{id}", tag = "setup-links", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    setup_links::revoke(&state.db, &access, &id, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}
