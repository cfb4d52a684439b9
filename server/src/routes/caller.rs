//! Who is calling the REST API: a bearer API token or the console session.

use super::error::ApiError;
use app::error::AppError;
use app::identity::CurrentUser;
use app::orgs::access::Actor;
use app::orgs::tokens::{TokenCaller, authenticate_token};
use app::setup_links::ssr::SetupLinkCaller;
use app::ssr::state::AppState;
use axum::extract::FromRequestParts;
use http::request::Parts;
use tower_sessions::Session;

#[derive(Debug, Clone)]
pub enum Caller {
    Session(CurrentUser),
    Token {
        token: TokenCaller,
        /// The token's creator, when they still exist.
        user: Option<CurrentUser>,
    },
    /// A setup-link session: no account, a few pages of one organization.
    SetupLink(SetupLinkCaller),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(header) = parts.headers.get(http::header::AUTHORIZATION) {
            let secret = header
                .to_str()
                .ok()
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(|| {
                    AppError::new(
                        app::error::ErrorKind::Unauthorized,
                        "invalid_token",
                        "The Authorization header must be `Bearer <api token>`.",
                    )
                })?;
            let token = authenticate_token(&state.db, secret)
                .await?
                .ok_or_else(|| {
                    AppError::new(
                        app::error::ErrorKind::Unauthorized,
                        "invalid_token",
                        "This API token is not valid or has been revoked.",
                    )
                })?;
            let user = match &token.created_by {
                Some(id) => app::identity::accounts::find_user(&state.db, id).await?,
                None => None,
            };
            return Ok(Self::Token { token, user });
        }
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(AppError::internal)?;
        match app::orgs::access::session_actor(&state.db, &session).await? {
            Some(Actor::User(user)) => Ok(Self::Session(user)),
            Some(Actor::SetupLink(link)) => Ok(Self::SetupLink(link)),
            _ => Err(AppError::unauthorized().into()),
        }
    }
}

impl Caller {
    /// The actor the domain layer authorizes.
    pub fn into_actor(self) -> Actor {
        match self {
            Self::Session(user) => Actor::User(user),
            Self::Token { token, .. } => Actor::Token(token),
            Self::SetupLink(link) => Actor::SetupLink(link),
        }
    }
}
