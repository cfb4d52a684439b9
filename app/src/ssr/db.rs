//! One pooled database for the whole process: SQLite (embedded, default) or
//! PostgreSQL, behind sqlx's `Any` driver so every query is written once.
//!
//! Portability rules for queries and migrations: `$1`-style parameters,
//! `TEXT` and `BIGINT` columns only (timestamps are Unix seconds, flags are
//! 0/1), no autoincrement (ids are random strings).

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};
use std::time::Duration;

pub type Db = AnyPool;

/// How long a request waits for a connection before it answers 503.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// Begins a write transaction. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes
/// fails at once (SQLITE_BUSY) when another connection wrote in between,
/// whatever the busy timeout; with the lock taken first, writers wait their
/// turn on the busy timeout instead. PostgreSQL begins as usual.
pub async fn begin_write(db: &Db) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    if db.connect_options().database_url.scheme() == "sqlite" {
        db.begin_with("BEGIN IMMEDIATE").await
    } else {
        db.begin().await
    }
}

/// Opens the pool. SQLite files are created when missing and switched to WAL
/// so readers never wait for the writer.
pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
    install_default_drivers();
    let backend = Backend::of_url(url)
        .ok_or_else(|| sqlx::Error::Configuration("unsupported database URL scheme".into()))?;
    let url = match backend {
        Backend::Sqlite if !url.contains("mode=") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        }
        _ => url.to_owned(),
    };
    AnyPoolOptions::new()
        .max_connections(max_connections)
        // With the database down, a request fails within seconds (503)
        // rather than holding its client; the pool reconnects by itself
        // once the database is back.
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // No ping before every checkout: on SQLite each one is a round trip
        // to the connection's worker thread, and thread wake-ups are most
        // of a sign-in's CPU. sqlx still pings a connection when it comes
        // back to the pool and closes it if it died.
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await
}

pub async fn migrate(db: &Db) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(db).await
}

/// Answers whether the database responds within two seconds; used by
/// health, readiness and the outage guard.
pub async fn ping(db: &Db) -> bool {
    tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(db))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// Whether migrations this binary knows are missing from the database (an
/// instance of a newer release must not take traffic before they are in).
pub async fn migrations_pending(db: &Db) -> Result<bool, sqlx::Error> {
    let applied: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(db)
            .await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .any(|m| !applied.iter().any(|(v,)| *v == m.version)))
}

/// True when `err` is a unique-constraint violation (on either backend), so
/// callers can turn races into a clear "already exists".
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db.code().as_deref() == Some("23505")
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}
