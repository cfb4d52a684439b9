//! Saving a SAML 2.0 connection: the IdP's metadata (fetched through the
//! SSRF guard, or pasted), the attribute names and the SAML switches. The
//! rest of the lifecycle (provisioning, Require SSO, test, enable,
//! disconnect) is the one every connection has, in `ssr`.

use super::ssr::{
    Saved, SsoInput, check_claims, check_label, check_session, field, finish_save, get,
    merged_provisioning, saml_defaults, save_action,
};
use super::{ClaimNames, SsoConfig};
use crate::error::AppError;
use crate::orgs::access::Access;
use crate::saml::idp_metadata::{self, FetchMetadataError, IdpMetadata};
use crate::ssr::db::Db;
use crate::ssr::state::Settings;
use crate::ssr::{now, random};
use std::net::IpAddr;
use std::sync::Arc;

/// Pasted metadata larger than this is refused (fetched metadata has the
/// fetcher's own 1 MiB cap).
const MAX_XML_BYTES: usize = 1024 * 1024;

/// The stored connection, as a SAML save needs it.
pub(super) struct StoredSaml {
    pub metadata_url: String,
    pub metadata_xml: String,
    pub tested: bool,
    /// The stored attribute names (JSON).
    pub claims: String,
}

/// Where the IdP is known from.
struct Source {
    url: String,
    xml: String,
    idp: Arc<IdpMetadata>,
    fetched: bool,
}

fn metadata_error(on: &str, e: &dyn std::fmt::Display) -> AppError {
    field(on, "invalid_idp_metadata", e.to_string())
}

async fn source(
    settings: &Settings,
    input: &SsoInput,
    stored: Option<&StoredSaml>,
) -> Result<Source, AppError> {
    let url = input
        .idp_metadata_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let xml = input
        .idp_metadata_xml
        .as_deref()
        .map(str::trim)
        .filter(|x| !x.is_empty());
    match (url, xml) {
        (Some(_), Some(_)) => Err(field(
            "idp_metadata_url",
            "invalid_idp_metadata",
            "Give the IdP's metadata URL or its XML, not both.",
        )),
        (Some(url), None) => {
            let guard = super::net::Guard {
                allow_private: settings.allow_private_idp,
            };
            let (xml, idp) = idp_metadata::fetch(guard, url)
                .await
                .map_err(|e: FetchMetadataError| metadata_error("idp_metadata_url", &e))?;
            Ok(Source {
                url: url.to_owned(),
                xml,
                idp: Arc::new(idp),
                fetched: true,
            })
        }
        (None, Some(xml)) => {
            if xml.len() > MAX_XML_BYTES {
                return Err(field(
                    "idp_metadata_xml",
                    "invalid_idp_metadata",
                    "That metadata is larger than 1 MiB.",
                ));
            }
            let idp = IdpMetadata::parse(xml).map_err(|e| {
                metadata_error(
                    "idp_metadata_xml",
                    &format!("The metadata was refused: {e}."),
                )
            })?;
            Ok(Source {
                url: String::new(),
                xml: xml.to_owned(),
                idp: Arc::new(idp),
                fetched: false,
            })
        }
        (None, None) => match stored {
            Some(s) => {
                let idp = idp_metadata::parse_cached(&s.metadata_xml)
                    .map_err(|e| metadata_error("idp_metadata_xml", &e))?;
                Ok(Source {
                    url: s.metadata_url.clone(),
                    xml: s.metadata_xml.clone(),
                    idp,
                    fetched: false,
                })
            }
            None => Err(field(
                "idp_metadata_url",
                "missing_idp_metadata",
                "Give the IdP's metadata URL, or paste its metadata XML.",
            )),
        },
    }
}

/// The IdP a connection trusts: its entity ID and its signing keys.
fn trust_of(idp: &IdpMetadata) -> (String, Vec<String>) {
    let mut prints: Vec<String> = idp
        .certificates
        .iter()
        .map(|c| c.sha256_fingerprint.clone())
        .collect();
    prints.sort();
    (idp.entity_id.clone(), prints)
}

