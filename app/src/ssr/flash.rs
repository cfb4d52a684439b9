//! One-time values a form post leaves for the page it returns to: a new API
//! token's secret, an invitation link. Console forms post natively and are
//! answered with a redirect, so the value waits in the server-side session,
//! sealed with the secret box (the session store is a database table), and
//! the next read of the page takes it.

use super::request::RequestCtx;
use crate::error::AppError;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn session_key(key: &str) -> String {
    format!("flash:{key}")
}

/// Leaves `value` for the next page render, when this call is a plain form
/// post (a script calling the server function gets the value in its answer).
pub async fn put<T: Serialize>(ctx: &RequestCtx, key: &str, value: &T) -> Result<(), AppError> {
    if !ctx.is_form_post() {
        return Ok(());
    }
    let json = serde_json::to_string(value).map_err(|_| AppError::internal())?;
    let sealed = ctx.state.keys.secrets().encrypt(&json, &session_key(key));
    ctx.session
        .insert(&session_key(key), sealed)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "session store failed");
            AppError::internal()
        })
}

/// Takes the value left under `key`, if any: it is shown once.
pub async fn take<T: DeserializeOwned>(ctx: &RequestCtx, key: &str) -> Option<T> {
    let sealed = ctx
        .session
        .remove::<String>(&session_key(key))
        .await
        .ok()
        .flatten()?;
    let json = ctx
        .state
        .keys
        .secrets()
        .decrypt(&sealed, &session_key(key))
        .ok()?;
    serde_json::from_str(&json).ok()
}
