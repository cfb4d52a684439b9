//! Two-factor authentication (TOTP) for password sign-ins: enrolment with a
//! QR code and a manual key, recovery codes shown once, the sign-in step
//! after the password, and the organization's "require MFA" switch. SSO
//! sign-ins never ask for it: MFA belongs to the identity provider.

mod page;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod totp;

pub use page::{AccountSecurityPage, MfaSignInPage, RequireMfaSection};

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaSetup {
    /// The secret in base32, for typing into an app by hand.
    pub key: String,
    pub uri: String,
    pub qr_svg: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaStatus {
    pub enabled: bool,
    pub recovery_codes_left: i64,
    /// While enrolment waits for its first code.
    pub setup: Option<MfaSetup>,
    /// Right after confirmation, once.
    pub new_recovery_codes: Option<Vec<String>>,
}

/// Session entries of the sign-in step and of the one-time code display.
#[cfg(feature = "ssr")]
pub mod pending {
    use crate::error::AppError;
    use serde::{Deserialize, Serialize};
    use tower_sessions::Session;

    const PENDING_KEY: &str = "mfa_pending";
    pub const NEW_CODES_KEY: &str = "mfa_new_codes";
    /// Time to type the code after the password.
    pub const TTL_SECS: i64 = 300;
    /// Codes one password step may try.
    pub const MAX_ATTEMPTS: i64 = 5;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Pending {
        /// Names this password step's attempt counter, which is kept in the
        /// database: parallel guesses through one session share it.
        #[serde(default)]
        pub id: String,
        pub user_id: String,
        pub return_to: Option<String>,
        pub expires_at: i64,
    }

    fn session_error(e: tower_sessions::session::Error) -> AppError {
        tracing::error!(error = %e, "session store failed");
        AppError::internal()
    }

    pub async fn begin(
        session: &Session,
        user_id: &str,
        return_to: Option<&str>,
    ) -> Result<(), AppError> {
        let pending = Pending {
            id: crate::ssr::random::lower_alnum(20),
            user_id: user_id.to_owned(),
            return_to: return_to.map(str::to_owned),
            expires_at: crate::ssr::now() + TTL_SECS,
        };
        session
            .insert(PENDING_KEY, pending)
            .await
            .map_err(session_error)
    }

    /// The password-checked user waiting for a code, if still in time.
    pub async fn current(session: &Session) -> Option<Pending> {
        session
            .get::<Pending>(PENDING_KEY)
            .await
            .ok()
            .flatten()
            .filter(|p| p.expires_at > crate::ssr::now() && !p.id.is_empty())
    }

    /// Claims one of this password step's attempts; false once they are
    /// used up (counted in one statement, so parallel guesses cannot share
    /// a stale count).
    pub async fn claim_attempt(
        db: &crate::ssr::db::Db,
        pending: &Pending,
    ) -> Result<bool, AppError> {
        let key = format!("mfa_step:{}", pending.id);
        let (tries, _) = crate::identity::limits::count_in_window(db, &key, TTL_SECS).await?;
        Ok(tries <= MAX_ATTEMPTS)
    }

    pub async fn clear(session: &Session) -> Result<(), AppError> {
        session
            .remove::<Pending>(PENDING_KEY)
            .await
            .map(|_| ())
            .map_err(session_error)
    }
}

#[server(endpoint = "mfa_status")]
pub async fn get_mfa_status() -> Result<MfaStatus, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    let mut status = ssr::status(&ctx.state.db, &ctx.state.keys, &user).await?;
    status.new_recovery_codes = ctx
        .session
        .remove::<Vec<String>>(pending::NEW_CODES_KEY)
        .await
        .ok()
        .flatten();
    Ok(status)
}

/// Starts enrolment; the current password confirms it is the owner.
#[server(endpoint = "start_mfa")]
pub async fn start_mfa(password: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    let state = &ctx.state;
    ssr::start(
        &state.db,
        &state.keys,
        &state.login_limiter,
        &user,
        &password,
        ctx.ip,
    )
    .await
}

