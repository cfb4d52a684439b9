//! `/api/v1/orgs/{org}/…`: members, invitations, roles, API tokens and the
//! audit log. `{org}` is the organization id or slug.

use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use app::audit::{AuditFilter, AuditPageData};
use app::error::AppError;
use app::orgs::access::{self, Access};
use app::orgs::permissions::Permission;
use app::orgs::{
    ApiToken, Invitation, Member, MemberPage, MemberQuery, RoleInfo, invitations, members, roles,
};
use app::ssr::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{delete, get, patch};
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use std::net::IpAddr;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/members", get(list_members))
        .route(
            "/orgs/{org}/members/{user_id}",
            patch(update_member).delete(remove_member),
        )
        .route(
            "/orgs/{org}/invitations",
            get(list_invitations).post(create_invitation),
        )
        .route("/orgs/{org}/invitations/{id}", delete(revoke_invitation))
        .route("/orgs/{org}/roles", get(list_roles).post(create_role))
        .route(
            "/orgs/{org}/roles/{name}",
            patch(update_role).delete(delete_role),
        )
        .route(
            "/orgs/{org}/api-tokens",
            get(list_tokens).post(create_token),
        )
        .route("/orgs/{org}/api-tokens/{id}", delete(revoke_token))
        .route("/orgs/{org}/audit-events", get(audit_events))
}

/// Peer address, when the server runs with connect info.
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(app::ssr::request::client_ip(&parts.extensions)))
    }
}

async fn access_to(state: &AppState, caller: Caller, org: &str) -> Result<Access, ApiError> {
    Ok(access::resolve(&state.db, caller.into_actor(), org).await?)
}

async fn authorized(
    state: &AppState,
    caller: Caller,
    org: &str,
    p: Permission,
) -> Result<Access, ApiError> {
    Ok(access::authorize(&state.db, caller.into_actor(), org, p).await?)
}

