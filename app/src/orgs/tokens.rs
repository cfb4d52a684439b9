//! Organization-scoped API tokens: shown once, stored as a SHA-256 hash.

use crate::error::AppError;
use crate::ssr::crypto::sha256_hex as hash;
use crate::ssr::db::Db;
use crate::ssr::{now, random};

pub const TOKEN_PREFIX: &str = "lk_";

/// The identity behind a valid bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCaller {
    pub token_id: String,
    pub org_id: String,
    pub role: String,
    pub name: String,
    /// The user who created the token, while that user exists.
    pub created_by: Option<String>,
}

/// Creates a token; returns its id and the secret (the only time it exists
/// in clear).
pub async fn create_token(
    db: &Db,
    org_id: &str,
    created_by: Option<&str>,
    name: &str,
    role: &str,
) -> Result<(String, String), AppError> {
    let id = random::id("tok");
    let secret = format!("{TOKEN_PREFIX}{}", random::alnum(40));
    sqlx::query(
        "INSERT INTO api_tokens (id, org_id, created_by, name, role, token_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(created_by)
    .bind(name)
    .bind(role)
    .bind(hash(&secret))
    .bind(now())
    .execute(db)
    .await?;
    Ok((id, secret))
}

/// Looks a presented secret up and records its use (at most once a
/// minute). Revoked or unknown tokens give `None`.
pub async fn authenticate_token(db: &Db, secret: &str) -> Result<Option<TokenCaller>, AppError> {
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    type Row = (String, String, String, String, Option<String>, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, org_id, role, name, created_by, last_used_at FROM api_tokens \
         WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash(secret))
    .fetch_optional(db)
    .await?;
    let Some((token_id, org_id, role, name, created_by, last_used_at)) = row else {
        return Ok(None);
    };
    let at = now();
    if crate::ssr::last_use_due(last_used_at, at) {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(&token_id)
            .bind(at)
            .execute(db)
            .await?;
    }
    Ok(Some(TokenCaller {
        token_id,
        org_id,
        role,
        name,
        created_by,
    }))
}

/// Token management for the console and the API.
pub mod manage {
    use super::super::ApiToken;
    use super::super::access::Access;
    use super::super::members::role_exists;
    use super::super::permissions::Permission;
    use super::create_token;
    use crate::audit::ssr::{Event, Target, record};
    use crate::error::AppError;
    use crate::ssr::db::Db;
    use crate::ssr::now;
    use std::net::IpAddr;

    pub async fn list(db: &Db, org_id: &str) -> Result<Vec<ApiToken>, AppError> {
        type Row = (String, String, String, i64, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, role, created_at, last_used_at FROM api_tokens \
             WHERE org_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC",
        )
        .bind(org_id)
        .fetch_all(db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, role, created_at, last_used_at)| ApiToken {
                id,
                name,
                role,
                created_at,
                last_used_at,
                secret: None,
            })
            .collect())
    }

    /// Creates a token; the secret is in the result and nowhere else.
    pub async fn create(
        db: &Db,
        access: &Access,
        name: &str,
        role: &str,
        ip: Option<IpAddr>,
    ) -> Result<ApiToken, AppError> {
        access.require(Permission::TokensWrite)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(AppError::unprocessable(
                "invalid_name",
                "Name the token (up to 60 characters).",
            )
            .on("name"));
        }
        let role = role.trim();
        if !role_exists(db, &access.org_id, role).await? {
            return Err(AppError::unprocessable(
                "unknown_role",
                format!("There is no role called “{role}”."),
            )
            .on("role"));
        }
        super::super::access::may_grant(db, access, role, ip).await?;
        // A token made by a token belongs to the same person, so it is
        // bounded by that person's rights too.
        let created_by = access.actor.on_behalf_of().map(str::to_owned);
        let (id, secret) =
            create_token(db, &access.org_id, created_by.as_deref(), name, role).await?;
        record(
            db,
            Event::by(
                access,
                "token.created",
                Target {
                    kind: "token",
                    id: &id,
                    label: name,
                },
                serde_json::json!({ "role": role }),
                ip,
            ),
        )
        .await?;
        Ok(ApiToken {
            id,
            name: name.to_owned(),
            role: role.to_owned(),
            created_at: now(),
            last_used_at: None,
            secret: Some(secret),
        })
    }

    pub async fn revoke(
        db: &Db,
        access: &Access,
        id: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), AppError> {
        access.require(Permission::TokensWrite)?;
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT name FROM api_tokens WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(&access.org_id)
        .bind(id)
        .fetch_optional(db)
        .await?;
        let (name,) =
            row.ok_or_else(|| AppError::not_found("There is no active API token with this id."))?;
        let mut tx = crate::ssr::db::begin_write(db).await?;
        revoke_one(&mut tx, access, id, &name, serde_json::json!({}), ip).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks one token revoked and audits it, inside the caller's
    /// transaction.
    async fn revoke_one(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        access: &Access,
        id: &str,
        name: &str,
        details: serde_json::Value,
        ip: Option<IpAddr>,
    ) -> Result<(), AppError> {
        sqlx::query("UPDATE api_tokens SET revoked_at = $3 WHERE org_id = $1 AND id = $2")
            .bind(&access.org_id)
            .bind(id)
            .bind(now())
            .execute(&mut **tx)
            .await?;
        // Setup links made with the token end with it.
        crate::setup_links::ssr::revoke_all_made_by(
            tx,
            access,
            crate::setup_links::ssr::Maker::Token(id),
            "token revoked",
            ip,
        )
        .await?;
        record(
            &mut **tx,
            Event::by(
                access,
                "token.revoked",
                Target {
                    kind: "token",
                    id,
                    label: name,
                },
                details,
                ip,
            ),
        )
        .await
    }

    /// Revokes every active token `user_id` created in the organization of
    /// `access`, and every setup link they made, inside the transaction that
    /// deactivates or removes them; each revocation is audited with the
    /// reason.
    pub async fn revoke_all_of(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        access: &Access,
        user_id: &str,
        reason: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), AppError> {
        revoke_where(tx, access, user_id, reason, ip, |_| true).await?;
        crate::setup_links::ssr::revoke_all_made_by(
            tx,
            access,
            crate::setup_links::ssr::Maker::User(user_id),
            reason,
            ip,
        )
        .await
    }

    /// After `user_id`'s role became `new_role`: revokes their tokens whose
    /// role that role may not hand out (an owner token once they are no
    /// longer an owner; any role with a permission they lost), audited with
    /// the reason `creator demoted`.
    pub async fn revoke_beyond(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        access: &Access,
        user_id: &str,
        new_role: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), AppError> {
        use super::super::permissions::OWNER;
        let kept =
            super::super::access::role_permissions_in(&mut **tx, &access.org_id, new_role).await?;
        let tokens: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, role FROM api_tokens WHERE org_id = $1 AND created_by = $2 AND revoked_at IS NULL",
        )
        .bind(&access.org_id)
        .bind(user_id)
        .fetch_all(&mut **tx)
        .await?;
        let mut beyond = Vec::new();
        for (id, role) in tokens {
            let exceeds = if role == OWNER {
                new_role != OWNER
            } else {
                let perms =
                    super::super::access::role_permissions_in(&mut **tx, &access.org_id, &role)
                        .await?;
                perms.iter().any(|p| !kept.contains(p))
            };
            if exceeds {
                beyond.push(id);
            }
        }
        revoke_where(tx, access, user_id, "creator demoted", ip, |id| {
            beyond.iter().any(|b| b == id)
        })
        .await
    }

    async fn revoke_where(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        access: &Access,
        user_id: &str,
        reason: &str,
        ip: Option<IpAddr>,
        which: impl Fn(&str) -> bool,
    ) -> Result<(), AppError> {
        let tokens: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, name FROM api_tokens WHERE org_id = $1 AND created_by = $2 AND revoked_at IS NULL",
        )
        .bind(&access.org_id)
        .bind(user_id)
        .fetch_all(&mut **tx)
        .await?;
        for (id, name) in tokens.iter().filter(|(id, _)| which(id)) {
            let details = serde_json::json!({ "reason": reason, "created_by": user_id });
            revoke_one(tx, access, id, name, details, ip).await?;
        }
        Ok(())
    }
}