/// Marks the current session's sign-in as confirmed by a second factor (or
/// not, after the factor is removed).
#[cfg(feature = "ssr")]
async fn set_session_mfa(session: &tower_sessions::Session, mfa: bool) -> Result<(), AppError> {
    use crate::ssr::session_store::AUTH_KEY;
    if let Some(mut auth) = crate::identity::sessions::session_auth(session).await? {
        auth.mfa = mfa;
        session.insert(AUTH_KEY, auth).await.map_err(|e| {
            tracing::error!(error = %e, "session store failed");
            AppError::internal()
        })?;
    }
    Ok(())
}

#[server(endpoint = "confirm_mfa")]
pub async fn confirm_mfa(code: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    let codes = ssr::confirm(&ctx.state.db, &ctx.state.keys, &user, &code).await?;
    // Shown by the next status read, whether or not the page runs wasm.
    ctx.session
        .insert(pending::NEW_CODES_KEY, codes)
        .await
        .map_err(|_| AppError::internal())?;
    set_session_mfa(&ctx.session, true).await
}

/// New recovery codes (after a current code), shown once like the first.
#[server(endpoint = "regenerate_recovery_codes")]
pub async fn regenerate_recovery_codes(code: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    let codes =
        ssr::regenerate_recovery_codes(&ctx.state.db, &ctx.state.keys, &user, &code).await?;
    ctx.session
        .insert(pending::NEW_CODES_KEY, codes)
        .await
        .map_err(|_| AppError::internal())
}

#[server(endpoint = "disable_mfa")]
pub async fn disable_mfa(code: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    ssr::disable(&ctx.state.db, &ctx.state.keys, &user, &code).await?;
    set_session_mfa(&ctx.session, false).await
}

/// The sign-in step after the password: a TOTP or recovery code.
#[server(endpoint = "verify_mfa")]
pub async fn verify_mfa(code: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let expired = || {
        AppError::unprocessable(
            "mfa_expired",
            "This sign-in has expired or had too many wrong codes. Sign in again.",
        )
    };
    let Some(waiting) = pending::current(&ctx.session).await else {
        pending::clear(&ctx.session).await?;
        return Err(expired());
    };
    let db = &ctx.state.db;
    if !pending::claim_attempt(db, &waiting).await? {
        pending::clear(&ctx.session).await?;
        return Err(expired());
    }
    let limiter = &ctx.state.login_limiter;
    let email = crate::identity::accounts::find_user(db, &waiting.user_id)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
    // Wrong codes count as failed sign-ins of the account and the address.
    limiter.claim(db, ctx.ip, &email).await?;
    ssr::verify(db, &ctx.state.keys, &waiting.user_id, &code).await?;
    limiter.release(db, ctx.ip, &email).await?;
    limiter.clear(db, &email).await?;
    pending::clear(&ctx.session).await?;
    crate::identity::accounts::record_sign_in(db, &waiting.user_id).await?;
    let mut auth = crate::identity::sessions::password_session(&waiting.user_id);
    auth.mfa = true;
    let lifetime = ctx.state.settings.password_session_secs;
    crate::identity::sessions::establish_session(&ctx.session, auth, lifetime).await?;
    tracing::info!(user_id = %waiting.user_id, "signed in with password and second factor");
    ctx.redirect(&crate::return_to::landing_path(
        waiting.return_to.as_deref(),
    ));
    Ok(())
}

#[server(endpoint = "get_require_mfa")]
pub async fn get_require_mfa(org: String) -> Result<bool, AppError> {
    use crate::orgs::permissions::Permission;
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.authorize(&org, Permission::SsoRead).await?;
    ssr::org_requires_mfa(&ctx.state.db, &access.org_id).await
}

/// The console checkbox: present when ticked.
#[server(endpoint = "set_require_mfa")]
pub async fn set_require_mfa(org: String, required: Option<String>) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::set_required(&ctx.state.db, &access, required.is_some(), ctx.ip).await
}
