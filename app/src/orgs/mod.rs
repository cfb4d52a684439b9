//! Organizations: creating one, switching between them, roles and
//! permissions, members, invitations and API tokens.

#[cfg(feature = "ssr")]
pub mod access;
mod invitation_page;
#[cfg(feature = "ssr")]
pub mod invitations;
#[cfg(feature = "ssr")]
pub mod members;
mod members_page;
mod pages;
pub mod permissions;
#[cfg(feature = "ssr")]
pub mod roles;
mod settings_pages;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod tokens;

pub use invitation_page::InvitationPage;
pub use members_page::MembersPage;
pub use pages::{NewOrgPage, OverviewPage, use_org_param};
pub use settings_pages::{RolesPage, TokensPage};

use crate::error::AppError;
use crate::identity::CurrentUser;
use leptos::prelude::*;
use permissions::Permission;
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
    /// The signed-in user; none in a setup-link session.
    pub user: Option<CurrentUser>,
    /// Set when the session came through a setup link.
    pub setup_link: Option<crate::setup_links::SetupBanner>,
    pub org: OrgSummary,
    pub orgs: Vec<OrgSummary>,
    pub member_count: i64,
    /// What the viewer may do here; the server checks again on every call.
    pub permissions: Vec<Permission>,
    /// The provider label when this SSO session can also sign out at the
    /// IdP (RP-initiated logout).
    pub idp_logout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberQuery {
    /// Part of a name or email.
    pub q: Option<String>,
    /// 1-based.
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberPage {
    pub members: Vec<Member>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoleInfo {
    pub name: String,
    pub description: String,
    pub permissions: Vec<Permission>,
    pub builtin: bool,
    /// Members holding it.
    pub members: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub expired: bool,
    /// Only right after creating or re-sending: the link is not stored.
    pub accept_url: Option<String>,
}

/// What the holder of an invitation link sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub org_name: String,
    pub org_slug: String,
    pub email: String,
    pub role: String,
    pub expires_at: i64,
    /// `pending`, `expired`, `revoked` or `accepted`.
    pub state: String,
    pub signed_in_as: Option<String>,
    pub account_exists: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// Only in the answer to its creation.
    pub secret: Option<String>,
}

#[server(endpoint = "create_org")]
pub async fn create_org(name: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    let org = ssr::create_org(&ctx.state.db, &user, &name, "signup", ctx.ip).await?;
    tracing::info!(org_id = %org.id, user_id = %user.id, "organization created");
    ctx.redirect(&format!("/o/{}", org.slug));
    Ok(())
}

/// Where `/` should send the visitor.
#[server(endpoint = "home_target")]
pub async fn home_target() -> Result<String, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let Some(user) = crate::identity::sessions::session_user(&ctx.state.db, &ctx.session).await?
    else {
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
    let db = &ctx.state.db;
    let user = match ctx.actor().await? {
        access::Actor::User(user) => user,
        link @ access::Actor::SetupLink(_) => return setup_link_console(db, link, &org).await,
        _ => return Err(AppError::unauthorized()),
    };
    let access = access::resolve(db, access::Actor::User(user.clone()), &org).await?;
    let orgs = ssr::orgs_of_user(db, &user.id).await?;
    let current = orgs
        .iter()
        .find(|o| o.id == access.org_id)
        .cloned()
        .ok_or_else(|| {
            AppError::not_found("There is no such organization, or you are not a member of it.")
        })?;
    let member_count = ssr::count_members(db, &current.id).await?;
    let idp_logout = match crate::identity::sessions::session_auth(&ctx.session).await? {
        Some(auth) if auth.idp_id_token.is_some() => {
            crate::sso::logout::rp_logout_offer(&ctx.state, &auth).await
        }
        Some(auth) => crate::saml::slo::sp_logout_offer(&ctx.state, &auth).await,
        None => None,
    };
    Ok(ConsoleContext {
        user: Some(user),
        setup_link: None,
        org: current,
        orgs,
        member_count,
        permissions: access.permissions,
        idp_logout,
    })
}

/// The console of a setup-link session: its one organization, no member
/// count, nothing to sign out of at an IdP.
#[cfg(feature = "ssr")]
async fn setup_link_console(
    db: &crate::ssr::db::Db,
    actor: access::Actor,
    org: &str,
) -> Result<ConsoleContext, AppError> {
    let access = access::resolve(db, actor, org).await?;
    let access::Actor::SetupLink(link) = &access.actor else {
        return Err(AppError::internal());
    };
    let (created_at,): (i64,) =
        sqlx::query_as("SELECT created_at FROM organizations WHERE id = $1")
            .bind(&access.org_id)
            .fetch_one(db)
            .await?;
    let current = OrgSummary {
        id: access.org_id.clone(),
        slug: access.org_slug.clone(),
        name: access.org_name.clone(),
        role: access.role.clone(),
        created_at,
    };
    Ok(ConsoleContext {
        user: None,
        setup_link: Some(link.banner()),
        orgs: vec![current.clone()],
        org: current,
        member_count: 0,
        permissions: access.permissions,
        idp_logout: None,
    })
}

#[server(endpoint = "list_members")]
pub async fn list_members(
    org: String,
    q: Option<String>,
    page: Option<u32>,
) -> Result<MemberPage, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.authorize(&org, Permission::MembersRead).await?;
    let query = MemberQuery {
        q,
        page,
        per_page: None,
    };
    members::list(&ctx.state.db, &access.org_id, &query).await
}

