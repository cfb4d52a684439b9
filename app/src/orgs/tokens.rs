//! Organization-scoped API tokens: shown once, stored as a SHA-256 hash.

use crate::error::AppError;
use crate::ssr::db::Db;
use crate::ssr::{now, random};
use sha2::{Digest, Sha256};

pub const TOKEN_PREFIX: &str = "lk_";

/// The identity behind a valid bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCaller {
    pub token_id: String,
    pub org_id: String,
    pub role: String,
    /// The user who created the token, while that user exists.
    pub created_by: Option<String>,
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates a token; returns its id and the secret (the only time it exists
/// in clear).
pub async fn create_token(
    db: &Db,
    org_id: &str,
    created_by: &str,
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

/// Looks a presented secret up and records its use. Revoked or unknown
/// tokens give `None`.
pub async fn authenticate_token(db: &Db, secret: &str) -> Result<Option<TokenCaller>, AppError> {
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, org_id, role, created_by FROM api_tokens \
         WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash(secret))
    .fetch_optional(db)
    .await?;
    let Some((token_id, org_id, role, created_by)) = row else {
        return Ok(None);
    };
    sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(&token_id)
        .bind(now())
        .execute(db)
        .await?;
    Ok(Some(TokenCaller {
        token_id,
        org_id,
        role,
        created_by,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            super::hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
