//! The daily refresh of IdP metadata fetched from a URL: certificate
//! rotations reach Latchkey without an admin. A refreshed document is put
//! into effect only when it names the same IdP (entity ID); one that names
//! another is kept out and audited, as an admin must save (and test) such
//! a change. A failed fetch keeps the metadata in use.

use super::idp_metadata::{IdpMetadata, fetch};
use crate::audit::ssr::{self as audit, Event};
use crate::error::AppError;
use crate::orgs::access::Actor;
use crate::ssr::now;
use crate::ssr::state::AppState;
use serde_json::json;

/// How old fetched metadata may get before it is fetched again.
pub const REFRESH_AFTER_SECS: i64 = 24 * 3600;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub updated: u64,
    pub refused: u64,
    pub failed: u64,
}

fn fingerprints(idp: &IdpMetadata) -> Vec<String> {
    let mut f: Vec<String> = idp
        .certificates
        .iter()
        .map(|c| c.sha256_fingerprint.clone())
        .collect();
    f.sort();
    f
}

/// Refreshes every SAML connection whose metadata URL was last fetched
/// more than [`REFRESH_AFTER_SECS`] ago.
pub async fn refresh_due(state: &AppState) -> Result<Refreshed, AppError> {
    let due: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT org_id, discovery_url, issuer, COALESCE(saml_metadata_xml, '') FROM sso_connections \
         WHERE protocol = 'saml' AND discovery_url <> '' \
         AND COALESCE(saml_metadata_fetched_at, 0) < $1",
    )
    .bind(now() - REFRESH_AFTER_SECS)
    .fetch_all(&state.db)
    .await?;
    let guard = crate::sso::net::Guard {
        allow_private: state.settings.allow_private_idp,
    };
    let mut done = Refreshed::default();
    for (org_id, url, entity_id, old_xml) in due {
        let (xml, idp) = match fetch(guard, &url).await {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!(org = %org_id, error = %e, "SAML metadata refresh failed; the stored metadata stays");
                done.failed += 1;
                continue;
            }
        };
        let old = IdpMetadata::parse(&old_xml).ok();
        let mut tx = crate::ssr::db::begin_write(&state.db).await?;
        if idp.entity_id != entity_id {
            // Asked again tomorrow, not at every hourly wake-up.
            sqlx::query(
                "UPDATE sso_connections SET saml_metadata_fetched_at = $2 WHERE org_id = $1",
            )
            .bind(&org_id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            audit::record(
                &mut *tx,
                Event {
                    org_id: &org_id,
                    actor: &Actor::System,
                    action: "sso.metadata_refresh_refused",
                    target: None,
                    details: json!({ "from": entity_id, "to": idp.entity_id, "url": url }),
                    ip: None,
                },
            )
            .await?;
            tx.commit().await?;
            done.refused += 1;
            continue;
        }
        sqlx::query(
            "UPDATE sso_connections SET saml_metadata_xml = $2, saml_metadata_fetched_at = $3 \
             WHERE org_id = $1 AND protocol = 'saml' AND issuer = $4",
        )
        .bind(&org_id)
        .bind(&xml)
        .bind(now())
        .bind(&entity_id)
        .execute(&mut *tx)
        .await?;
        let before = old.as_ref().map(fingerprints).unwrap_or_default();
        let after = fingerprints(&idp);
        if before != after {
            audit::record(
                &mut *tx,
                Event {
                    org_id: &org_id,
                    actor: &Actor::System,
                    action: "sso.metadata_refreshed",
                    target: None,
                    details: json!({ "certificates_before": before, "certificates_after": after }),
                    ip: None,
                },
            )
            .await?;
        }
        tx.commit().await?;
        done.updated += 1;
    }
    Ok(done)
}