/// Everything a SAML connection's trust is: the IdP, where its metadata is
/// fetched from (the daily refresh reads it there), and the attribute taken
/// as the email.
fn full_trust(idp: &IdpMetadata, url: &str, email: &str) -> (String, Vec<String>, String, String) {
    let (entity, prints) = trust_of(idp);
    (entity, prints, url.to_owned(), email.to_owned())
}

/// Validates (the metadata must name an IdP with a Redirect sign-on
/// endpoint and a signing certificate) and stores. A change of IdP entity
/// ID or certificates made while a tested configuration serves waits for
/// its own test, as an OIDC change of provider does.
pub(super) async fn save(
    db: &Db,
    settings: &Settings,
    access: &Access,
    input: SsoInput,
    stored: Option<StoredSaml>,
    ip: Option<IpAddr>,
) -> Result<SsoConfig, AppError> {
    let label = check_label(&input.provider_label)?;
    let session = check_session(input.session_max_age_secs)?;
    let attributes: Option<ClaimNames> = input
        .attributes
        .clone()
        .or_else(|| input.claims.clone())
        .map(check_claims)
        .transpose()?;
    let provisioning = merged_provisioning(
        db,
        access,
        (
            input.jit_enabled,
            input.default_role.clone(),
            input.role_mappings.clone(),
        ),
        ip,
    )
    .await?;
    super::trust::check_carry_over(access, input.carry_over_accounts)?;
    let src = source(settings, &input, stored.as_ref()).await?;
    let old_email = stored
        .as_ref()
        .map(|s| super::ssr::email_claim_of(&s.claims))
        .unwrap_or_default();
    let new_email = attributes
        .as_ref()
        .map(|a| a.email.clone())
        .unwrap_or_else(|| old_email.clone());
    let old_trust = stored.as_ref().and_then(|s| {
        idp_metadata::parse_cached(&s.metadata_xml)
            .ok()
            .map(|m| full_trust(&m, &s.metadata_url, &old_email))
    });
    let trust_changed = old_trust
        .as_ref()
        .is_some_and(|t| *t != full_trust(&src.idp, &src.url, &new_email));
    let stage = stored.as_ref().is_some_and(|s| s.tested) && trust_changed;
    let at = now();
    let fetched_at = src.fetched.then_some(at);
    let attributes_json = attributes
        .as_ref()
        .map(|a| serde_json::to_string(a).unwrap_or_default());
    let mut tx = crate::ssr::db::begin_write(db).await?;
    match &stored {
        None => {
            let attrs = attributes.unwrap_or_else(saml_defaults);
            sqlx::query(
                "INSERT INTO sso_connections (org_id, login_id, provider_label, discovery_url, issuer, \
                 client_id, client_secret_enc, scopes, claims, session_max_age_secs, created_at, updated_at, \
                 protocol, saml_metadata_xml, saml_metadata_fetched_at, saml_allow_idp_initiated, saml_allow_sha1, \
                 saml_allow_aes_cbc) \
                 VALUES ($1, $2, $3, $4, $5, '', '', '', $6, $7, $8, $8, 'saml', $9, $10, $11, $12, $13)",
            )
            .bind(&access.org_id)
            .bind(random::lower_alnum(24))
            .bind(&label)
            .bind(&src.url)
            .bind(&src.idp.entity_id)
            .bind(serde_json::to_string(&attrs).unwrap_or_default())
            .bind(session)
            .bind(at)
            .bind(&src.xml)
            .bind(fetched_at)
            .bind(i64::from(input.allow_idp_initiated.unwrap_or(false)))
            .bind(i64::from(input.allow_sha1.unwrap_or(false)))
            .bind(i64::from(input.allow_aes_cbc.unwrap_or(false)))
            .execute(&mut *tx)
            .await?;
            super::trust::applied_directly(&mut tx, access, input.carry_over_accounts, ip).await?;
        }
        Some(_) => {
            // What does not decide trust applies at once.
            sqlx::query(
                "UPDATE sso_connections SET provider_label = $2, claims = COALESCE($3, claims), \
                 session_max_age_secs = $4, \
                 saml_allow_idp_initiated = COALESCE($5, saml_allow_idp_initiated), \
                 saml_allow_sha1 = COALESCE($6, saml_allow_sha1), updated_at = $7, \
                 saml_allow_aes_cbc = COALESCE($8, saml_allow_aes_cbc) WHERE org_id = $1",
            )
            .bind(&access.org_id)
            .bind(&label)
            // Staged, the attribute names wait with the change.
            .bind(attributes_json.as_ref().filter(|_| !stage))
            .bind(session)
            .bind(input.allow_idp_initiated.map(i64::from))
            .bind(input.allow_sha1.map(i64::from))
            .bind(at)
            .bind(input.allow_aes_cbc.map(i64::from))
            .execute(&mut *tx)
            .await?;
            if stage {
                sqlx::query(
                    "UPDATE sso_connections SET pending_discovery_url = $2, pending_issuer = $3, \
                     pending_client_id = '', pending_client_secret_enc = NULL, \
                     pending_saml_metadata_xml = $4, pending_saved_at = $5, pending_last_error = NULL \
                     WHERE org_id = $1",
                )
                .bind(&access.org_id)
                .bind(&src.url)
                .bind(&src.idp.entity_id)
                .bind(&src.xml)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                super::trust::staged(
                    &mut tx,
                    access,
                    attributes_json.as_deref(),
                    input.carry_over_accounts,
                )
                .await?;
            } else {
                // Untested, or the same IdP (a refreshed document): the
                // metadata applies directly and any staged change is void.
                sqlx::query(
                    "UPDATE sso_connections SET discovery_url = $2, issuer = $3, saml_metadata_xml = $4, \
                     saml_metadata_fetched_at = COALESCE($5, saml_metadata_fetched_at), \
                     pending_discovery_url = NULL, pending_issuer = NULL, pending_client_id = NULL, \
                     pending_saml_metadata_xml = NULL, pending_saved_at = NULL, pending_last_error = NULL \
                     WHERE org_id = $1",
                )
                .bind(&access.org_id)
                .bind(&src.url)
                .bind(&src.idp.entity_id)
                .bind(&src.xml)
                .bind(fetched_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(&super::trust::clear_pending_sql())
                    .bind(&access.org_id)
                    .execute(&mut *tx)
                    .await?;
                if trust_changed {
                    sqlx::query(
                        "UPDATE sso_connections SET last_test_ok = NULL, last_test_at = NULL, \
                         last_test_error = NULL, last_test_claims = NULL WHERE org_id = $1",
                    )
                    .bind(&access.org_id)
                    .execute(&mut *tx)
                    .await?;
                    super::trust::applied_directly(&mut tx, access, input.carry_over_accounts, ip)
                        .await?;
                } else {
                    super::trust::set_carry_over(&mut tx, access, input.carry_over_accounts)
                        .await?;
                }
            }
        }
    }
    let saved = Saved {
        action: save_action(stage, stored.is_some()),
        label: &label,
        provisioning: provisioning.as_ref(),
        require_sso: input.require_sso,
        details: serde_json::json!({
            "protocol": "saml",
            "idp_entity_id": src.idp.entity_id,
            "idp_metadata_url": (!src.url.is_empty()).then_some(&src.url),
            "idp_certificates": trust_of(&src.idp).1,
            "allow_idp_initiated": input.allow_idp_initiated,
            "allow_sha1": input.allow_sha1,
            "allow_aes_cbc": input.allow_aes_cbc,
        }),
    };
    finish_save(tx, access, saved, ip).await?;
    get(db, settings, &access.org_id).await
}
