//! Second factor storage and checks: enrolment, TOTP and recovery-code
//! verification (each code works once), and the per-organization
//! requirement. Nothing here knows about HTTP.

use super::totp;
use super::{MfaSetup, MfaStatus};
use crate::error::AppError;
use crate::identity::CurrentUser;
use crate::orgs::access::Access;
use crate::orgs::permissions::Permission;
use crate::ssr::crypto::{Keys, sha256_hex};
use crate::ssr::db::Db;
use crate::ssr::{now, random};
use std::net::IpAddr;

const RECOVERY_CODES: usize = 10;

fn context(user_id: &str) -> String {
    format!("totp_secret:{user_id}")
}

fn invalid_code() -> AppError {
    AppError::unprocessable(
        "invalid_code",
        "That code is not valid. Enter the current six-digit code from your authenticator app, or an unused recovery code.",
    )
    .on("code")
}

/// Recovery codes are compared without dashes, spaces or case.
fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

type MfaRow = (String, Option<i64>, Option<i64>);

async fn row(db: &Db, user_id: &str) -> Result<Option<MfaRow>, AppError> {
    Ok(sqlx::query_as(
        "SELECT secret_enc, confirmed_at, last_step FROM user_mfa WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await?)
}

fn open_secret(keys: &Keys, user_id: &str, sealed: &str) -> Result<Vec<u8>, AppError> {
    let b32 = keys
        .secrets()
        .decrypt(sealed, &context(user_id))
        .map_err(|_| {
            tracing::error!("a TOTP secret could not be decrypted");
            AppError::internal()
        })?;
    data_encoding::BASE32_NOPAD
        .decode(b32.as_bytes())
        .map_err(|_| AppError::internal())
}

/// Whether `user_id` has a confirmed second factor.
pub async fn is_enrolled(db: &Db, user_id: &str) -> Result<bool, AppError> {
    Ok(matches!(row(db, user_id).await?, Some((_, Some(_), _))))
}

pub async fn status(db: &Db, keys: &Keys, user: &CurrentUser) -> Result<MfaStatus, AppError> {
    let (remaining,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(&user.id)
    .fetch_one(db)
    .await?;
    Ok(match row(db, &user.id).await? {
        Some((_, Some(_), _)) => MfaStatus {
            enabled: true,
            recovery_codes_left: remaining,
            setup: None,
            new_recovery_codes: None,
        },
        Some((sealed, None, _)) => {
            let secret = open_secret(keys, &user.id, &sealed)?;
            let uri = totp::otpauth_uri(&secret, &user.email);
            MfaStatus {
                enabled: false,
                recovery_codes_left: 0,
                setup: Some(MfaSetup {
                    key: totp::base32(&secret),
                    qr_svg: totp::qr_svg(&uri).unwrap_or_default(),
                    uri,
                }),
                new_recovery_codes: None,
            }
        }
        None => MfaStatus {
            enabled: false,
            recovery_codes_left: 0,
            setup: None,
            new_recovery_codes: None,
        },
    })
}

/// Starts (or restarts) enrolment with a fresh secret. Needs the current
/// password, so a stolen session cannot bind the account to an attacker's
/// device; refused while a confirmed factor exists (disable it first) and
/// for accounts without a password (they sign in through SSO only).
pub async fn start(
    db: &Db,
    keys: &Keys,
    limiter: &crate::identity::limits::LoginLimiter,
    user: &CurrentUser,
    password: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<(), AppError> {
    let (stored,): (Option<String>,) =
        sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
            .bind(&user.id)
            .fetch_one(db)
            .await?;
    if stored.is_none() {
        return Err(AppError::conflict(
            "sso_account",
            "This account signs in through single sign-on only; your identity provider handles two-factor authentication.",
        ));
    }
    // The same limits as the password form: a stolen session must not turn
    // this into an unlimited password-guessing oracle.
    limiter.claim(db, ip, &user.email).await?;
    if !crate::identity::password::verify_password(password.to_owned(), stored).await {
        return Err(AppError::unprocessable(
            "wrong_password",
            "That is not your current password.",
        )
        .on("password"));
    }
    limiter.release(db, ip, &user.email).await?;
    if is_enrolled(db, &user.id).await? {
        return Err(AppError::conflict(
            "mfa_enabled",
            "Two-factor authentication is already on. Turn it off first to enrol a new device.",
        ));
    }
    let secret = random::bytes::<{ totp::SECRET_LEN }>();
    let sealed = keys
        .secrets()
        .encrypt(&totp::base32(&secret), &context(&user.id));
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query("DELETE FROM user_mfa WHERE user_id = $1")
        .bind(&user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO user_mfa (user_id, secret_enc, created_at) VALUES ($1, $2, $3)")
        .bind(&user.id)
        .bind(sealed)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Accepts `code` as a TOTP code (each time step once) and records its
/// step; `confirmed` selects an enrolled factor or one being set up.
async fn accept_totp(
    db: &Db,
    keys: &Keys,
    user_id: &str,
    code: &str,
    confirmed: bool,
) -> Result<bool, AppError> {
    let Some((sealed, confirmed_at, last_step)) = row(db, user_id).await? else {
        return Ok(false);
    };
    if confirmed_at.is_some() != confirmed {
        return Ok(false);
    }
    let secret = open_secret(keys, user_id, &sealed)?;
    let Some(step) = totp::verify(&secret, code, now(), last_step) else {
        return Ok(false);
    };
    // Guarded by the old value, so two requests racing with one code cannot
    // both succeed.
    let done = sqlx::query(
        "UPDATE user_mfa SET last_step = $2 WHERE user_id = $1 \
         AND (last_step IS NULL OR last_step < $2)",
    )
    .bind(user_id)
    .bind(step)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn accept_recovery(db: &Db, user_id: &str, code: &str) -> Result<bool, AppError> {
    let code = normalize_recovery(code);
    if code.len() < 10 {
        return Ok(false);
    }
    let done = sqlx::query(
        "UPDATE mfa_recovery_codes SET used_at = $3 \
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(sha256_hex(&code))
    .bind(now())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Confirms enrolment with a first code; returns the recovery codes, to be
/// shown once.
pub async fn confirm(
    db: &Db,
    keys: &Keys,
    user: &CurrentUser,
    code: &str,
) -> Result<Vec<String>, AppError> {
    if !accept_totp(db, keys, &user.id, code, false).await? {
        return Err(if row(db, &user.id).await?.is_none() {
            AppError::conflict("mfa_not_started", "Start the set-up first.")
        } else {
            invalid_code()
        });
    }
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query("UPDATE user_mfa SET confirmed_at = $2 WHERE user_id = $1")
        .bind(&user.id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    let codes = issue_recovery_codes(&mut tx, &user.id).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Replaces every recovery code (used or not) with ten new ones, returned
/// for showing once.
async fn issue_recovery_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
) -> Result<Vec<String>, AppError> {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let raw = random::lower_alnum(10);
            format!("{}-{}", &raw[..5], &raw[5..])
        })
        .collect();
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    for code in &codes {
        sqlx::query("INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(sha256_hex(&normalize_recovery(code)))
            .execute(&mut **tx)
            .await?;
    }
    Ok(codes)
}

/// New recovery codes for an enrolled account, after a current code (TOTP
/// or an unused recovery code); the old ones stop working.
pub async fn regenerate_recovery_codes(
    db: &Db,
    keys: &Keys,
    user: &CurrentUser,
    code: &str,
) -> Result<Vec<String>, AppError> {
    verify_enrolled(db, keys, user, code).await?;
    let mut tx = crate::ssr::db::begin_write(db).await?;
    let codes = issue_recovery_codes(&mut tx, &user.id).await?;
    tx.commit().await?;
    Ok(codes)
}

/// For changes to an enrolled factor: it must exist, and `code` must be
/// valid, so a stolen session alone cannot change it.
async fn verify_enrolled(
    db: &Db,
    keys: &Keys,
    user: &CurrentUser,
    code: &str,
) -> Result<(), AppError> {
    if !is_enrolled(db, &user.id).await? {
        return Err(AppError::conflict(
            "mfa_not_enabled",
            "Two-factor authentication is not on.",
        ));
    }
    verify(db, keys, &user.id, code).await
}

/// Checks a sign-in's second factor: a TOTP code or an unused recovery code.
pub async fn verify(db: &Db, keys: &Keys, user_id: &str, code: &str) -> Result<(), AppError> {
    if accept_totp(db, keys, user_id, code, true).await?
        || accept_recovery(db, user_id, code).await?
    {
        Ok(())
    } else {
        Err(invalid_code())
    }
}

/// Turns the factor off; needs a valid code, so a stolen session alone
/// cannot remove it.
pub async fn disable(db: &Db, keys: &Keys, user: &CurrentUser, code: &str) -> Result<(), AppError> {
    verify_enrolled(db, keys, user, code).await?;
    let mut tx = crate::ssr::db::begin_write(db).await?;
    for table in ["user_mfa", "mfa_recovery_codes"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn org_requires_mfa(db: &Db, org_id: &str) -> Result<bool, AppError> {
    let (required,): (i64,) = sqlx::query_as("SELECT require_mfa FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_one(db)
        .await?;
    Ok(required != 0)
}

/// Turns the organization's requirement on or off. Turning it on needs a
/// caller who satisfies it, so nobody locks themselves out.
pub async fn set_required(
    db: &Db,
    access: &Access,
    required: bool,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    access.require(Permission::SsoWrite)?;
    if required
        && let crate::orgs::access::Actor::User(user) = &access.actor
        && !user.strong_auth_in(&access.org_id)
    {
        return Err(AppError::conflict(
            "mfa_needed_first",
            "Set up two-factor authentication for yourself first (Account › Security), so this does not lock you out.",
        ));
    }
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query("UPDATE organizations SET require_mfa = $2 WHERE id = $1")
        .bind(&access.org_id)
        .bind(i64::from(required))
        .execute(&mut *tx)
        .await?;
    crate::audit::ssr::record(
        &mut *tx,
        crate::audit::ssr::Event::by(
            access,
            "org.mfa_requirement_changed",
            crate::audit::ssr::Target {
                kind: "organization",
                id: &access.org_id,
                label: &access.org_name,
            },
            serde_json::json!({ "required": required }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
