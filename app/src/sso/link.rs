//! First SSO sign-in of an email that already has a password account: the
//! identity is linked only after the person proves they own that account by
//! entering its password (Keycloak's "first broker login" re-authentication),
//! and with its second factor when it has one. Until then nothing is
//! linked and no session opens, so whoever signed up with someone else's
//! address before their first SSO sign-in gains nothing. When that
//! account's address was never proven (planted through an invitation, or
//! a sign-up before the domain moved to SSO), the person the domain's IdP
//! vouches for may instead release the address from it and go on: a
//! planted account never blocks the real person.

use serde::{Deserialize, Serialize};

/// What the confirmation page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    pub email: String,
    pub org_name: String,
    /// The account's address was never proven: "not mine" is offered.
    pub releasable: bool,
    /// The account has a second factor: its code is asked for too.
    pub second_factor: bool,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::audit::ssr::{Event, Target, record};
    use crate::error::{AppError, ErrorKind};
    use crate::orgs::access::Actor;
    use crate::ssr::now;
    use crate::ssr::state::AppState;
    use serde::{Deserialize, Serialize};
    use std::net::IpAddr;
    use tower_sessions::Session;

    const SESSION_KEY: &str = "sso_pending_link";
    /// Time to type the password after the IdP answered.
    pub const TTL_SECS: i64 = 600;

    /// An SSO identity waiting to be linked to an existing account.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct PendingLink {
        pub user_id: String,
        pub email: String,
        pub org_id: String,
        pub org_name: String,
        pub login_id: String,
        pub issuer: String,
        pub subject: String,
        pub return_to: Option<String>,
        pub expires_at: i64,
        /// The account's address was never proven (see [`release`]).
        #[serde(default)]
        pub releasable: bool,
    }

    fn session_error(e: tower_sessions::session::Error) -> AppError {
        tracing::error!(error = %e, "session store failed");
        AppError::internal()
    }

    /// Keeps the link in this browser's session (the callback's).
    pub async fn store(session: &Session, link: &PendingLink) -> Result<(), AppError> {
        session
            .insert(SESSION_KEY, link)
            .await
            .map_err(session_error)
    }

    pub async fn pending(session: &Session) -> Result<Option<PendingLink>, AppError> {
        let link: Option<PendingLink> = session.get(SESSION_KEY).await.map_err(session_error)?;
        Ok(link.filter(|l| l.expires_at > now()))
    }

    /// "Not my account": the pending link's account, whose address was
    /// never proven, gives the address up (it keeps its data under a
    /// placeholder address nobody can sign in with, and its sessions end),
    /// audited; then the sign-in starts again, and the IdP's person gets an
    /// account of their own. Refused for an account whose address is proven.
    pub async fn release(
        state: &AppState,
        session: &Session,
        ip: Option<IpAddr>,
    ) -> Result<String, AppError> {
        let expired = || {
            AppError::new(
                ErrorKind::Conflict,
                "link_expired",
                "This account link has expired. Start the sign-in again.",
            )
        };
        let link = pending(session).await?.ok_or_else(expired)?;
        let mut tx = crate::ssr::db::begin_write(&state.db).await?;
        let row: Option<(String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT email, email_verified_at, password_hash FROM users WHERE id = $1",
        )
        .bind(&link.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        match row {
            Some((email, None, Some(_))) if email == link.email => {}
            Some((email, Some(_), _)) if email == link.email => {
                return Err(AppError::conflict(
                    "address_proven",
                    "That account proved it owns this address: only its password links it.",
                ));
            }
            _ => return Err(expired()),
        }
        let placeholder = format!("released-{}@released.invalid", link.user_id);
        sqlx::query("UPDATE users SET email = $2 WHERE id = $1")
            .bind(&link.user_id)
            .bind(&placeholder)
            .execute(&mut *tx)
            .await?;
        record(
            &mut *tx,
            Event {
                org_id: &link.org_id,
                actor: &Actor::System,
                action: "user.address_released",
                target: Some(Target {
                    kind: "user",
                    id: &link.user_id,
                    label: &link.email,
                }),
                details: serde_json::json!({
                    "email": link.email, "now": placeholder,
                    "reason": "never proven by the account; claimed through the organization's identity provider",
                    "issuer": link.issuer, "subject": link.subject,
                }),
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        crate::ssr::session_store::end_sessions_of_user(&state.db, &link.user_id).await?;
        let _ = session.remove::<PendingLink>(SESSION_KEY).await;
        Ok(restart(&link))
    }

    /// The organization's SSO start, which now finds the identity (or, after
    /// a release, makes the account).
    fn restart(link: &PendingLink) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("login_hint", &link.email);
        if let Some(r) = &link.return_to {
            query.append_pair("return_to", r);
        }
        format!("/sso/{}/start?{}", link.login_id, query.finish())
    }

    /// Checks the password (through the sign-in limits), links the identity,
    /// ends every session of the account and returns where to go next: the
    /// organization's SSO start, which now finds the identity.
    pub async fn confirm<F>(
        state: &AppState,
        session: &Session,
        password: &str,
        ip: Option<IpAddr>,
        second_factor: F,
    ) -> Result<String, AppError>
    where
        F: AsyncFnOnce(&crate::identity::CurrentUser) -> Result<(), AppError>,
    {
        let link = pending(session).await?.ok_or_else(|| {
            AppError::new(
                ErrorKind::Conflict,
                "link_expired",
                "This account link has expired. Start the sign-in again.",
            )
        })?;
        let user = crate::identity::password::authenticate(
            &state.db,
            &state.login_limiter,
            &link.email,
            password,
            ip,
        )
        .await
        .map_err(|mut e| {
            if e.code == "invalid_credentials" {
                e.message = "That is not this account's password.".into();
            }
            e.on("password")
        })?;
        if user.id != link.user_id {
            // The account behind the email changed since the IdP answered.
            return Err(AppError::new(
                ErrorKind::Conflict,
                "link_expired",
                "This account link is no longer valid. Start the sign-in again.",
            ));
        }
        // A password alone does not link an account that has a second
        // factor (the caller's check; the sign-in method owns it).
        second_factor(&user).await?;
        state.login_limiter.clear(&state.db, &user.email).await?;
        let mut tx = crate::ssr::db::begin_write(&state.db).await?;
        sqlx::query(
            "INSERT INTO sso_identities (issuer, subject, user_id, org_id, email, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&link.issuer)
        .bind(&link.subject)
        .bind(&link.user_id)
        .bind(&link.org_id)
        .bind(&link.email)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if crate::ssr::db::is_unique_violation(&e) {
                AppError::conflict(
                    "already_linked",
                    "This sign-in is already linked to an account.",
                )
            } else {
                e.into()
            }
        })?;
        let actor = Actor::User(user.clone());
        record(
            &mut *tx,
            Event {
                org_id: &link.org_id,
                actor: &actor,
                action: "sso.account_linked",
                target: Some(Target {
                    kind: "user",
                    id: &link.user_id,
                    label: &link.email,
                }),
                details: serde_json::json!({ "issuer": link.issuer, "subject": link.subject }),
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        // Whoever else holds a session of this account loses it.
        crate::ssr::session_store::end_sessions_of_user(&state.db, &link.user_id).await?;
        let _ = session.remove::<PendingLink>(SESSION_KEY).await;
        Ok(restart(&link))
    }
}
