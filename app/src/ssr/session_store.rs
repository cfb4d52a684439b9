//! tower-sessions store on the application database, with a session index.
//!
//! Besides the serialized session, each row carries who the session belongs
//! to (user, organization, sign-in method, IdP `sid`/`sub`), copied from the
//! session's `auth` entry on every write. That index is what lets later
//! features end sessions by user or by organization with one `DELETE`, and
//! because rows live in the shared database, it works across instances.

use super::db::Db;
use crate::identity::CurrentUser;
use async_trait::async_trait;
use serde::Deserialize;
use std::collections::HashMap;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// The session entry holding the signed-in identity.
pub const AUTH_KEY: &str = "auth";

/// The session's user as read together with the session (one statement
/// instead of two on every signed-in request): put into the record by
/// [`SessionStore::load`] from the `users` row of that moment, never
/// written back, and replaced at every load, so it is never older than the
/// request.
pub const LOADED_USER_KEY: &str = "_loaded_user";

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// The indexed part of the `auth` entry; unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
struct IndexFields {
    user_id: Option<String>,
    org_id: Option<String>,
    method: Option<String>,
    idp_sid: Option<String>,
    idp_sub: Option<String>,
    created_at: Option<i64>,
}

fn index_of(record: &Record) -> IndexFields {
    record
        .data
        .get(AUTH_KEY)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

fn backend(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// The stored form of a record: everything but the user read with it.
fn encode(record: &Record) -> session_store::Result<String> {
    let stored: HashMap<&String, &serde_json::Value> = record
        .data
        .iter()
        .filter(|(k, _)| k.as_str() != LOADED_USER_KEY)
        .collect();
    serde_json::to_string(&stored).map_err(|e| session_store::Error::Encode(e.to_string()))
}

/// A session row with the columns of its user (`NULL`s when the session
/// names no user, or one that no longer exists).
type LoadedRow = (
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

fn loaded_user(row: &LoadedRow) -> Option<CurrentUser> {
    let (_, _, Some(id), Some(email), Some(name), Some(is_operator), verified_at) = row else {
        return None;
    };
    Some(CurrentUser {
        id: id.clone(),
        email: email.clone(),
        name: name.clone(),
        is_operator: *is_operator != 0,
        email_verified: verified_at.is_some(),
        mfa: false,
        sso_org: None,
    })
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let idx = index_of(record);
        let now = super::now();
        loop {
            let done = sqlx::query(
                "INSERT INTO sessions \
                 (id, data, expires_at, user_id, org_id, method, idp_sid, idp_sub, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
            )
            .bind(record.id.to_string())
            .bind(&data)
            .bind(record.expiry_date.unix_timestamp())
            .bind(&idx.user_id)
            .bind(&idx.org_id)
            .bind(&idx.method)
            .bind(&idx.idp_sid)
            .bind(&idx.idp_sub)
            .bind(idx.created_at.unwrap_or(now))
            .execute(&self.db)
            .await
            .map_err(backend)?;
            if done.rows_affected() == 1 {
                return Ok(());
            }
            // A 128-bit id collided; draw another.
            record.id = Id::default();
        }
    }

    /// Updates an existing row only. A session ended elsewhere (sign-out on
    /// another tab, deactivation, back-channel logout) must not be revived by
    /// a request that was already in flight.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let idx = index_of(record);
        sqlx::query(
            "UPDATE sessions SET data = $2, expires_at = $3, user_id = $4, org_id = $5, \
             method = $6, idp_sid = $7, idp_sub = $8 WHERE id = $1",
        )
        .bind(record.id.to_string())
        .bind(&data)
        .bind(record.expiry_date.unix_timestamp())
        .bind(&idx.user_id)
        .bind(&idx.org_id)
        .bind(&idx.method)
        .bind(&idx.idp_sid)
        .bind(&idx.idp_sub)
        .execute(&self.db)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<LoadedRow> = sqlx::query_as(
            "SELECT s.data, s.expires_at, u.id, u.email, u.name, u.is_operator, u.email_verified_at \
             FROM sessions s LEFT JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.expires_at > $2",
        )
        .bind(id.to_string())
        .bind(super::now())
        .fetch_optional(&self.db)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut data: HashMap<String, serde_json::Value> = serde_json::from_str(&row.0)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        // Only this load's read counts, never a stored copy.
        data.remove(LOADED_USER_KEY);
        if let Some(user) = loaded_user(&row) {
            let user = serde_json::to_value(user)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
            data.insert(LOADED_USER_KEY.to_owned(), user);
        }
        let expiry_date = OffsetDateTime::from_unix_timestamp(row.1)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// Ends every session of `user_id`; returns how many ended.
pub async fn end_sessions_of_user(db: &Db, user_id: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?
        .rows_affected())
}

/// Removes expired rows; run periodically by the server's background job.
pub async fn delete_expired(db: &Db) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(super::now())
        .execute(db)
        .await?
        .rows_affected())
}

/// A row of the session index, for listings and tests.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionIndexRow {
    pub user_id: Option<String>,
    pub org_id: Option<String>,
    pub method: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn sessions_of_user(db: &Db, user_id: &str) -> Result<Vec<SessionIndexRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT user_id, org_id, method, created_at, expires_at FROM sessions \
         WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}
