//! `/api/v1/orgs/{org}/sso`: the SSO connection over REST.

use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiJson;
use super::orgs_api::ClientIp;
use app::orgs::access;
use app::orgs::permissions::Permission;
use app::sso::SsoConfig;
use app::sso::mapping::Provisioning;
use app::sso::ssr::{self as sso, SsoInput};
use app::ssr::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use http::StatusCode;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/sso", get(read).put(write).delete(remove))
        .route("/orgs/{org}/sso/enable", post(enable))
        .route("/orgs/{org}/sso/disable", post(disable))
        .route("/orgs/{org}/sso/test", post(test))
        .route("/orgs/{org}/sso/approve", post(approve))
        .route("/orgs/{org}/sso/provisioning", put(provisioning))
        .route("/orgs/{org}/sso/saml/sp-key/rotate", post(rotate_sp_key))
}

/// The connection; before one is saved, `configured: false` and the URIs to
/// register at the IdP. Never includes the client secret.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/sso", tag = "sso", params(("org" = String, Path)),
    responses((status = 200, body = SsoConfig), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<SsoConfig>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    access.require_in(app::sso::SSO_SCOPES, Permission::SsoRead)?;
    let config = sso::get(&state.db, &state.settings, &access.org_id).await?;
    Ok(Json(sso::as_seen_by(config, &access)))
}

/// Validates against the IdP (discovery, issuer, `code`, JWKS) and saves.
/// `client_secret` is write-only; omit it to keep the stored one.
#[utoipa::path(put, path = "/api/v1/orgs/{org}/sso", tag = "sso", request_body = SsoInput, params(("org" = String, Path)),
    responses((status = 200, body = SsoConfig), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody, description = "With `field` naming the input at fault")))]
pub async fn write(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<SsoInput>,
) -> Result<Json<SsoConfig>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    Ok(Json(
        sso::save(&state.db, &state.keys, &state.settings, &access, body, ip).await?,
    ))
}

/// Disconnect: deletes the connection, ends every SSO session of the
/// organization, downgrades members who joined through SSO to `viewer`
/// (owners excepted). A later connection gets a new login URL.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/sso", tag = "sso", params(("org" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
) -> Result<StatusCode, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    sso::delete(&state.db, &access, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turns SSO on: refused (409) until the current configuration passed a test
/// and a domain is verified.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/sso/enable", tag = "sso", params(("org" = String, Path)),
    responses((status = 200, body = SsoConfig), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
) -> Result<Json<SsoConfig>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    Ok(Json(
        sso::enable(&state.db, &state.settings, &access, ip).await?,
    ))
}

/// Turns SSO off and keeps the configuration.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/sso/disable", tag = "sso", params(("org" = String, Path)),
    responses((status = 200, body = SsoConfig), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
) -> Result<Json<SsoConfig>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    Ok(Json(
        sso::disable(&state.db, &state.settings, &access, ip).await?,
    ))
}

/// A one-time `test_url`: open it in a browser to run a sign-in at the IdP
/// in test mode. It signs nobody in; the outcome appears as `last_test`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TestStarted {
    pub test_url: String,
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/sso/test", tag = "sso", params(("org" = String, Path)),
    responses((status = 200, body = TestStarted), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "Nothing configured yet")))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<TestStarted>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    Ok(Json(TestStarted {
        test_url: sso::start_test(&state, &access).await?,
    }))
}

/// An owner's or admin's decision on a waiting change of identity provider.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Carry accounts made by the previous IdP over to the new one when
    /// their email matches (an IdP migration). Default false.
    #[serde(default)]
    pub carry_over_accounts: bool,
}

/// Approves the change of trust that waits for an owner or admin (staged
/// through a setup link, by a narrower role, or by the metadata refresh):
/// it takes effect now. Refused (409) until a test of it has passed.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/sso/approve", tag = "sso", request_body = Approval, params(("org" = String, Path)),
    responses((status = 200, body = SsoConfig), (status = 403, body = ErrorBody, description = "Not an owner or admin"), (status = 404, body = ErrorBody, description = "Nothing waits"), (status = 409, body = ErrorBody, description = "Not tested yet, or no approval needed")))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<Approval>,
) -> Result<Json<SsoConfig>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    app::sso::trust::approve(&state.db, &access, body.carry_over_accounts, ip).await?;
    Ok(Json(
        sso::get(&state.db, &state.settings, &access.org_id).await?,
    ))
}

/// JIT provisioning, default role and role mapping rules, without touching
/// the identity provider settings. Errors name the rule and field, e.g.
/// `role_mappings[1].value`.
#[utoipa::path(put, path = "/api/v1/orgs/{org}/sso/provisioning", tag = "sso", request_body = Provisioning, params(("org" = String, Path)),
    responses((status = 200, body = SsoConfig), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "No connection yet"), (status = 422, body = ErrorBody)))]
pub async fn provisioning(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<Provisioning>,
) -> Result<Json<SsoConfig>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    Ok(Json(
        sso::save_provisioning(&state.db, &state.settings, &access, body, ip).await?,
    ))
}

/// Replaces the organization's SAML SP key pair: the new certificate is in
/// the SP metadata at once (re-import it at the IdP where it encrypts
/// assertions or checks signed requests); the previous key still opens
/// assertions encrypted to it until the next rotation.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/sso/saml/sp-key/rotate", tag = "sso", params(("org" = String, Path)),
    responses((status = 200, body = SsoConfig), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_sp_key(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
) -> Result<Json<SsoConfig>, ApiError> {
    let access = access::resolve(&state.db, caller.into_actor(), &org).await?;
    app::saml::sp::rotate(&state, &access, ip).await?;
    Ok(Json(
        sso::get(&state.db, &state.settings, &access.org_id).await?,
    ))
}
