//! Proof that a person owns their account's email address: a one-time link
//! (emailed when SMTP is configured; otherwise an operator makes one and
//! passes it on), or the SSO sign-in that created the account. Recorded as
//! `users.email_verified_at`. An accepted invitation proves nothing: the
//! inviter can read its link.

use crate::error::AppError;
use crate::ssr::crypto::sha256_hex;
use crate::ssr::db::Db;
use crate::ssr::{now, random};

/// How long a verification link works.
const TTL_SECS: i64 = 3 * 24 * 3600;

/// The page a verification link opens.
pub fn verify_url(public_url: &str, token: &str) -> String {
    format!("{public_url}/verify-email/{token}")
}

/// Makes a link for `user_id`'s current address; returns the token (only
/// here in clear).
pub async fn issue(db: &Db, user_id: &str, email: &str) -> Result<String, AppError> {
    let token = random::alnum(40);
    let at = now();
    sqlx::query(
        "INSERT INTO email_verifications (token_hash, user_id, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(sha256_hex(&token))
    .bind(user_id)
    .bind(email)
    .bind(at)
    .bind(at + TTL_SECS)
    .execute(db)
    .await?;
    Ok(token)
}

/// Uses a link: the account whose address it was made for, if that is
/// still its address, is marked verified. A link works once.
pub async fn verify(db: &Db, token: &str) -> Result<(), AppError> {
    let not_valid = || {
        AppError::not_found("This verification link is not valid, was already used or has expired.")
    };
    let mut tx = crate::ssr::db::begin_write(db).await?;
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "DELETE FROM email_verifications WHERE token_hash = $1 RETURNING user_id, email, expires_at",
    )
    .bind(sha256_hex(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, email, expires_at)) = row else {
        return Err(not_valid());
    };
    if expires_at < now() {
        tx.commit().await?;
        return Err(not_valid());
    }
    let marked =
        sqlx::query("UPDATE users SET email_verified_at = $3 WHERE id = $1 AND email = $2")
            .bind(&user_id)
            .bind(&email)
            .bind(now())
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    if marked.rows_affected() == 0 {
        return Err(not_valid());
    }
    Ok(())
}
