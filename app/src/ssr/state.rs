//! What every request handler and server function can reach.

use super::crypto::Keys;
use super::db::Db;
use crate::identity::limits::LoginLimiter;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Runtime settings the application layer needs (the binary's `Config`
/// holds the rest).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base of every URL shown to admins and IdPs, without trailing slash.
    pub public_url: String,
    /// Whether cookies carry `Secure` (public URL is https).
    pub secure_cookies: bool,
    /// Lifetime of a password session, in seconds.
    pub password_session_secs: i64,
    /// DNS servers and timeout for domain verification.
    pub dns: crate::domains::dns::DnsSettings,
    /// How long a pending domain is checked before it expires, in seconds.
    pub domain_pending_secs: i64,
    /// `LATCHKEY_ALLOW_PRIVATE_IDP`: IdPs on private addresses and plain http.
    pub allow_private_idp: bool,
    /// `LATCHKEY_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<super::client_addr::Cidr>,
}

/// Cheap to clone: every middleware layer and handler of every request
/// takes its own copy, and copying the fields themselves (the Leptos
/// options alone hold a dozen reference-counted strings) showed in the
/// sign-in profile.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Clone)]
pub struct Shared {
    pub db: Db,
    pub keys: Keys,
    pub settings: Arc<Settings>,
    pub leptos_options: LeptosOptions,
    pub login_limiter: Arc<LoginLimiter>,
    /// Set when `LATCHKEY_SMTP_URL` is configured.
    pub mailer: Option<super::mail::Mailer>,
    /// Discovery documents and key sets of identity providers, per issuer.
    pub sso_providers: Arc<crate::sso::provider::ProviderCache>,
    /// Set once a shutdown has begun: health and readiness say `draining`
    /// so a load balancer sends no new work.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// The state provided to server functions through Leptos context.
    pub fn from_context() -> Result<Self, crate::error::AppError> {
        leptos::prelude::use_context::<Self>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            crate::error::AppError::internal()
        })
    }
}
