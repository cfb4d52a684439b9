//! Branding of the SSO login page: display name, accent colour, logo.

mod page;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use page::{BrandingSection, LoginPreview, logo_url};

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Largest logo accepted, decoded.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Branding {
    /// Shown instead of the organization's name when set.
    pub display_name: Option<String>,
    /// `#rrggbb`.
    pub accent_color: Option<String>,
    /// Changes with every upload, so the logo URL can be cached.
    pub logo_version: Option<i64>,
}

impl Branding {
    /// The inline style that applies the accent colour.
    pub fn style(&self) -> String {
        accent_style(self.accent_color.as_deref().unwrap_or_default())
    }
}

/// The style for an accent colour, or none when it is not `#rrggbb`; the
/// one place a colour becomes CSS, so nothing else reaches the attribute.
pub fn accent_style(color: &str) -> String {
    if is_hex_color(color) {
        format!("--accent: {color}; --accent-soft: {color}1a;")
    } else {
        String::new()
    }
}

/// Whether `value` is a colour Latchkey accepts: `#rrggbb`.
pub fn is_hex_color(value: &str) -> bool {
    value.len() == 7 && value.starts_with('#') && value[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[server(endpoint = "get_branding")]
pub async fn get_branding(org: String) -> Result<Branding, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx
        .authorize(&org, crate::orgs::permissions::Permission::SsoRead)
        .await?;
    ssr::get(&ctx.state.db, &access.org_id).await
}

#[server(endpoint = "save_branding")]
pub async fn save_branding(
    org: String,
    display_name: String,
    accent_color: String,
) -> Result<Branding, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::save(&ctx.state.db, &access, &display_name, &accent_color, ctx.ip).await
}

#[server(endpoint = "remove_logo")]
pub async fn remove_logo(org: String) -> Result<Branding, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::remove_logo(&ctx.state.db, &access, ctx.ip).await
}
