//! One-time values a form post leaves for the page it returns to: a new API
//! token's secret, an invitation link. Console forms post natively and are
//! answered with a redirect, so the value waits in the server-side session,
//! sealed with the secret box (the session store is a database table), and
//! the next read of the page takes it.

use super::request::RequestCtx;
use crate::error::AppError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;

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

/// What this page render has taken already. A render may run a resource's
/// fetcher more than once (its source settles after the first run); every
/// run must see the value, not only the first, or the page would show
/// nothing at random. The lock is held across the session read so that
/// concurrent runs take it once.
#[derive(Clone, Default)]
pub struct Taken(Arc<tokio::sync::Mutex<HashMap<String, Option<String>>>>);

/// Gives this render its own record of taken values; call it from the
/// render context of every page request. Server functions capture it in
/// `RequestCtx::current`, as context is gone after their first `.await`.
pub fn provide_taken() {
    leptos::prelude::provide_context(Taken::default());
}

impl Taken {
    /// The value under `key`: removed from its store by `remove` on the
    /// first call, the same value on every later call of this render.
    async fn once<F>(&self, key: &str, remove: F) -> Option<String>
    where
        F: std::future::Future<Output = Option<String>>,
    {
        let mut map = self.0.lock().await;
        if let Some(v) = map.get(key) {
            return v.clone();
        }
        let v = remove.await;
        map.insert(key.to_owned(), v.clone());
        v
    }
}

/// Takes the value left under `key`, if any: it is shown once (by every
/// part of the render that asks for it).
pub async fn take<T: DeserializeOwned>(ctx: &RequestCtx, key: &str) -> Option<T> {
    let key_in_session = session_key(key);
    let remove = async {
        ctx.session
            .remove::<String>(&key_in_session)
            .await
            .ok()
            .flatten()
    };
    let sealed = match &ctx.flash_taken {
        Some(taken) => taken.once(&key_in_session, remove).await,
        None => remove.await,
    }?;
    let json = ctx
        .state
        .keys
        .secrets()
        .decrypt(&sealed, &session_key(key))
        .ok()?;
    serde_json::from_str(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::Taken;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn every_run_of_one_render_sees_the_value_taken_once() {
        let taken = Taken::default();
        let removals = AtomicUsize::new(0);
        let remove = || async {
            // Only the first removal finds the value, as in the session.
            (removals.fetch_add(1, Ordering::SeqCst) == 0).then(|| "sealed".to_owned())
        };
        let (a, b) = tokio::join!(taken.once("k", remove()), taken.once("k", remove()));
        let c = taken.once("k", remove()).await;
        assert_eq!(
            (a.as_deref(), b.as_deref(), c.as_deref()),
            (Some("sealed"), Some("sealed"), Some("sealed"))
        );
        assert_eq!(removals.load(Ordering::SeqCst), 1);
        // Another key is its own removal, and a render that found nothing
        // keeps finding nothing.
        assert_eq!(taken.once("other", async { None }).await, None);
        assert_eq!(
            taken.once("other", async { Some("late".to_owned()) }).await,
            None
        );
    }
}
