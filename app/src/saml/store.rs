//! What SAML sign-ins remember in the database, shared by every instance:
//! the AuthnRequests a browser has outstanding (each answered once) and the
//! assertion IDs already accepted (each accepted once).

use crate::ssr::db::Db;
use crate::ssr::now;

/// How long an SP-initiated sign-in may take at the IdP.
pub const REQUEST_TTL_SECS: i64 = 600;
/// Kept at least this long, even for an assertion with no expiry.
const MIN_REPLAY_WINDOW_SECS: i64 = 600;
/// Longer than the verifier's leeway, so an expired row is never needed.
const REPLAY_MARGIN_SECS: i64 = 120;

/// An outstanding AuthnRequest, as the ACS takes it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub org_id: String,
    pub purpose: String,
    pub return_to: Option<String>,
}

pub async fn record_request(
    db: &Db,
    id: &str,
    org_id: &str,
    purpose: &str,
    return_to: Option<&str>,
    setup_link: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO saml_requests (id, org_id, purpose, return_to, expires_at, setup_link_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(org_id)
    .bind(purpose)
    .bind(return_to)
    .bind(now() + REQUEST_TTL_SECS)
    .bind(setup_link)
    .execute(db)
    .await?;
    Ok(())
}

/// Takes the request `id` if `org_id` has it outstanding and it has not
/// expired: read and deleted in one statement, so of two responses racing
/// on one request only one goes on.
pub async fn take_request(
    db: &Db,
    id: &str,
    org_id: &str,
) -> Result<Option<PendingRequest>, sqlx::Error> {
    let row: Option<(String, String, Option<String>, i64)> = sqlx::query_as(
        "DELETE FROM saml_requests WHERE id = $1 AND org_id = $2 \
         RETURNING org_id, purpose, return_to, expires_at",
    )
    .bind(id)
    .bind(org_id)
    .fetch_optional(db)
    .await?;
    Ok(row
        .filter(|r| r.3 > now())
        .map(|(org_id, purpose, return_to, _)| PendingRequest {
            org_id,
            purpose,
            return_to,
        }))
}

/// Whether `org_id` has the request `id` outstanding for `purpose` (read
/// only: the ACS takes it once the response verified).
pub async fn is_outstanding(
    db: &Db,
    id: &str,
    org_id: &str,
    purpose: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT expires_at FROM saml_requests WHERE id = $1 AND org_id = $2 AND purpose = $3",
    )
    .bind(id)
    .bind(org_id)
    .bind(purpose)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some_and(|e| e > now()))
}

/// Records that `issuer` sent `assertion_id`; false when it was seen
/// before (a replay). `not_on_or_after` (unix seconds) bounds how long the
/// record must be kept.
pub async fn first_use_of_assertion(
    db: &Db,
    issuer: &str,
    assertion_id: &str,
    not_on_or_after: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let t = now();
    let keep_until =
        not_on_or_after.unwrap_or(t).max(t + MIN_REPLAY_WINDOW_SECS) + REPLAY_MARGIN_SECS;
    let inserted = sqlx::query(
        "INSERT INTO saml_assertion_ids (issuer, assertion_id, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(issuer)
    .bind(assertion_id)
    .bind(keep_until)
    .execute(db)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Removes expired requests and replay records; run by the background job.
pub async fn delete_expired(db: &Db) -> Result<u64, sqlx::Error> {
    let t = now();
    let requests = sqlx::query("DELETE FROM saml_requests WHERE expires_at <= $1")
        .bind(t)
        .execute(db)
        .await?
        .rows_affected();
    let assertions = sqlx::query("DELETE FROM saml_assertion_ids WHERE expires_at <= $1")
        .bind(t)
        .execute(db)
        .await?
        .rows_affected();
    Ok(requests + assertions)
}
