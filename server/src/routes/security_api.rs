//! `/api/v1/orgs/{org}/security`: organization-wide sign-in rules beyond
//! SSO (for now, whether password sign-ins need a second factor).

use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::orgs_api::ClientIp;
use app::mfa::ssr as mfa;
use app::orgs::access;
use app::orgs::permissions::Permission;
use app::ssr::state::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new().route("/orgs/{org}/security", get(read).put(write))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Password sign-ins need a TOTP second factor to open this
    /// organization; SSO sign-ins never do.
    pub require_mfa: bool,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/security", tag = "security", params(("org" = String, Path)),
    responses((status = 200, body = Security), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Security>, ApiError> {
    let access =
        access::authorize(&state.db, caller.into_actor(), &org, Permission::SsoRead).await?;
    Ok(Json(Security {
        require_mfa: mfa::org_requires_mfa(&state.db, &access.org_id).await?,
    }))
}

/// Turning `require_mfa` on with a console session needs that session to
/// satisfy it (409 `mfa_needed_first`), so nobody locks themselves out.
#[utoipa::path(put, path = "/api/v1/orgs/{org}/security", tag = "security", request_body = Security, params(("org" = String, Path)),
    responses((status = 200, body = Security), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn write(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<Security>,
) -> Result<Json<Security>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    mfa::set_required(&state.db, &access, body.require_mfa, ip).await?;
    Ok(Json(body))
}
