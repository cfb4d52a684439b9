//! Accounts: finding and creating users, and the facts kept about them.

use super::CurrentUser;
use super::password::{check_new_password, hash_password};
use crate::email::normalize_email;
use crate::error::AppError;
use crate::ssr::db::{Db, is_unique_violation};
use crate::ssr::{now, random};

type UserRow = (String, String, String, i64, Option<i64>);

fn to_user((id, email, name, is_operator, email_verified_at): UserRow) -> CurrentUser {
    CurrentUser {
        id,
        email,
        name,
        is_operator: is_operator != 0,
        email_verified: email_verified_at.is_some(),
        mfa: false,
        sso_org: None,
    }
}

pub async fn find_user(db: &Db, user_id: &str) -> Result<Option<CurrentUser>, AppError> {
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT id, email, name, is_operator, email_verified_at FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(to_user))
}

pub async fn find_user_by_email(db: &Db, email: &str) -> Result<Option<CurrentUser>, AppError> {
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT id, email, name, is_operator, email_verified_at FROM users WHERE email = $1",
    )
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
            email_verified: false,
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
