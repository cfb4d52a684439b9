//! The REST API under `/api/v1`. Handlers: authenticate → validate → call
//! the domain layer → map the response.

use super::caller::Caller;
use super::error::{ApiError, ErrorBody, not_found};
use app::ssr::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(super::health::health))
        .route("/ready", get(super::health::ready))
        .route("/me", get(me))
        .route("/openapi.json", get(super::openapi::document))
        .merge(super::orgs_api::router())
        .merge(super::domains_api::router())
        .merge(super::setup_links_api::router())
        .merge(super::sso_api::router())
        .merge(super::security_api::router())
        .fallback(not_found)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOrg {
    pub org_id: String,
    pub slug: String,
    pub name: String,
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub email: String,
    /// Whether the address is proven (verification link, accepted
    /// invitation, or an account made by SSO).
    pub email_verified: bool,
    pub name: String,
    pub is_operator: bool,
    /// `session` or `token`.
    pub authenticated_by: &'static str,
    /// For a token: the organization it is scoped to.
    pub token_org_id: Option<String>,
    pub orgs: Vec<MeOrg>,
}

/// The signed-in user of this session (or the creator of the API token).
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "accounts",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No session and no valid token", body = ErrorBody)
    )
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let (user, by, token_org) = match caller {
        Caller::Session(user) => (user, "session", None),
        // A setup link is nobody's account.
        Caller::SetupLink(_) => return Err(app::error::AppError::unauthorized().into()),
        Caller::Token { token, user } => (
            user.ok_or_else(app::error::AppError::unauthorized)?,
            "token",
            Some(token.org_id),
        ),
    };
    let orgs = app::orgs::ssr::orgs_of_user(&state.db, &user.id)
        .await?
        .into_iter()
        .filter(|o| token_org.as_ref().is_none_or(|t| *t == o.id))
        .map(|o| MeOrg {
            org_id: o.id,
            slug: o.slug,
            name: o.name,
            role: o.role,
        })
        .collect();
    Ok(Json(Me {
        email_verified: user.email_verified,
        user_id: user.id,
        email: user.email,
        name: user.name,
        is_operator: user.is_operator,
        authenticated_by: by,
        token_org_id: token_org,
        orgs,
    }))
}
