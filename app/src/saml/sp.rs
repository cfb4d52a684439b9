//! Latchkey as a SAML service provider for one organization: its entity ID
//! and endpoints (derived from the public URL, so an admin can register
//! them at the IdP before anything else), and its key pair, made on first
//! use and sealed at rest.

use super::sp_key::SpKey;
use super::sp_metadata::{SpDescription, sp_metadata_xml};
use crate::error::AppError;
use crate::ssr::now;
use crate::ssr::state::AppState;
use base64::Engine as _;

/// How long a generated SP certificate is valid (IdPs use it as a key, and
/// rotation replaces it before then).
const CERT_DAYS: u32 = 3650;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpUrls {
    pub entity_id: String,
    pub acs_url: String,
    pub slo_url: String,
    pub metadata_url: String,
}

pub fn sp_urls(public_url: &str, org_id: &str) -> SpUrls {
    let base = format!("{public_url}/saml/{org_id}");
    SpUrls {
        entity_id: format!("{base}/metadata"),
        acs_url: format!("{base}/acs"),
        slo_url: format!("{base}/slo"),
        metadata_url: format!("{base}/metadata"),
    }
}

fn key_context(org_id: &str) -> String {
    format!("saml_sp_key:{org_id}")
}

/// The organization's SP key pair, made and stored the first time; `None`
/// when there is no such organization (nothing is made for it).
pub async fn sp_key(state: &AppState, org_id: &str) -> Result<Option<SpKey>, AppError> {
    if let Some(key) = load(state, org_id).await? {
        return Ok(Some(key));
    }
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_optional(&state.db)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    // Key generation takes tens of milliseconds of CPU: off the async
    // threads. Two first requests racing both generate; one row wins and
    // both answer with it.
    let (key, sealed) = generate(state, org_id).await?;
    sqlx::query(
        "INSERT INTO saml_sp_keys (org_id, key_enc, cert_b64, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(org_id)
    .bind(&sealed)
    .bind(key.cert_b64())
    .bind(now())
    .execute(&state.db)
    .await?;
    load(state, org_id).await
}

/// A new key pair for `org_id` and its private key sealed for storage.
async fn generate(state: &AppState, org_id: &str) -> Result<(SpKey, String), AppError> {
    let common_name = format!("Latchkey SP {org_id}");
    let key = tokio::task::spawn_blocking(move || SpKey::generate(&common_name, CERT_DAYS))
        .await
        .map_err(|_| AppError::internal())?
        .map_err(|_| AppError::internal())?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sealed = state
        .keys
        .secrets()
        .encrypt(&b64.encode(&key.key_der), &key_context(org_id));
    Ok((key, sealed))
}

fn unseal(state: &AppState, org_id: &str, sealed: &str) -> Result<Vec<u8>, AppError> {
    let unsealed = state
        .keys
        .secrets()
        .decrypt(sealed, &key_context(org_id))
        .map_err(|_| {
            tracing::error!(org_id, "SAML SP key cannot be opened (another secret key?)");
            AppError::internal()
        })?;
    base64::engine::general_purpose::STANDARD
        .decode(unsealed)
        .map_err(|_| AppError::internal())
}

/// The private keys that may open an encrypted assertion: the current one,
/// then the one it replaced (IdPs take a while to read new metadata).
pub async fn decryption_keys(state: &AppState, org_id: &str) -> Result<Vec<Vec<u8>>, AppError> {
    // No stored key: nothing was ever published to encrypt to.
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT key_enc, previous_key_enc FROM saml_sp_keys WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(&state.db)
            .await?;
    let Some((current, previous)) = row else {
        return Ok(Vec::new());
    };
    std::iter::once(current)
        .chain(previous)
        .map(|sealed| unseal(state, org_id, &sealed))
        .collect()
}

/// Replaces the organization's SP key pair (the new certificate is in the
/// SP metadata at once; the old key still decrypts until the next
/// rotation). Returns the new certificate's description.
pub async fn rotate(
    state: &AppState,
    access: &crate::orgs::access::Access,
    ip: Option<std::net::IpAddr>,
) -> Result<super::idp_metadata::IdpCertificate, AppError> {
    use crate::audit::ssr::{Event, Target, record};
    access.require_in(
        &[crate::setup_links::SetupScope::Sso],
        crate::orgs::permissions::Permission::SsoWrite,
    )?;
    let old = sp_key(state, &access.org_id)
        .await?
        .ok_or_else(|| AppError::not_found("No such organization."))?;
    let (key, sealed) = generate(state, &access.org_id).await?;
    let describe =
        |der: &[u8]| super::idp_metadata::describe(der).map_err(|_| AppError::internal());
    let (before, after) = (describe(&old.cert_der)?, describe(&key.cert_der)?);
    let mut tx = crate::ssr::db::begin_write(&state.db).await?;
    sqlx::query(
        "UPDATE saml_sp_keys SET previous_key_enc = key_enc, key_enc = $2, cert_b64 = $3, \
         created_at = $4 WHERE org_id = $1",
    )
    .bind(&access.org_id)
    .bind(&sealed)
    .bind(key.cert_b64())
    .bind(now())
    .execute(&mut *tx)
    .await?;
    record(
        &mut *tx,
        Event::by(
            access,
            "sso.sp_key_rotated",
            Target {
                kind: "sso",
                id: &access.org_id,
                label: "SAML SP key",
            },
            serde_json::json!({
                "from": before.sha256_fingerprint,
                "to": after.sha256_fingerprint,
            }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// The SP certificate as the console shows it, once one exists.
pub async fn certificate(
    db: &crate::ssr::db::Db,
    org_id: &str,
) -> Result<Option<super::idp_metadata::IdpCertificate>, AppError> {
    let cert: Option<String> =
        sqlx::query_scalar("SELECT cert_b64 FROM saml_sp_keys WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(db)
            .await?;
    Ok(cert
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .and_then(|der| super::idp_metadata::describe(&der).ok()))
}

async fn load(state: &AppState, org_id: &str) -> Result<Option<SpKey>, AppError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT key_enc, cert_b64 FROM saml_sp_keys WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(&state.db)
            .await?;
    let Some((sealed, cert_b64)) = row else {
        return Ok(None);
    };
    let key_der = unseal(state, org_id, &sealed)?;
    let cert_der = base64::engine::general_purpose::STANDARD
        .decode(cert_b64)
        .map_err(|_| AppError::internal())?;
    Ok(Some(SpKey { key_der, cert_der }))
}

/// The SP metadata XML of `org_id`, or `None` for an unknown organization.
pub async fn metadata(state: &AppState, org_id: &str) -> Result<Option<String>, AppError> {
    let Some(key) = sp_key(state, org_id).await? else {
        return Ok(None);
    };
    let urls = sp_urls(&state.settings.public_url, org_id);
    let cert = key.cert_b64();
    Ok(Some(sp_metadata_xml(&SpDescription {
        entity_id: &urls.entity_id,
        acs_url: &urls.acs_url,
        slo_url: &urls.slo_url,
        certificate_b64: Some(&cert),
    })))
}
