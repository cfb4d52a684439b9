//! Accounts and sessions: password hashing, user queries, the failed-login
//! limiter, and putting an identity into the session.

use super::{CurrentUser, SessionAuth};
use crate::email::normalize_email;
use crate::error::{AppError, ErrorKind};
use crate::ssr::db::{Db, is_unique_violation};
use crate::ssr::session_store::AUTH_KEY;
use crate::ssr::{now, random};
use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;
use tower_sessions::{Expiry, Session};

pub const MIN_PASSWORD_LEN: usize = 10;
/// Bounds the work one request can ask of the hasher.
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn wrong_credentials() -> AppError {
    AppError::new(
        ErrorKind::Unauthorized,
        "invalid_credentials",
        "Email or password is wrong.",
    )
}

// ---- passwords ----------------------------------------------------------

/// Hashes with argon2id on a blocking thread (it takes tens of milliseconds
/// of CPU by design).
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| AppError::internal())?
    .map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        AppError::internal()
    })
}

/// Verifies on a blocking thread. With no stored hash (unknown user, or an
/// account without a password) it still runs one verification against a
/// fixed dummy hash, so the answer takes the same time either way.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let phc = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = PasswordHash::new(&phc)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        real && ok
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(random::alnum(32).as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

pub fn check_new_password(password: &str, email: &str) -> Result<(), AppError> {
    let refuse = |msg: &str| AppError::unprocessable("weak_password", msg).on("password");
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(refuse("Use at least 10 characters for your password."));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(refuse("That password is too long (1024 bytes at most)."));
    }
    if password.eq_ignore_ascii_case(email) {
        return Err(refuse("Your password must not be your email address."));
    }
    Ok(())
}

// ---- users --------------------------------------------------------------

type UserRow = (String, String, String, i64);

fn to_user((id, email, name, is_operator): UserRow) -> CurrentUser {
    CurrentUser {
        id,
        email,
        name,
        is_operator: is_operator != 0,
        mfa: false,
        sso_org: None,
    }
}

pub async fn find_user(db: &Db, user_id: &str) -> Result<Option<CurrentUser>, AppError> {
    let row: Option<UserRow> =
        sqlx::query_as("SELECT id, email, name, is_operator FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(to_user))
}

pub async fn find_user_by_email(db: &Db, email: &str) -> Result<Option<CurrentUser>, AppError> {
    let row: Option<UserRow> =
        sqlx::query_as("SELECT id, email, name, is_operator FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(db)
            .await?;
    Ok(row.map(to_user))
}

/// The account's name when given, else the part of the email before the @.
fn display_name(name: &str, email: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.chars().count() > 100 {
        return Err(
            AppError::unprocessable("invalid_name", "Keep the name under 100 characters.")
                .on("name"),
        );
    }
    Ok(if name.is_empty() {
        email.split('@').next().unwrap_or(email).to_owned()
    } else {
        name.to_owned()
    })
}

pub struct NewAccount<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a str,
}

/// Creates a password account. The email must be free.
pub async fn create_account(db: &Db, input: NewAccount<'_>) -> Result<CurrentUser, AppError> {
    let email = normalize_email(input.email)?;
    let name = display_name(input.name, &email)?;
    check_new_password(input.password, &email)?;
    let hash = hash_password(input.password.to_owned()).await?;
    let id = random::id("usr");
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, is_operator, created_at) \
         VALUES ($1, $2, $3, $4, 0, $5)",
    )
    .bind(&id)
    .bind(&email)
    .bind(&name)
    .bind(&hash)
    .bind(now())
    .execute(db)
    .await;
    match inserted {
        Ok(_) => Ok(CurrentUser {
            id,
            email,
            name,
            is_operator: false,
            mfa: false,
            sso_org: None,
        }),
        Err(e) if is_unique_violation(&e) => Err(AppError::conflict(
            "email_taken",
            "An account with this email already exists. Sign in instead.",
        )
        .on("email")),
        Err(e) => Err(e.into()),
    }
}

