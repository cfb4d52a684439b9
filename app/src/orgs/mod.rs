//! Organizations: creating one, switching between them, their members.

mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod tokens;

pub use pages::{MembersPage, NewOrgPage, OverviewPage, use_org_param};

use crate::auth::CurrentUser;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// An organization as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSummary {
    /// Immutable short id, used in every OIDC URL.
    pub id: String,
    pub slug: String,
    pub name: String,
    /// The viewer's role in it.
    pub role: String,
    pub created_at: i64,
}

/// Everything the console shell needs to draw itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleContext {
    pub user: CurrentUser,
    pub org: OrgSummary,
    pub orgs: Vec<OrgSummary>,
    pub member_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    /// `active` or `deactivated`.
    pub status: String,
    /// How they joined: `signup`, `invite`, `sso`, `bootstrap`.
    pub source: String,
    pub joined_at: i64,
    pub last_login_at: Option<i64>,
}

#[server(endpoint = "create_org")]
pub async fn create_org(name: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    let org = ssr::create_org(&ctx.state.db, &user.id, &name, "signup").await?;
    tracing::info!(org_id = %org.id, user_id = %user.id, "organization created");
    ctx.redirect(&format!("/o/{}", org.slug));
    Ok(())
}

/// Where `/` should send the visitor.
#[server(endpoint = "home_target")]
pub async fn home_target() -> Result<String, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let Some(user) = crate::auth::ssr::session_user(&ctx.state.db, &ctx.session).await? else {
        return Ok("/login".into());
    };
    let orgs = ssr::orgs_of_user(&ctx.state.db, &user.id).await?;
    Ok(match orgs.first() {
        Some(org) => format!("/o/{}", org.slug),
        None => "/orgs/new".into(),
    })
}

#[server(endpoint = "my_orgs")]
pub async fn my_orgs() -> Result<Vec<OrgSummary>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    ssr::orgs_of_user(&ctx.state.db, &user.id).await
}

#[server(endpoint = "console_context")]
pub async fn load_console(org: String) -> Result<ConsoleContext, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    let db = &ctx.state.db;
    let current = ssr::membership(db, &user.id, &org).await?;
    let orgs = ssr::orgs_of_user(db, &user.id).await?;
    let member_count = ssr::count_members(db, &current.id).await?;
    Ok(ConsoleContext {
        user,
        org: current,
        orgs,
        member_count,
    })
}

#[server(endpoint = "list_members")]
pub async fn list_members(org: String) -> Result<Vec<Member>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    let current = ssr::membership(&ctx.state.db, &user.id, &org).await?;
    ssr::list_members(&ctx.state.db, &current.id).await
}
