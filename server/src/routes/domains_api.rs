//! `/api/v1/orgs/{org}/domains…`: domain verification over REST.

use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::orgs_api::ClientIp;
use app::domains::{Domain, ssr as domains};
use app::orgs::access;
use app::orgs::permissions::Permission;
use app::setup_links::SetupScope;
use app::ssr::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/domains", get(list).post(add))
        .route("/orgs/{org}/domains/{domain}/verify", post(verify))
        .route("/orgs/{org}/domains/{domain}", delete(remove))
}

/// The organization's domains and their verification state.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/domains", tag = "domains", params(("org" = String, Path)),
    responses((status = 200, body = Vec<Domain>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Vec<Domain>>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    access.require_in(&[SetupScope::Domains], Permission::DomainsRead)?;
    Ok(Json(domains::list(&state.db, &access.org_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    pub domain: String,
}

/// Adds a pending domain; the answer holds the TXT record to publish.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/domains", tag = "domains", request_body = NewDomain, params(("org" = String, Path)),
    responses((status = 201, body = Domain), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "Verified by another organization, or already listed"), (status = 422, body = ErrorBody, description = "Malformed name, IP address, wildcard or public suffix")))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewDomain>,
) -> Result<(StatusCode, Json<Domain>), ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    let domain = domains::add(&state.db, &access, &state.settings, &body.domain, ip).await?;
    Ok((StatusCode::CREATED, Json(domain)))
}

/// Looks the TXT record up now. A failed check answers 200 with the domain
/// still `pending` and `last_error` saying why.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/domains/{domain}/verify", tag = "domains",
    params(("org" = String, Path), ("domain" = String, Path)),
    responses((status = 200, body = Domain), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path((org, domain)): Path<(String, String)>,
) -> Result<Json<Domain>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    Ok(Json(
        domains::verify_now(&state.db, &access, &state.settings, &domain, ip).await?,
    ))
}

/// Removes a domain.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/domains/{domain}", tag = "domains",
    params(("org" = String, Path), ("domain" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path((org, domain)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    domains::remove(&state.db, &access, &domain, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}