#[server(endpoint = "change_member_role")]
pub async fn change_member_role(
    org: String,
    user_id: String,
    role: String,
) -> Result<Member, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    members::change_role(&ctx.state.db, &access, &user_id, &role, ctx.ip).await
}

#[server(endpoint = "set_member_active")]
pub async fn set_member_active(
    org: String,
    user_id: String,
    active: bool,
) -> Result<Member, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    members::set_active(&ctx.state.db, &access, &user_id, active, ctx.ip).await
}

#[server(endpoint = "remove_member")]
pub async fn remove_member(org: String, user_id: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    members::remove(&ctx.state.db, &access, &user_id, ctx.ip).await
}

#[server(endpoint = "invite_member")]
pub async fn invite_member(
    org: String,
    email: String,
    role: String,
) -> Result<Invitation, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    let public_url = ctx.state.settings.public_url.clone();
    let inv =
        invitations::create(&ctx.state.db, &access, &public_url, &email, &role, ctx.ip).await?;
    invitations::notify(ctx.state.mailer.as_ref(), &access.org_name, &inv);
    crate::ssr::flash::put(&ctx, &new_invitation_key(&access.org_id), &inv).await?;
    Ok(inv)
}

#[cfg(feature = "ssr")]
fn new_invitation_key(org_id: &str) -> String {
    format!("new_invitation:{org_id}")
}

/// The invitation just made or re-sent by a form on the members page, once.
#[server(endpoint = "new_invitation")]
pub async fn new_invitation(org: String) -> Result<Option<Invitation>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.authorize(&org, Permission::MembersRead).await?;
    Ok(crate::ssr::flash::take(&ctx, &new_invitation_key(&access.org_id)).await)
}

#[server(endpoint = "list_invitations")]
pub async fn list_invitations(org: String) -> Result<Vec<Invitation>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.authorize(&org, Permission::MembersRead).await?;
    invitations::list_pending(&ctx.state.db, &access.org_id).await
}

#[server(endpoint = "revoke_invitation")]
pub async fn revoke_invitation(org: String, id: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    invitations::revoke(&ctx.state.db, &access, &id, ctx.ip).await
}

#[server(endpoint = "resend_invitation")]
pub async fn resend_invitation(org: String, id: String) -> Result<Invitation, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    let public_url = ctx.state.settings.public_url.clone();
    let inv = invitations::resend(&ctx.state.db, &access, &public_url, &id, ctx.ip).await?;
    invitations::notify(ctx.state.mailer.as_ref(), &access.org_name, &inv);
    crate::ssr::flash::put(&ctx, &new_invitation_key(&access.org_id), &inv).await?;
    Ok(inv)
}

