//! The audit log: who changed what, when, from where. Append-only.

mod page;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use page::AuditPage;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub id: String,
    /// `user`, `token`, `setup_link` or `system`.
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_label: String,
    /// e.g. `member.role_changed`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_label: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<String>,
    pub created_at: i64,
}

/// Filters for listing events; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditFilter {
    /// Exact action, or a prefix ending in `.` (`member.`).
    pub action: Option<String>,
    /// Matches the actor's label (email or token name) or id.
    pub actor: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPageData {
    pub events: Vec<AuditEvent>,
    /// Present when older events exist.
    pub next_cursor: Option<String>,
}

/// The actions the console offers as filters.
pub const ACTIONS: &[&str] = &[
    "org.created",
    "member.role_changed",
    "member.deactivated",
    "member.reactivated",
    "member.removed",
    "invitation.created",
    "invitation.resent",
    "invitation.revoked",
    "invitation.accepted",
    "role.created",
    "role.updated",
    "role.deleted",
    "token.created",
    "token.revoked",
];

#[server(endpoint = "audit_events")]
pub async fn list_audit_events(
    org: String,
    action: Option<String>,
    actor: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    cursor: Option<String>,
) -> Result<AuditPageData, AppError> {
    use crate::orgs::permissions::Permission;
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let filter = AuditFilter {
        action,
        actor,
        since,
        until,
        cursor,
        limit: None,
    };
    let access = ctx.authorize(&org, Permission::AuditRead).await?;
    ssr::list(&ctx.state.db, &access.org_id, &filter).await
}
