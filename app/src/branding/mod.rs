//! Branding of the SSO login page: display name, accent colour, logo.

mod page;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
mod svg;

pub use page::{BrandingSection, LoginPreview, logo_url};

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Largest logo accepted, decoded.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// Codes of a refused logo (the upload form is a plain POST that redirects
/// back with one of them) and what the page says for each.
pub const LOGO_MISSING: &str = "logo_missing";
pub const LOGO_TOO_LARGE: &str = "logo_too_large";
pub const LOGO_TYPE: &str = "logo_type";

/// The page's words for a refused upload's code; unknown codes get the
/// general rule, so nothing from the URL is ever shown.
pub fn logo_refusal(code: &str) -> &'static str {
    match code {
        LOGO_TOO_LARGE => "The logo was refused: it is larger than 256 KiB.",
        "svg_active_content" => {
            "The logo was refused: this SVG contains scripts, event handlers or animation. Export it as a plain image."
        }
        "svg_outside_reference" => {
            "The logo was refused: this SVG loads something from outside the file (a link, image or style sheet). Embed it or remove it."
        }
        "svg_malformed" => {
            "The logo was refused: this is not a well-formed SVG document (root element <svg>, no DOCTYPE)."
        }
        _ => {
            "The logo was refused: upload a PNG, JPEG, WebP or SVG image of at most 256 KiB, without scripts."
        }
    }
}

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