/// Public: anyone holding the link may see what it is for.
#[server(endpoint = "invitation_info")]
pub async fn invitation_info(token: String) -> Result<InvitationView, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let viewer = crate::identity::sessions::session_user(&ctx.state.db, &ctx.session).await?;
    invitations::view(&ctx.state.db, &token, viewer.as_ref()).await
}

/// Accepts as the signed-in user.
#[server(endpoint = "accept_invitation")]
pub async fn accept_invitation(token: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let user = ctx.require_user().await?;
    let slug = invitations::accept(&ctx.state.db, &token, &user, ctx.ip).await?;
    ctx.redirect(&format!("/o/{slug}"));
    Ok(())
}

/// Creates the invitee's account (with the invited email), signs it in and
/// accepts.
#[server(endpoint = "accept_invitation_signup")]
pub async fn accept_invitation_signup(
    token: String,
    name: String,
    password: String,
) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let db = &ctx.state.db;
    let view = invitations::view(db, &token, None).await?;
    if view.state != "pending" {
        return Err(AppError::conflict(
            "invitation_unusable",
            format!("This invitation is {}.", view.state),
        ));
    }
    // The same rule as sign-up: an SSO domain's account comes from its IdP
    // (anyone who can invite could otherwise plant one there).
    crate::sso::connection::refuse_password_account(&ctx.state, &view.email).await?;
    let user = crate::identity::accounts::create_account(
        db,
        crate::identity::accounts::NewAccount {
            email: &view.email,
            name: &name,
            password: &password,
        },
    )
    .await?;
    crate::identity::accounts::record_sign_in(db, &user.id).await?;
    let lifetime = ctx.state.settings.password_session_secs;
    crate::identity::sessions::establish_session(
        &ctx.session,
        crate::identity::sessions::password_session(&user.id),
        lifetime,
    )
    .await?;
    let slug = invitations::accept(db, &token, &user, ctx.ip).await?;
    ctx.redirect(&format!("/o/{slug}"));
    Ok(())
}

#[server(endpoint = "list_roles")]
pub async fn list_roles(org: String) -> Result<Vec<RoleInfo>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    roles::list(&ctx.state.db, &access).await
}

#[server(endpoint = "create_role")]
pub async fn create_role(
    org: String,
    name: String,
    description: String,
    permissions: Option<Vec<String>>,
) -> Result<RoleInfo, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    let perms = permissions.unwrap_or_default();
    roles::create(&ctx.state.db, &access, &name, &description, &perms, ctx.ip).await
}

#[server(endpoint = "update_role")]
pub async fn update_role(
    org: String,
    name: String,
    permissions: Option<Vec<String>>,
) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    let perms = permissions.unwrap_or_default();
    roles::update(&ctx.state.db, &access, &name, &perms, ctx.ip).await
}

#[server(endpoint = "delete_role")]
pub async fn delete_role(org: String, name: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    roles::delete(&ctx.state.db, &access, &name, ctx.ip).await
}

#[server(endpoint = "list_api_tokens")]
pub async fn list_api_tokens(org: String) -> Result<Vec<ApiToken>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.authorize(&org, Permission::TokensWrite).await?;
    tokens::manage::list(&ctx.state.db, &access.org_id).await
}

#[server(endpoint = "create_api_token")]
pub async fn create_api_token(
    org: String,
    name: String,
    role: String,
) -> Result<ApiToken, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    let token = tokens::manage::create(&ctx.state.db, &access, &name, &role, ctx.ip).await?;
    crate::ssr::flash::put(&ctx, &new_token_key(&access.org_id), &token).await?;
    Ok(token)
}

#[cfg(feature = "ssr")]
fn new_token_key(org_id: &str) -> String {
    format!("new_token:{org_id}")
}

/// The token just created by the form on the tokens page, with its secret,
/// once.
#[server(endpoint = "new_api_token")]
pub async fn new_api_token(org: String) -> Result<Option<ApiToken>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.authorize(&org, Permission::TokensWrite).await?;
    Ok(crate::ssr::flash::take(&ctx, &new_token_key(&access.org_id)).await)
}

#[server(endpoint = "revoke_api_token")]
pub async fn revoke_api_token(org: String, id: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    tokens::manage::revoke(&ctx.state.db, &access, &id, ctx.ip).await
}
