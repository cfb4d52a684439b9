//! Writing and reading audit events.

use super::{AuditEvent, AuditFilter, AuditPageData};
use crate::error::AppError;
use crate::orgs::access::Actor;
use crate::ssr::{now, random};
use std::net::IpAddr;

/// What an event is about.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub label: &'a str,
}

/// One event to append.
pub struct Event<'a> {
    pub org_id: &'a str,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub target: Option<Target<'a>>,
    pub details: serde_json::Value,
    pub ip: Option<IpAddr>,
}

impl<'a> Event<'a> {
    /// An event by the actor of `access`, about `target`, in its organization.
    pub fn by(
        access: &'a crate::orgs::access::Access,
        action: &'a str,
        target: Target<'a>,
        details: serde_json::Value,
        ip: Option<IpAddr>,
    ) -> Self {
        Self {
            org_id: &access.org_id,
            actor: &access.actor,
            action,
            target: Some(target),
            details,
            ip,
        }
    }
}

/// Ids sort by creation time (microseconds, then a per-process counter),
/// so "newest first" is exact within one second and one instance.
fn event_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let micros = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff;
    format!("evt_{micros:016x}{n:04x}{}", random::lower_alnum(6))
}

/// Appends `event`. Takes any executor so callers can write the event in the
/// same transaction as the change it records.
pub async fn record<'e, E>(exec: E, event: Event<'_>) -> Result<(), AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (actor_type, actor_id, actor_label) = event.actor.audit_identity();
    sqlx::query(
        "INSERT INTO audit_events (id, org_id, actor_type, actor_id, actor_label, action, \
         target_type, target_id, target_label, details, ip, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(event_id())
    .bind(event.org_id)
    .bind(actor_type)
    .bind(actor_id)
    .bind(actor_label)
    .bind(event.action)
    .bind(event.target.as_ref().map(|t| t.kind))
    .bind(event.target.as_ref().map(|t| t.id))
    .bind(event.target.as_ref().map(|t| t.label))
    .bind(event.details.to_string())
    .bind(event.ip.map(|ip| ip.to_string()))
    .bind(now())
    .execute(exec)
    .await?;
    Ok(())
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

fn parse_cursor(cursor: &str) -> Result<(i64, String), AppError> {
    let bad =
        || AppError::bad_request("invalid_cursor", "The paging cursor is not valid.").on("cursor");
    let (at, id) = cursor.split_once('.').ok_or_else(bad)?;
    let at = at.parse().map_err(|_| bad())?;
    Ok((at, id.to_owned()))
}

/// Newest first, `limit` at a time, filtered.
pub async fn list(
    db: &crate::ssr::db::Db,
    org_id: &str,
    f: &AuditFilter,
) -> Result<AuditPageData, AppError> {
    let limit = f.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let cursor = f
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(parse_cursor)
        .transpose()?;
    let action = f.action.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let (action_exact, action_prefix) = match action {
        Some(a) if a.ends_with('.') => (None, Some(format!("{a}%"))),
        Some(a) => (Some(a.to_owned()), None),
        None => (None, None),
    };
    let actor = f
        .actor
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| a.to_lowercase());
    type Row = (
        String,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, actor_type, actor_id, actor_label, action, target_type, target_id, \
         target_label, details, ip, created_at FROM audit_events \
         WHERE org_id = $1 \
         AND ($2 IS NULL OR action = $2) \
         AND ($3 IS NULL OR action LIKE $3) \
         AND ($4 IS NULL OR LOWER(actor_label) = $4 OR actor_id = $4) \
         AND ($5 IS NULL OR created_at >= $5) \
         AND ($6 IS NULL OR created_at < $6) \
         AND ($7 IS NULL OR created_at < $7 OR (created_at = $7 AND id < $8)) \
         ORDER BY created_at DESC, id DESC LIMIT $9",
    )
    .bind(org_id)
    .bind(action_exact)
    .bind(action_prefix)
    .bind(actor)
    .bind(f.since)
    .bind(f.until)
    .bind(cursor.as_ref().map(|c| c.0))
    .bind(cursor.as_ref().map(|c| c.1.clone()))
    .bind(i64::from(limit) + 1)
    .fetch_all(db)
    .await?;
    let mut events: Vec<AuditEvent> = rows
        .into_iter()
        .map(
            |(
                id,
                actor_type,
                actor_id,
                actor_label,
                action,
                target_type,
                target_id,
                target_label,
                details,
                ip,
                created_at,
            )| {
                AuditEvent {
                    id,
                    actor_type,
                    actor_id,
                    actor_label,
                    action,
                    target_type,
                    target_id,
                    target_label,
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                    ip,
                    created_at,
                }
            },
        )
        .collect();
    let next_cursor = if events.len() > limit as usize {
        events.truncate(limit as usize);
        events.last().map(|e| format!("{}.{}", e.created_at, e.id))
    } else {
        None
    };
    Ok(AuditPageData {
        events,
        next_cursor,
    })
}
