//! Background work of a running server.

use app::ssr::db::Db;
use std::time::Duration;

/// Deletes expired sessions, unfinished SSO flows, SAML request and replay
/// records past their window, and stale sign-in failure counters every ten
/// minutes.
pub fn spawn_session_cleanup(db: Db, limiter: std::sync::Arc<app::identity::limits::LoginLimiter>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            match app::ssr::session_store::delete_expired(&db).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "expired sessions removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
            }
            if let Err(e) = limiter.prune(&db).await {
                tracing::warn!(error = %e, "could not prune sign-in failure counters");
            }
            if let Err(e) = app::sso::flow::delete_expired_states(&db).await {
                tracing::warn!(error = %e.message, "could not remove expired sign-in flows");
            }
            if let Err(e) = app::sso::logout::delete_expired_jtis(&db).await {
                tracing::warn!(error = %e, "could not remove old logout-token records");
            }
            if let Err(e) = app::saml::store::delete_expired(&db).await {
                tracing::warn!(error = %e, "could not remove old SAML request and replay records");
            }
        }
    });
}

/// Runs `job` once per `every` across all instances sharing the database:
/// each instance wakes at `every` ± 20 % and runs it only if it takes the
/// lease `name`, which lasts most of an interval (so the next wake-up
/// anywhere can take it over).
fn spawn_leased<F, Fut>(
    state: app::ssr::state::AppState,
    name: &'static str,
    every: Duration,
    job: F,
) where
    F: Fn(app::ssr::state::AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let holder = app::ssr::random::id("inst");
    let lease = i64::try_from(every.mul_f64(0.9).as_secs()).unwrap_or(i64::MAX);
    tokio::spawn(async move {
        loop {
            let jitter = rand::random::<f64>() * 0.4 + 0.8;
            tokio::time::sleep(every.mul_f64(jitter)).await;
            match app::ssr::lease::claim(&state.db, name, &holder, lease).await {
                Ok(true) => job(state.clone()).await,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, lease = name, "could not take a job lease"),
            }
        }
    });
}

/// Re-checks pending domains and expires overdue ones, once per `every`.
pub fn spawn_domain_recheck(state: app::ssr::state::AppState, every: Duration) {
    spawn_leased(state, "domain_recheck", every, |state| async move {
        match app::domains::ssr::recheck_pending(&state.db, &state.settings).await {
            Ok((0, 0)) => {}
            Ok((expired, verified)) => {
                tracing::info!(expired, verified, "pending domains re-checked")
            }
            Err(e) => tracing::warn!(error = %e, "could not re-check pending domains"),
        }
    });
}

/// Fetches SAML IdP metadata again once it is a day old (checked hourly).
pub fn spawn_saml_metadata_refresh(state: app::ssr::state::AppState) {
    spawn_leased(
        state,
        "saml_metadata_refresh",
        Duration::from_secs(3600),
        |state| async move {
            match app::saml::refresh::refresh_due(&state).await {
                Ok(r) if r == app::saml::refresh::Refreshed::default() => {}
                Ok(r) => tracing::info!(
                    updated = r.updated,
                    refused = r.refused,
                    failed = r.failed,
                    "SAML metadata refreshed"
                ),
                Err(e) => tracing::warn!(error = %e.message, "could not refresh SAML metadata"),
            }
        },
    );
}
