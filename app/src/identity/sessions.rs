//! Putting an authenticated identity into the session, and reading it back.

use super::accounts::find_user;
use super::{CurrentUser, SessionAuth};
use crate::error::AppError;
use crate::ssr::db::Db;
use crate::ssr::session_store::{AUTH_KEY, LOADED_USER_KEY};
use tower_sessions::{Expiry, Session};

/// A session store error as callers see it: 503 while the database is
/// down, else 500 (logged here).
pub(crate) fn session_error(err: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %err, "session store error");
    match err {
        // The store is the database: it is down, not broken.
        tower_sessions::session::Error::Store(tower_sessions::session_store::Error::Backend(_)) => {
            AppError::database_unavailable()
        }
        _ => AppError::internal(),
    }
}

/// Signs `auth.user_id` in: a fresh session id (against fixation), the
/// identity, and an absolute expiry.
pub async fn establish_session(
    session: &Session,
    auth: SessionAuth,
    lifetime_secs: i64,
) -> Result<(), AppError> {
    renew_id(session).await?;
    session
        .insert(AUTH_KEY, auth)
        .await
        .map_err(session_error)?;
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(lifetime_secs);
    session.set_expiry(Some(Expiry::AtDateTime(expires)));
    Ok(())
}

/// A fresh session id, against fixation. A browser without a session (no
/// cookie) gets a new id on save anyway: cycling would only delete a row
/// that cannot exist, one more database round trip per sign-in.
pub async fn renew_id(session: &Session) -> Result<(), AppError> {
    if session.id().is_some() {
        session.cycle_id().await.map_err(session_error)?;
    }
    Ok(())
}

/// How the session's user signed in, if anyone did. A store that cannot be
/// read is an error, never "signed out": during a database outage a
/// signed-in person must get 503, not a sign-in page.
pub async fn session_auth(session: &Session) -> Result<Option<SessionAuth>, AppError> {
    session
        .get::<SessionAuth>(AUTH_KEY)
        .await
        .map_err(session_error)
}

/// The signed-in user of `session`, if the session and the user still exist:
/// as read with the session by the store, else (a session opened in this
/// request, or for someone else than the browser was signed in as) from
/// the database.
pub async fn session_user(db: &Db, session: &Session) -> Result<Option<CurrentUser>, AppError> {
    let Some(auth) = session_auth(session).await? else {
        return Ok(None);
    };
    let loaded = session
        .get::<CurrentUser>(LOADED_USER_KEY)
        .await
        .map_err(session_error)?
        .filter(|u| u.id == auth.user_id);
    let user = match loaded {
        Some(user) => Some(user),
        None => find_user(db, &auth.user_id).await?,
    };
    Ok(user.map(|user| CurrentUser {
        mfa: auth.mfa,
        sso_org: (auth.method == "sso")
            .then(|| auth.org_id.clone())
            .flatten(),
        ..user
    }))
}

pub async fn end_session(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(session_error)
}

/// How a password sign-in is remembered (a second factor, when given, is
/// added to it by the MFA step).
pub fn password_session(user_id: &str) -> SessionAuth {
    SessionAuth {
        user_id: user_id.to_owned(),
        org_id: None,
        method: "password".into(),
        created_at: crate::ssr::now(),
        idp_sid: None,
        idp_sub: None,
        idp_id_token: None,
        mfa: false,
    }
}
