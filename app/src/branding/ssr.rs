//! Storing branding and checking logos by their content, not their name.

use super::{Branding, LOGO_MISSING, LOGO_TOO_LARGE, LOGO_TYPE, MAX_LOGO_BYTES, is_hex_color, svg};
use crate::audit::ssr::{Event, Target, record};
use crate::error::AppError;
use crate::orgs::access::Access;
use crate::orgs::permissions::Permission;
use crate::ssr::db::Db;
use crate::ssr::now;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::net::IpAddr;

/// `(display_name, accent_color, logo_type, updated_at)`.
type BrandingRow = (Option<String>, Option<String>, Option<String>, i64);

pub async fn get(db: &Db, org_id: &str) -> Result<Branding, AppError> {
    let row: Option<BrandingRow> = sqlx::query_as(
        "SELECT display_name, accent_color, logo_type, updated_at FROM org_branding WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(db)
    .await?;
    Ok(match row {
        None => Branding::default(),
        Some((display_name, accent_color, logo_type, updated_at)) => Branding {
            display_name,
            accent_color,
            logo_version: logo_type.map(|_| updated_at),
        },
    })
}

fn invalid(field: &str, code: &str, message: &str) -> AppError {
    AppError::unprocessable(code, message).on(field)
}

async fn audit(
    db: &Db,
    access: &Access,
    details: serde_json::Value,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    record(
        db,
        Event::by(
            access,
            "branding.updated",
            Target {
                kind: "organization",
                id: &access.org_id,
                label: &access.org_name,
            },
            details,
            ip,
        ),
    )
    .await
}

/// Saves the display name (empty: the organization's name) and accent
/// colour (empty: Latchkey's).
pub async fn save(
    db: &Db,
    access: &Access,
    display_name: &str,
    accent_color: &str,
    ip: Option<IpAddr>,
) -> Result<Branding, AppError> {
    access.require(Permission::SsoWrite)?;
    let name = display_name.trim();
    if name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(invalid(
            "display_name",
            "invalid_display_name",
            "Keep the display name to one line of at most 60 characters.",
        ));
    }
    let color = accent_color.trim().to_ascii_lowercase();
    if !color.is_empty() && !is_hex_color(&color) {
        return Err(invalid(
            "accent_color",
            "invalid_accent_color",
            "Enter the accent colour as #rrggbb, e.g. #4f46e5.",
        ));
    }
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    sqlx::query(
        "INSERT INTO org_branding (org_id, display_name, accent_color, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_id) DO UPDATE SET display_name = $2, accent_color = $3, updated_at = $4",
    )
    .bind(&access.org_id)
    .bind(opt(name))
    .bind(opt(&color))
    .bind(now())
    .execute(db)
    .await?;
    audit(
        db,
        access,
        serde_json::json!({ "display_name": opt(name), "accent_color": opt(&color) }),
        ip,
    )
    .await?;
    get(db, &access.org_id).await
}

/// The image type of `bytes`, judged by content, and the bytes to store.
/// Raster formats are stored as sent (browsers never run them as script
/// under `nosniff`); an SVG is stored only as the allow-listed rewrite of
/// [`svg::sanitize`].
pub fn check_logo(bytes: &[u8]) -> Result<(&'static str, Vec<u8>), AppError> {
    if bytes.is_empty() {
        return Err(invalid(
            "logo",
            LOGO_MISSING,
            "Choose an image file to upload.",
        ));
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(invalid(
            "logo",
            LOGO_TOO_LARGE,
            "The logo must be at most 256 KiB.",
        ));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(("image/png", bytes.to_vec()));
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Ok(("image/jpeg", bytes.to_vec()));
    }
    if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(("image/webp", bytes.to_vec()));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        let start = text.trim_start_matches('\u{feff}').trim_start();
        if start.starts_with("<svg") || start.starts_with("<?xml") {
            let clean = svg::sanitize(start).map_err(|r| invalid("logo", r.code, &r.message))?;
            return Ok(("image/svg+xml", clean.into_bytes()));
        }
    }
    Err(invalid(
        "logo",
        LOGO_TYPE,
        "Upload a PNG, JPEG, WebP or SVG image.",
    ))
}

pub async fn set_logo(
    db: &Db,
    access: &Access,
    bytes: &[u8],
    ip: Option<IpAddr>,
) -> Result<Branding, AppError> {
    access.require(Permission::SsoWrite)?;
    let (kind, bytes) = check_logo(bytes)?;
    sqlx::query(
        "INSERT INTO org_branding (org_id, logo_type, logo_data, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_id) DO UPDATE SET logo_type = $2, logo_data = $3, updated_at = $4",
    )
    .bind(&access.org_id)
    .bind(kind)
    .bind(STANDARD.encode(&bytes))
    .bind(now())
    .execute(db)
    .await?;
    audit(
        db,
        access,
        serde_json::json!({ "logo": kind, "bytes": bytes.len() }),
        ip,
    )
    .await?;
    get(db, &access.org_id).await
}

pub async fn remove_logo(
    db: &Db,
    access: &Access,
    ip: Option<IpAddr>,
) -> Result<Branding, AppError> {
    access.require(Permission::SsoWrite)?;
    sqlx::query("UPDATE org_branding SET logo_type = NULL, logo_data = NULL, updated_at = $2 WHERE org_id = $1")
        .bind(&access.org_id)
        .bind(now())
        .execute(db)
        .await?;
    audit(db, access, serde_json::json!({ "logo": null }), ip).await?;
    get(db, &access.org_id).await
}

/// An organization's logo: its type and bytes.
pub async fn logo_of_org(db: &Db, org_id: &str) -> Result<Option<(String, Vec<u8>)>, AppError> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT logo_type, logo_data FROM org_branding WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(db)
            .await?;
    Ok(match row {
        Some((Some(kind), Some(data))) => STANDARD.decode(data).ok().map(|bytes| (kind, bytes)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_are_judged_by_content() {
        let kind = |b: &[u8]| check_logo(b).ok().map(|(kind, _)| kind);
        assert_eq!(kind(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(kind(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(kind(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        // An SVG is stored as rewritten, not as sent.
        assert_eq!(
            check_logo(b"\xef\xbb\xbf <svg viewBox='0 0 1 1'><metadata/><circle r='4'/></svg>").ok(),
            Some((
                "image/svg+xml",
                b"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"><circle r=\"4\"></circle></svg>".to_vec()
            ))
        );
        for bad in [
            &b"<svg><script>alert(1)</script></svg>"[..],
            b"<svg onload='alert(1)'></svg>",
            b"GIF89a....",
            b"<html><svg></svg></html>",
            b"",
        ] {
            assert!(check_logo(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(check_logo(&vec![0x89; MAX_LOGO_BYTES + 1]).is_err());
        // Words that merely start with "on" are not handlers.
        assert!(check_logo(b"<svg><text>one two</text><g id='online'/></svg>").is_ok());
    }

    #[test]
    fn colours_are_hex() {
        assert!(is_hex_color("#4f46e5"));
        for bad in [
            "4f46e5",
            "#4f46e",
            "#4f46e5;",
            "red",
            "#zzzzzz",
            "#4f46e5\"><script>",
        ] {
            assert!(!is_hex_color(bad), "{bad}");
        }
    }
}
