//! Background work of a running server.

use app::ssr::db::Db;
use std::time::Duration;

/// Deletes expired sessions every ten minutes.
pub fn spawn_session_cleanup(db: Db) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            match app::ssr::session_store::delete_expired(&db).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "expired sessions removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
            }
        }
    });
}