/// Members, by name; `q` searches names and emails.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/members", tag = "members",
    params(("org" = String, Path, description = "Organization id or slug"), ("q" = Option<String>, Query), ("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query)),
    responses((status = 200, body = MemberPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(query): ApiQuery<MemberQuery>,
) -> Result<Json<MemberPage>, ApiError> {
    let access = authorized(&state, caller, &org, Permission::MembersRead).await?;
    Ok(Json(
        members::list(&state.db, &access.org_id, &query).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    pub role: Option<String>,
    /// `active` or `deactivated`.
    pub status: Option<String>,
}

/// Changes a member's role and/or status.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/members/{user_id}", tag = "members", request_body = MemberUpdate,
    params(("org" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path((org, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<MemberUpdate>,
) -> Result<Json<Member>, ApiError> {
    let access = access_to(&state, caller, &org).await?;
    let active = match body.status.as_deref() {
        None => None,
        Some("active") => Some(true),
        Some("deactivated") => Some(false),
        Some(other) => {
            return Err(AppError::unprocessable(
                "invalid_status",
                format!("`{other}` is not a status; use active or deactivated."),
            )
            .on("status")
            .into());
        }
    };
    if body.role.is_none() && active.is_none() {
        return Err(
            AppError::unprocessable("empty_update", "Give a role or a status to change.").into(),
        );
    }
    let mut member = members::get(&state.db, &access.org_id, &user_id).await?;
    if let Some(role) = &body.role {
        member = members::change_role(&state.db, &access, &user_id, role, ip).await?;
    }
    if let Some(active) = active {
        member = members::set_active(&state.db, &access, &user_id, active, ip).await?;
    }
    Ok(Json(member))
}

/// Removes a member and ends their sessions.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/members/{user_id}", tag = "members",
    params(("org" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path((org, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let access = access_to(&state, caller, &org).await?;
    members::remove(&state.db, &access, &user_id, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    pub email: String,
    pub role: String,
}

/// Invites an email; the answer carries the one-time `accept_url`.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/invitations", tag = "members", request_body = NewInvitation,
    params(("org" = String, Path)),
    responses((status = 201, body = Invitation), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let access = access_to(&state, caller, &org).await?;
    let inv = invitations::create(
        &state.db,
        &access,
        &state.settings.public_url,
        &body.email,
        &body.role,
        ip,
    )
    .await?;
    invitations::notify(state.mailer.as_ref(), &access.org_name, &inv);
    Ok((StatusCode::CREATED, Json(inv)))
}

/// Pending invitations.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/invitations", tag = "members", params(("org" = String, Path)),
    responses((status = 200, body = Vec<Invitation>), (status = 403, body = ErrorBody)))]
pub async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Vec<Invitation>>, ApiError> {
    let access = authorized(&state, caller, &org, Permission::MembersRead).await?;
    Ok(Json(
        invitations::list_pending(&state.db, &access.org_id).await?,
    ))
}

/// Withdraws a pending invitation.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/invitations/{id}", tag = "members",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let access = access_to(&state, caller, &org).await?;
    invitations::revoke(&state.db, &access, &id, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Built-in and custom roles with their permissions.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/roles", tag = "roles", params(("org" = String, Path)),
    responses((status = 200, body = Vec<RoleInfo>), (status = 403, body = ErrorBody)))]
pub async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Vec<RoleInfo>>, ApiError> {
    let access = access_to(&state, caller, &org).await?;
    Ok(Json(roles::list(&state.db, &access).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Permission names such as `members:read`.
    pub permissions: Vec<String>,
}

/// Creates a custom role.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/roles", tag = "roles", request_body = NewRole, params(("org" = String, Path)),
    responses((status = 201, body = RoleInfo), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewRole>,
) -> Result<(StatusCode, Json<RoleInfo>), ApiError> {
    let access = access_to(&state, caller, &org).await?;
    let role = roles::create(
        &state.db,
        &access,
        &body.name,
        &body.description,
        &body.permissions,
        ip,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(role)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleUpdate {
    /// The complete new set of permission names.
    pub permissions: Vec<String>,
}

/// Replaces a custom role's permissions (only while nobody holds it).
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/roles/{name}", tag = "roles", request_body = RoleUpdate,
    params(("org" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_role(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path((org, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<RoleUpdate>,
) -> Result<StatusCode, ApiError> {
    let access = access_to(&state, caller, &org).await?;
    roles::update(&state.db, &access, &name, &body.permissions, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a custom role (only while nobody holds it).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/roles/{name}", tag = "roles",
    params(("org" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path((org, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let access = access_to(&state, caller, &org).await?;
    roles::delete(&state.db, &access, &name, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Active API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/api-tokens", tag = "tokens", params(("org" = String, Path)),
    responses((status = 200, body = Vec<ApiToken>), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    let access = authorized(&state, caller, &org, Permission::TokensWrite).await?;
    Ok(Json(
        app::orgs::tokens::manage::list(&state.db, &access.org_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub role: String,
}

/// Creates a token; `secret` is in this answer only.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/api-tokens", tag = "tokens", request_body = NewToken, params(("org" = String, Path)),
    responses((status = 201, body = ApiToken), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<ApiToken>), ApiError> {
    let access = access_to(&state, caller, &org).await?;
    let token =
        app::orgs::tokens::manage::create(&state.db, &access, &body.name, &body.role, ip).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// Revokes a token at once.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/api-tokens/{id}", tag = "tokens",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let access = access_to(&state, caller, &org).await?;
    app::orgs::tokens::manage::revoke(&state.db, &access, &id, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Audit events, newest first, with cursor paging (`next_cursor`).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit-events", tag = "audit",
    params(("org" = String, Path), ("action" = Option<String>, Query), ("actor" = Option<String>, Query),
        ("since" = Option<i64>, Query), ("until" = Option<i64>, Query), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = AuditPageData), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn audit_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> Result<Json<AuditPageData>, ApiError> {
    let access = authorized(&state, caller, &org, Permission::AuditRead).await?;
    Ok(Json(
        app::audit::ssr::list(&state.db, &access.org_id, &filter).await?,
    ))
}
