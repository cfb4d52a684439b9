//! The account's password: hashing, the rules for a new one, and the
//! limited check every method that asks for it goes through (password
//! sign-in, confirming an SSO link, enrolling a second factor).

use super::CurrentUser;
use super::accounts::{find_user, record_sign_in};
use super::limits::LoginLimiter;
use crate::email::normalize_email;
use crate::error::{AppError, ErrorKind};
use crate::ssr::db::Db;
use crate::ssr::random;
use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use std::net::IpAddr;
use std::sync::OnceLock;

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
    // An account without a password (made by SSO) answers like a wrong
    // password: telling it apart would tell an outsider that the address
    // has an SSO account. Email-first sign-in sends SSO domains to SSO.
    if !verify_password(password.to_owned(), stored).await {
        tracing::info!(ip = ?ip, "password sign-in refused");
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
