//! The request a server function is handling.
//!
//! Leptos context is only reliable before a server function's first
//! `.await` (a resource loading during SSR may be polled outside its owner
//! later on), so [`RequestCtx::current`] captures everything up front,
//! synchronously, and the function works from that value afterwards.

use super::state::AppState;
use crate::error::AppError;
use crate::identity::CurrentUser;
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use std::net::IpAddr;
use tower_sessions::Session;

/// The header the server-function client reads to follow a redirect.
const REDIRECT_HEADER: &str = "serverfnredirect";

/// The client's address as the server resolved it (the peer, or the
/// forwarded address behind a trusted proxy); none for requests that did not
/// come over a socket (tests driving the router in-process).
pub fn client_ip(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<super::client_addr::ClientAddr>()
        .map(|c| c.0)
}

#[derive(Clone)]
pub struct RequestCtx {
    pub state: AppState,
    pub session: Session,
    pub ip: Option<IpAddr>,
    accepts_html: bool,
    response: Option<ResponseOptions>,
    /// One-time values this page render has taken (see `flash`).
    pub(super) flash_taken: Option<super::flash::Taken>,
}

impl RequestCtx {
    /// Call first thing in a server function, before any `.await`.
    pub fn current() -> Result<Self, AppError> {
        let state = AppState::from_context()?;
        let parts = use_context::<Parts>().ok_or_else(|| {
            tracing::error!("request parts missing from the Leptos context");
            AppError::internal()
        })?;
        let session = parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            tracing::error!("no session layer on this request");
            AppError::internal()
        })?;
        let accepts_html = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        Ok(Self {
            state,
            session,
            ip: client_ip(&parts.extensions),
            accepts_html,
            response: use_context::<ResponseOptions>(),
            flash_taken: use_context::<super::flash::Taken>(),
        })
    }

    /// Whether this call is a browser's plain form post (answered with a
    /// redirect back to the page) rather than a script's request.
    pub fn is_form_post(&self) -> bool {
        self.accepts_html
    }

    /// The signed-in user, or 401.
    pub async fn require_user(&self) -> Result<CurrentUser, AppError> {
        crate::identity::sessions::session_user(&self.state.db, &self.session)
            .await?
            .ok_or_else(AppError::unauthorized)
    }

    /// Sends the browser to `path` after this call: a real 302 for plain
    /// form posts, the server-function redirect header for the wasm client.
    pub fn redirect(&self, path: &str) {
        let (Some(res), Ok(location)) = (&self.response, HeaderValue::from_str(path)) else {
            tracing::warn!("redirect without response options or with an invalid path");
            return;
        };
        res.insert_header(header::LOCATION, location);
        if self.accepts_html {
            res.set_status(StatusCode::FOUND);
        } else {
            res.insert_header(
                http::HeaderName::from_static(REDIRECT_HEADER),
                HeaderValue::from_static(""),
            );
        }
    }
}

impl RequestCtx {
    /// Adds a `Set-Cookie` header to this call's response.
    pub fn set_cookie(&self, value: &str) {
        if let (Some(res), Ok(v)) = (&self.response, HeaderValue::from_str(value)) {
            res.append_header(header::SET_COOKIE, v);
        }
    }

    /// Who acts: the signed-in user, or else the holder of a setup link
    /// (whose link was revoked or expired: 401 saying so); 401 for nobody.
    pub async fn actor(&self) -> Result<crate::orgs::access::Actor, AppError> {
        crate::orgs::access::session_actor(&self.state.db, &self.session)
            .await?
            .ok_or_else(AppError::unauthorized)
    }

    /// The caller's access to `org` (id or slug), without a permission check.
    pub async fn access(&self, org: &str) -> Result<crate::orgs::access::Access, AppError> {
        crate::orgs::access::resolve(&self.state.db, self.actor().await?, org).await
    }

    /// The caller's access to `org`, which must include `needed`.
    pub async fn authorize(
        &self,
        org: &str,
        needed: crate::orgs::permissions::Permission,
    ) -> Result<crate::orgs::access::Access, AppError> {
        crate::orgs::access::authorize(&self.state.db, self.actor().await?, org, needed).await
    }
}
