//! The failed-attempt limiter, shared by every method that checks a secret.

use crate::error::{AppError, ErrorKind};
use crate::ssr::db::Db;
use crate::ssr::now;
use std::net::IpAddr;
use std::time::Duration;

/// Counts failed password sign-ins per email and per client IP in a fixed
/// window, in the shared database, so every instance behind a load balancer
/// enforces the same limit.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    window_secs: i64,
    max_per_email: i64,
    max_per_ip: i64,
}

impl LoginLimiter {
    pub fn new(window: Duration, max_per_email: u32, max_per_ip: u32) -> Self {
        Self {
            window_secs: i64::try_from(window.as_secs()).unwrap_or(i64::MAX),
            max_per_email: i64::from(max_per_email),
            max_per_ip: i64::from(max_per_ip),
        }
    }

    fn email_key(email: &str) -> String {
        format!("email:{}", email.to_lowercase())
    }

    fn keys(ip: Option<IpAddr>, email: &str) -> Vec<(String, i64)> {
        let mut keys = Vec::with_capacity(2);
        keys.push((Self::email_key(email), 0));
        if let Some(ip) = ip {
            keys.push((format!("ip:{ip}"), 1));
        }
        keys
    }

    /// Claims one attempt for `email` and the client's address before the
    /// secret is checked: each counter goes up first, in one statement, and
    /// the attempt is refused once it passes the limit, so a burst of
    /// parallel guesses cannot slip under it. A right answer gives the
    /// attempt back with [`LoginLimiter::release`].
    pub async fn claim(&self, db: &Db, ip: Option<IpAddr>, email: &str) -> Result<(), AppError> {
        for (key, kind) in Self::keys(ip, email) {
            let limit = if kind == 0 {
                self.max_per_email
            } else {
                self.max_per_ip
            };
            let (attempts, started) = count_in_window(db, &key, self.window_secs).await?;
            if attempts > limit {
                let wait = (started + self.window_secs - now()).max(0) / 60 + 1;
                return Err(AppError::new(
                    ErrorKind::TooManyRequests,
                    "too_many_attempts",
                    format!("Too many failed sign-in attempts. Try again in {wait} minutes."),
                ));
            }
        }
        Ok(())
    }

    /// Gives back an attempt [`LoginLimiter::claim`] took, after a right
    /// answer: only failures count against the limits.
    pub async fn release(&self, db: &Db, ip: Option<IpAddr>, email: &str) -> Result<(), AppError> {
        for (key, _) in Self::keys(ip, email) {
            sqlx::query(
                "UPDATE login_failures SET failures = failures - 1 WHERE key = $1 AND failures > 0",
            )
            .bind(&key)
            .execute(db)
            .await?;
        }
        Ok(())
    }

    pub async fn clear(&self, db: &Db, email: &str) -> Result<(), AppError> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(Self::email_key(email))
            .execute(db)
            .await?;
        Ok(())
    }

    /// Drops counters whose window has passed (run by the cleanup job).
    pub async fn prune(&self, db: &Db) -> Result<u64, AppError> {
        Ok(
            sqlx::query("DELETE FROM login_failures WHERE window_start <= $1")
                .bind(now() - self.window_secs)
                .execute(db)
                .await?
                .rows_affected(),
        )
    }
}

/// The client's network as the limits count it: an IPv4 address, or the
/// /64 an IPv6 address belongs to (one host is routinely given a whole /64,
/// so counting single IPv6 addresses would limit nothing).
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// `key`'s count in its current window, without adding to it.
pub async fn current_count<'e, E>(db: E, key: &str, window_secs: i64) -> Result<i64, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let count: Option<i64> = sqlx::query_scalar(
        "SELECT failures FROM login_failures WHERE key = $1 AND window_start > $2",
    )
    .bind(key)
    .bind(now() - window_secs)
    .fetch_optional(db)
    .await?;
    Ok(count.unwrap_or(0))
}

/// Adds one to `key`'s count in a fixed window of `window_secs` (a new
/// window once the old one has passed) and returns the count and the
/// window's start. One statement, so concurrent callers on every instance
/// each get their own number.
pub async fn count_in_window<'e, E>(
    db: E,
    key: &str,
    window_secs: i64,
) -> Result<(i64, i64), AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let at = now();
    Ok(sqlx::query_as(
        "INSERT INTO login_failures (key, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN login_failures.window_start <= $3 THEN 1 ELSE login_failures.failures + 1 END, \
         window_start = CASE WHEN login_failures.window_start <= $3 THEN $2 ELSE login_failures.window_start END \
         RETURNING failures, window_start",
    )
    .bind(key)
    .bind(at)
    .bind(at - window_secs)
    .fetch_one(db)
    .await?)
}

impl Default for LoginLimiter {
    /// 10 failures per email and 50 per IP in 15 minutes.
    fn default() -> Self {
        Self::new(Duration::from_secs(15 * 60), 10, 50)
    }
}
