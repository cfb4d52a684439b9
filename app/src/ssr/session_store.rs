//! tower-sessions store on the application database, with a session index.
//!
//! Besides the serialized session, each row carries who the session belongs
//! to (user, organization, sign-in method, IdP `sid`/`sub`), copied from the
//! session's `auth` entry on every write. That index is what lets later
//! features end sessions by user or by organization with one `DELETE`, and
//! because rows live in the shared database, it works across instances.

use super::db::Db;
use async_trait::async_trait;
use serde::Deserialize;
use std::collections::HashMap;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// The session entry holding the signed-in identity.
pub const AUTH_KEY: &str = "auth";

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

fn encode(record: &Record) -> session_store::Result<String> {
    serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
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
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(id.to_string())
        .bind(super::now())
        .fetch_optional(&self.db)
        .await
        .map_err(backend)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let data: HashMap<String, serde_json::Value> =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(expires_at)
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
