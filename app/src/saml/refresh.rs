//! The daily refresh of IdP metadata fetched from a URL. A refreshed
//! document with the same IdP (entity ID) and signing keys is put into
//! effect; one with new keys (a rotation) is staged beside the keys in use
//! and waits for a test and an owner's or admin's approval, as any change
//! of trust not made by one does (`sso::trust`); one that names another IdP
//! is kept out and audited. A failed fetch keeps the metadata in use.

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
    /// New signing keys, staged for a test and an admin's approval.
    pub staged: u64,
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
        let before = old.as_ref().map(fingerprints).unwrap_or_default();
        let after = fingerprints(&idp);
        let same_keys = before == after;
        if same_keys {
            // The same keys (new endpoints, a re-issued document): in effect.
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
        } else {
            // New signing keys decide who can sign people in: staged for a
            // test and an owner's or admin's approval, never installed by
            // the fetch alone (whoever controls the URL's answer would
            // otherwise choose the keys). The keys in effect keep working.
            let waiting: Option<(Option<String>,)> = sqlx::query_as(
                "SELECT pending_saml_metadata_xml FROM sso_connections WHERE org_id = $1",
            )
            .bind(&org_id)
            .fetch_optional(&mut *tx)
            .await?;
            let already = waiting
                .and_then(|(x,)| x)
                .and_then(|x| IdpMetadata::parse(&x).ok())
                .is_some_and(|p| fingerprints(&p) == after);
            if !already {
                let at = now();
                sqlx::query(
                    "UPDATE sso_connections SET pending_discovery_url = discovery_url, pending_issuer = issuer, \
                     pending_client_id = '', pending_client_secret_enc = NULL, pending_saml_metadata_xml = $2, \
                     pending_saved_at = $3, pending_last_error = NULL, pending_needs_approval = 1, \
                     pending_saved_by = 'metadata refresh', pending_tested_at = NULL, pending_test_claims = NULL, \
                     pending_claims = NULL, pending_carry_over = 0 WHERE org_id = $1",
                )
                .bind(&org_id)
                .bind(&xml)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                audit::record(
                    &mut *tx,
                    Event {
                        org_id: &org_id,
                        actor: &Actor::System,
                        action: "sso.metadata_refresh_staged",
                        target: None,
                        details: json!({ "certificates_before": before, "certificates_after": after }),
                        ip: None,
                    },
                )
                .await?;
            }
            sqlx::query(
                "UPDATE sso_connections SET saml_metadata_fetched_at = $2 WHERE org_id = $1",
            )
            .bind(&org_id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if same_keys {
            done.updated += 1;
        } else {
            done.staged += 1;
        }
    }
    Ok(done)
}
