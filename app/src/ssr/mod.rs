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

/// The values of the cookies named `name` that a request carries.
pub fn cookie_values<'a>(
    headers: &'a http::HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Seconds since the Unix epoch, UTC: how every timestamp is stored, so the
/// same queries run on SQLite and PostgreSQL.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Whether a credential's `last_used_at` is due to be written at `at`: at
/// most once a minute, so a burst of requests (an automation, a setup-link
/// session) writes once rather than on every request.
pub fn last_use_due(last_used_at: Option<i64>, at: i64) -> bool {
    last_used_at.is_none_or(|t| t <= at - 60)
}
