//! Server-only infrastructure shared by every feature: the database pool,
//! the application state, secrets at rest, the session store.

pub mod client_addr;
pub mod crypto;
pub mod db;
pub mod flash;
pub mod lease;
pub mod mail;
pub mod random;
pub mod request;
pub mod security_headers;
pub mod session_store;
pub mod state;

/// Seconds since the Unix epoch, UTC: how every timestamp is stored, so the
/// same queries run on SQLite and PostgreSQL.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
