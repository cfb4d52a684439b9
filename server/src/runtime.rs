//! The async runtime the server runs on.

use app::ssr::db::Backend;
use std::num::NonZero;

/// Builds the multi-threaded runtime. On SQLite every statement runs on
/// its connection's own thread (sqlx runs one per connection) and its
/// result wakes a runtime worker: with a worker per core, those wake-ups
/// keep parking and unparking a second, idle worker too. Half the cores
/// (one on a 2-core machine) measured about 13 % less CPU per SSO sign-in
/// one at a time, and no less throughput 16 at once (`bench/load.mjs`).
/// `TOKIO_WORKER_THREADS` still decides when it is set.
pub fn build(database_url: &str) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    let cores = std::thread::available_parallelism().map_or(1, NonZero::get);
    let set = std::env::var_os("TOKIO_WORKER_THREADS").is_some();
    if let Some(n) = worker_threads(Backend::of_url(database_url), cores, set) {
        builder.worker_threads(n);
    }
    builder.build()
}

/// The worker count to set, or `None` for tokio's own choice (a worker
/// per core, or `TOKIO_WORKER_THREADS`).
fn worker_threads(backend: Option<Backend>, cores: usize, env_set: bool) -> Option<usize> {
    (backend == Some(Backend::Sqlite) && !env_set).then(|| (cores / 2).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_takes_half_the_cores_unless_told_otherwise() {
        assert_eq!(worker_threads(Some(Backend::Sqlite), 1, false), Some(1));
        assert_eq!(worker_threads(Some(Backend::Sqlite), 2, false), Some(1));
        assert_eq!(worker_threads(Some(Backend::Sqlite), 8, false), Some(4));
        assert_eq!(worker_threads(Some(Backend::Sqlite), 8, true), None);
        assert_eq!(worker_threads(Some(Backend::Postgres), 8, false), None);
    }
}