/// Checks email and password, applying the failed-attempt limits. Every
/// failure reads the same, whether the email exists or not.
pub async fn authenticate(
    db: &Db,
    limiter: &LoginLimiter,
    email: &str,
    password: &str,
    ip: Option<IpAddr>,
) -> Result<CurrentUser, AppError> {
    // A malformed email cannot match an account; answer as for a wrong one.
    let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_owned());
    limiter.claim(db, ip, &email).await?;
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(wrong_credentials());
    }
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(db)
            .await?;
    let (user_id, stored) = match row {
        Some((id, hash)) => (Some(id), hash),
        None => (None, None),
    };
    let passwordless = stored.is_none();
    if !verify_password(password.to_owned(), stored).await {
        tracing::info!(ip = ?ip, "password sign-in refused");
        // Accounts made by SSO have no password: point them to SSO.
        if passwordless && let Some(id) = &user_id {
            let identities: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM sso_identities WHERE user_id = $1")
                    .bind(id)
                    .fetch_one(db)
                    .await?;
            if identities > 0 {
                return Err(AppError::new(
                    ErrorKind::Unauthorized,
                    "sso_account",
                    "This account signs in through single sign-on: use your organization's login page.",
                ));
            }
        }
        return Err(wrong_credentials());
    }
    // A right password is not a failure. The caller forgives earlier ones
    // (`LoginLimiter::clear`) once the sign-in is complete, which with a
    // second factor is after the code.
    limiter.release(db, ip, &email).await?;
    let user_id = user_id.ok_or_else(wrong_credentials)?;
    record_sign_in(db, &user_id).await?;
    find_user(db, &user_id).await?.ok_or_else(wrong_credentials)
}

/// Stamps the user's last sign-in time (shown on the members page).
pub async fn record_sign_in(db: &Db, user_id: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
        .bind(user_id)
        .bind(now())
        .execute(db)
        .await?;
    Ok(())
}

/// Creates the user if missing (password set only on creation) and returns it.
pub async fn ensure_account(db: &Db, input: NewAccount<'_>) -> Result<CurrentUser, AppError> {
    let email = normalize_email(input.email)?;
    if let Some(user) = find_user_by_email(db, &email).await? {
        return Ok(user);
    }
    create_account(db, input).await
}

/// Flags a user as platform operator. Returns false when no such user.
pub async fn grant_operator(db: &Db, email: &str) -> Result<bool, AppError> {
    let email = normalize_email(email)?;
    let done = sqlx::query("UPDATE users SET is_operator = 1 WHERE email = $1")
        .bind(&email)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---- sessions -----------------------------------------------------------

fn session_error(err: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %err, "session store error");
    AppError::internal()
}

/// Signs `auth.user_id` in: a fresh session id (against fixation), the
/// identity, and an absolute expiry.
pub async fn establish_session(
    session: &Session,
    auth: SessionAuth,
    lifetime_secs: i64,
) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(AUTH_KEY, auth)
        .await
        .map_err(session_error)?;
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(lifetime_secs);
    session.set_expiry(Some(Expiry::AtDateTime(expires)));
    Ok(())
}

pub async fn session_auth(session: &Session) -> Option<SessionAuth> {
    session.get::<SessionAuth>(AUTH_KEY).await.ok().flatten()
}

/// The signed-in user of `session`, if the session and the user still exist.
pub async fn session_user(db: &Db, session: &Session) -> Result<Option<CurrentUser>, AppError> {
    match session_auth(session).await {
        Some(auth) => Ok(find_user(db, &auth.user_id).await?.map(|user| CurrentUser {
            mfa: auth.mfa,
            sso_org: (auth.method == "sso")
                .then(|| auth.org_id.clone())
                .flatten(),
            ..user
        })),
        None => Ok(None),
    }
}

pub async fn end_session(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(session_error)
}

// ---- failed-attempt limiter ----------------------------------------------

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

/// Adds one to `key`'s count in a fixed window of `window_secs` (a new
/// window once the old one has passed) and returns the count and the
/// window's start. One statement, so concurrent callers on every instance
/// each get their own number.
pub async fn count_in_window(db: &Db, key: &str, window_secs: i64) -> Result<(i64, i64), AppError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        assert!(check_new_password("short", "a@x.io").is_err());
        assert!(check_new_password("a@x.io.a@x.io", "a@x.io.a@x.io").is_err());
        assert!(check_new_password(&"x".repeat(2000), "a@x.io").is_err());
        assert!(check_new_password("correct horse battery", "a@x.io").is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let hash = hash_password("correct horse battery".into())
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery".into(), Some(hash)).await);
        assert!(!verify_password("anything".into(), None).await);
    }
}
