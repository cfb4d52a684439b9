//! Domain verification: DNS TXT proof, operator approval, and the gate that
//! lets SSO accept only emails of an organization's verified domains.

#[cfg(feature = "ssr")]
pub mod dns;
#[cfg(feature = "ssr")]
pub mod name;
mod operator_page;
mod page;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use operator_page::OperatorPage;
pub use page::DomainsSection;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A domain as admins and the API see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Domain {
    pub id: String,
    pub domain: String,
    /// `pending`, `verified` or `expired`.
    pub status: String,
    pub txt_record_name: String,
    pub txt_record_value: String,
    /// `dns` or `manual` once verified.
    pub method: Option<String>,
    pub created_at: i64,
    /// When a pending domain stops being checked.
    pub expires_at: i64,
    pub verified_at: Option<i64>,
    pub last_checked_at: Option<i64>,
    /// Why the last check failed, in words an admin understands.
    pub last_error: Option<String>,
}

/// A pending domain on the operator page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDomain {
    pub domain: Domain,
    pub org_id: String,
    pub org_name: String,
}

#[server(endpoint = "list_domains")]
pub async fn list_domains(org: String) -> Result<Vec<Domain>, AppError> {
    use crate::orgs::permissions::Permission;
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    access.require_in(
        &[crate::setup_links::SetupScope::Domains],
        Permission::DomainsRead,
    )?;
    ssr::list(&ctx.state.db, &access.org_id).await
}

#[server(endpoint = "add_domain")]
pub async fn add_domain(org: String, domain: String) -> Result<Domain, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::add(&ctx.state.db, &access, &ctx.state.settings, &domain, ctx.ip).await
}

#[server(endpoint = "verify_domain")]
pub async fn verify_domain(org: String, domain: String) -> Result<Domain, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::verify_now(&ctx.state.db, &access, &ctx.state.settings, &domain, ctx.ip).await
}

#[server(endpoint = "restart_domain")]
pub async fn restart_domain(org: String, domain: String) -> Result<Domain, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::restart(&ctx.state.db, &access, &ctx.state.settings, &domain, ctx.ip).await
}

#[server(endpoint = "remove_domain")]
pub async fn remove_domain(org: String, domain: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::remove(&ctx.state.db, &access, &domain, ctx.ip).await
}

#[server(endpoint = "operator_pending_domains")]
pub async fn operator_pending_domains() -> Result<Vec<PendingDomain>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    ssr::require_operator(&ctx).await?;
    ssr::pending_everywhere(&ctx.state.db).await
}

#[server(endpoint = "operator_approve_domain")]
pub async fn operator_approve_domain(id: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let operator = ssr::require_operator(&ctx).await?;
    ssr::approve(&ctx.state.db, &operator, &id, ctx.ip).await
}

#[server(endpoint = "operator_reject_domain")]
pub async fn operator_reject_domain(id: String, reason: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let operator = ssr::require_operator(&ctx).await?;
    ssr::reject(&ctx.state.db, &operator, &id, &reason, ctx.ip).await
}
