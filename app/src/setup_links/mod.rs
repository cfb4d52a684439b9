//! Setup links: an admin hands the customer's IT person a link that opens a
//! session limited to some pages of one organization (domains, the SSO
//! connection, provisioning), with no account. The link's token is stored
//! hashed; everything done through it is audited as `setup_link:<id>`.

mod page;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use page::{SetupLinkPage, SetupLinksSection};

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a setup link reaches: one Settings › Security page each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SetupScope {
    Domains,
    Sso,
    Provisioning,
}

impl SetupScope {
    pub const ALL: [Self; 3] = [Self::Domains, Self::Sso, Self::Provisioning];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domains => "domains",
            Self::Sso => "sso",
            Self::Provisioning => "provisioning",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Domains => "Domains",
            Self::Sso => "SSO connection",
            Self::Provisioning => "Provisioning",
        }
    }

    /// The page under `settings/security/` where the scope is used.
    pub fn page(self) -> &'static str {
        match self {
            Self::Domains => "domains",
            Self::Sso => "sso",
            Self::Provisioning => "provisioning",
        }
    }
}

/// A setup link as its organization's admins see it. The `url` (holding the
/// token) exists only in the answer to its creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SetupLink {
    pub id: String,
    pub scopes: Vec<SetupScope>,
    pub note: String,
    /// The name of the person (or API token) that created it.
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    /// `active`, `expired` or `revoked`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What the holder of a setup link sees before opening it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupLinkView {
    pub org_name: String,
    pub created_by: String,
    pub scopes: Vec<SetupScope>,
    pub expires_at: i64,
    /// `active`, `expired` or `revoked`.
    pub state: String,
    /// The account this browser is signed in with, if any: a setup link
    /// does not mix with an account's session.
    pub signed_in_as: Option<String>,
}

/// Marks a console session that came through a setup link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupBanner {
    pub link_id: String,
    pub created_by: String,
    pub scopes: Vec<SetupScope>,
    pub expires_at: i64,
}

#[server(endpoint = "list_setup_links")]
pub async fn list_setup_links(org: String) -> Result<Vec<SetupLink>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::list(&ctx.state.db, &access).await
}

#[server(endpoint = "create_setup_link")]
pub async fn create_setup_link(
    org: String,
    domains: Option<String>,
    sso: Option<String>,
    provisioning: Option<String>,
    expires_in_days: Option<String>,
    note: Option<String>,
) -> Result<SetupLink, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    // The form's checkboxes, one per scope.
    let scopes: Vec<SetupScope> = [
        (domains, SetupScope::Domains),
        (sso, SetupScope::Sso),
        (provisioning, SetupScope::Provisioning),
    ]
    .into_iter()
    .filter_map(|(on, scope)| on.map(|_| scope))
    .collect();
    let days = match expires_in_days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => Some(d.parse::<i64>().map_err(|_| {
            AppError::unprocessable("invalid_expiry", "Enter a number of days from 1 to 30.")
                .on("expires_in_days")
        })?),
    };
    let input = ssr::NewSetupLink {
        scopes,
        expires_in_days: days,
        note: note.unwrap_or_default(),
    };
    let link = ssr::create(&ctx.state, &access, input, ctx.ip).await?;
    crate::ssr::flash::put(&ctx, &new_link_key(&access.org_id), &link).await?;
    Ok(link)
}

#[cfg(feature = "ssr")]
fn new_link_key(org_id: &str) -> String {
    format!("new_setup_link:{org_id}")
}

/// The link just created by the form, with its URL, once.
#[server(endpoint = "new_setup_link")]
pub async fn new_setup_link(org: String) -> Result<Option<SetupLink>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::require_manager(&access)?;
    Ok(crate::ssr::flash::take(&ctx, &new_link_key(&access.org_id)).await)
}

#[server(endpoint = "revoke_setup_link")]
pub async fn revoke_setup_link(org: String, id: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::revoke(&ctx.state.db, &access, &id, ctx.ip).await
}

/// What the landing page of a setup link shows (public: the token is the
/// credential).
#[server(endpoint = "setup_link_info")]
pub async fn setup_link_info(token: String) -> Result<SetupLinkView, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let signed_in_as = crate::identity::sessions::session_user(&ctx.state.db, &ctx.session)
        .await?
        .map(|u| u.email);
    let mut view = ssr::info(&ctx.state.db, &token).await?;
    view.signed_in_as = signed_in_as;
    Ok(view)
}

/// Opens a setup link (a form post from `/setup/{token}`, so link scanners
/// that only fetch pages do not start sessions).
#[server(endpoint = "open_setup_link")]
pub async fn open_setup_link(token: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let landing = ssr::open(&ctx.state.db, &ctx.session, &token, ctx.ip).await?;
    ctx.redirect(&landing);
    Ok(())
}
