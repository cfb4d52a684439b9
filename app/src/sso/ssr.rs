//! Storing and validating an organization's SSO connection.

use super::discovery;
use super::mapping::{self, Provisioning, RoleMapping};
use super::net::Guard;
use super::{ClaimNames, DEFAULT_SCOPES, DEFAULT_SESSION_SECS, LastTest, PendingChange, SsoConfig};
use crate::audit::ssr::{Event, Target, record};
use crate::error::AppError;
use crate::orgs::access::Access;
use crate::orgs::permissions::Permission;
use crate::setup_links::SetupScope;
use crate::ssr::crypto::Keys;
use crate::ssr::db::Db;
use crate::ssr::state::Settings;
use crate::ssr::{now, random};
use serde::Deserialize;
use std::net::IpAddr;

/// The writable fields, as the API's `PUT` and the console send them.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SsoInput {
    /// `oidc` (default for a new connection) or `saml`. Absent keeps the
    /// stored one; switching needs a disconnect first.
    #[serde(default)]
    pub protocol: Option<String>,
    pub provider_label: String,
    /// OIDC only.
    #[serde(default)]
    pub discovery_url: String,
    /// OIDC only.
    #[serde(default)]
    pub client_id: String,
    /// Write-only. Empty or absent keeps the stored secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub claims: Option<ClaimNames>,
    #[serde(default)]
    pub session_max_age_secs: Option<i64>,
    /// Members in verified domains must sign in through SSO (guests are
    /// exempt; owners keep audited password sign-in). Absent keeps it.
    #[serde(default)]
    pub require_sso: Option<bool>,
    /// Create accounts at first SSO sign-in. Absent keeps it.
    #[serde(default)]
    pub jit_enabled: Option<bool>,
    /// The role when no mapping rule matches (any role but `owner`).
    #[serde(default)]
    pub default_role: Option<String>,
    /// Ordered rules, first match wins. Absent keeps them; `[]` clears them.
    #[serde(default)]
    pub role_mappings: Option<Vec<RoleMapping>>,
    /// SAML: the IdP metadata's URL (fetched now and daily) ...
    #[serde(default)]
    pub idp_metadata_url: Option<String>,
    /// ... or the document itself. Neither keeps the stored metadata.
    #[serde(default)]
    pub idp_metadata_xml: Option<String>,
    /// SAML: absent keeps it (false for a new connection: an unsolicited
    /// response can sign a browser in without its asking).
    #[serde(default)]
    pub allow_idp_initiated: Option<bool>,
    /// SAML: absent keeps it (false for a new connection).
    #[serde(default)]
    pub allow_sha1: Option<bool>,
    /// SAML: accept assertions encrypted with AES-CBC; absent keeps it
    /// (false for a new connection; AES-GCM is always accepted).
    #[serde(default)]
    pub allow_aes_cbc: Option<bool>,
    /// SAML attribute names; absent keeps them (generic SAML names for a
    /// new connection).
    #[serde(default)]
    pub attributes: Option<ClaimNames>,
    /// When this save changes the identity provider: accounts of this
    /// organization made by its previous IdP are carried over to the new
    /// one when their email matches (an IdP migration). Owners and admins
    /// only; absent or false for any other change.
    #[serde(default)]
    pub carry_over_accounts: Option<bool>,
}

const MIN_SESSION: i64 = 3600;
const MAX_SESSION: i64 = 30 * 24 * 3600;

fn secret_context(org_id: &str) -> String {
    format!("sso_client_secret:{org_id}")
}

fn uris(public_url: &str, org_id: &str) -> (String, String, String) {
    let base = format!("{public_url}/sso/{org_id}/oidc");
    (
        format!("{base}/callback"),
        format!("{base}/backchannel-logout"),
        format!("{base}/initiate"),
    )
}

/// Where the IdP sends the browser after RP-initiated logout.
pub fn post_logout_redirect_uri(public_url: &str) -> String {
    format!("{public_url}/login?signed_out=1")
}

struct Stored {
    login_id: String,
    protocol: String,
    provider_label: String,
    discovery_url: String,
    issuer: String,
    client_id: String,
    scopes: String,
    claims: String,
    enabled: bool,
    require_sso: bool,
    session_max_age_secs: i64,
    jit_enabled: bool,
    default_role: String,
    role_mappings: String,
    last_test: Option<LastTest>,
    last_test_claims: Option<String>,
    saml_metadata_xml: Option<String>,
    allow_idp_initiated: bool,
    allow_sha1: bool,
    allow_aes_cbc: bool,
    carry_over_accounts: bool,
    trust_approved: bool,
}

async fn load(db: &Db, org_id: &str) -> Result<Option<Stored>, AppError> {
    use sqlx::Row as _;
    let row = sqlx::query(
        "SELECT login_id, protocol, provider_label, discovery_url, issuer, client_id, scopes, claims, \
         enabled, require_sso, session_max_age_secs, jit_enabled, default_role, role_mappings, \
         last_test_ok, last_test_at, last_test_error, last_test_claims, saml_metadata_xml, \
         saml_allow_idp_initiated, saml_allow_sha1, saml_allow_aes_cbc, carry_over_accounts, trust_approved \
         FROM sso_connections WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(db)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let s = |c: &str| r.try_get::<String, _>(c);
    let n = |c: &str| r.try_get::<i64, _>(c);
    let ok: Option<i64> = r.try_get("last_test_ok")?;
    let at: Option<i64> = r.try_get("last_test_at")?;
    Ok(Some(Stored {
        login_id: s("login_id")?,
        protocol: s("protocol")?,
        provider_label: s("provider_label")?,
        discovery_url: s("discovery_url")?,
        issuer: s("issuer")?,
        client_id: s("client_id")?,
        scopes: s("scopes")?,
        claims: s("claims")?,
        enabled: n("enabled")? != 0,
        require_sso: n("require_sso")? != 0,
        session_max_age_secs: n("session_max_age_secs")?,
        jit_enabled: n("jit_enabled")? != 0,
        default_role: s("default_role")?,
        role_mappings: s("role_mappings")?,
        last_test: match (ok, at) {
            (Some(ok), Some(at)) => Some(LastTest {
                ok: ok != 0,
                at,
                error: r.try_get("last_test_error")?,
                result: None,
            }),
            _ => None,
        },
        last_test_claims: r.try_get("last_test_claims")?,
        saml_metadata_xml: r.try_get("saml_metadata_xml")?,
        allow_idp_initiated: n("saml_allow_idp_initiated")? != 0,
        allow_sha1: n("saml_allow_sha1")? != 0,
        allow_aes_cbc: n("saml_allow_aes_cbc")? != 0,
        carry_over_accounts: n("carry_over_accounts")? != 0,
        trust_approved: n("trust_approved")? != 0,
    }))
}

/// Certificates 30 days from expiry are flagged for rotation.
const CERT_WARNING_SECS: i64 = 30 * 24 * 3600;

fn certificate_info(c: crate::saml::idp_metadata::IdpCertificate) -> super::IdpCertificateInfo {
    super::IdpCertificateInfo {
        expires_soon: c.not_after <= now() + CERT_WARNING_SECS,
        subject: c.subject,
        not_after: c.not_after,
        sha256_fingerprint: c.sha256_fingerprint,
    }
}

/// What the console shows of stored IdP metadata.
fn saml_view(xml: Option<&str>) -> (Option<String>, Vec<super::IdpCertificateInfo>) {
    let Some(idp) = xml.and_then(|x| crate::saml::idp_metadata::parse_cached(x).ok()) else {
        return (None, Vec::new());
    };
    let certs = idp
        .certificates
        .iter()
        .cloned()
        .map(certificate_info)
        .collect();
    (Some(idp.sso_url.clone()), certs)
}

/// The SSO object before anything is saved: the URIs to give the IdP and
/// the defaults the first save starts from.
pub(crate) fn unconfigured(public_url: &str, org_id: &str) -> SsoConfig {
    let (redirect_uri, backchannel_logout_uri, initiate_login_uri) = uris(public_url, org_id);
    let sp = crate::saml::sp::sp_urls(public_url, org_id);
    SsoConfig {
        configured: false,
        protocol: "oidc".into(),
        provider_label: String::new(),
        discovery_url: String::new(),
        issuer: None,
        client_id: String::new(),
        client_secret_set: false,
        scopes: DEFAULT_SCOPES.split(' ').map(str::to_owned).collect(),
        claims: ClaimNames::default(),
        enabled: false,
        require_sso: false,
        session_max_age_secs: DEFAULT_SESSION_SECS,
        jit_enabled: true,
        default_role: "member".into(),
        role_mappings: Vec::new(),
        redirect_uri,
        backchannel_logout_uri,
        initiate_login_uri,
        post_logout_redirect_uri: post_logout_redirect_uri(public_url),
        login_url: None,
        last_test: None,
        pending_change: None,
        idp_metadata_url: None,
        allow_idp_initiated: false,
        allow_sha1: false,
        allow_aes_cbc: false,
        attributes: saml_defaults(),
        sp_entity_id: sp.entity_id,
        acs_url: sp.acs_url,
        slo_url: sp.slo_url,
        sp_metadata_url: sp.metadata_url,
        idp_sso_url: None,
        idp_certificates: Vec::new(),
        sp_certificate: None,
        carry_over_accounts: false,
        jit_held: false,
    }
}

/// The SSO object; the URIs to give the IdP are there before anything is saved.
pub async fn get(db: &Db, settings: &Settings, org_id: &str) -> Result<SsoConfig, AppError> {
    let (redirect_uri, backchannel_logout_uri, initiate_login_uri) =
        uris(&settings.public_url, org_id);
    let sp = crate::saml::sp::sp_urls(&settings.public_url, org_id);
    let mut stored = load(db, org_id).await?;
    if let Some(s) = stored.as_mut()
        && let Some(test) = s.last_test.as_mut().filter(|t| t.ok)
    {
        test.result = s
            .last_test_claims
            .take()
            .and_then(|c| serde_json::from_str(&c).ok());
    }
    Ok(match stored {
        None => unconfigured(&settings.public_url, org_id),
        Some(s) => {
            let saml = s.protocol == "saml";
            let claims: ClaimNames = serde_json::from_str(&s.claims).unwrap_or_default();
            let (idp_sso_url, idp_certificates) = saml_view(s.saml_metadata_xml.as_deref());
            let sp_certificate = if saml {
                crate::saml::sp::certificate(db, org_id)
                    .await?
                    .map(certificate_info)
            } else {
                None
            };
            SsoConfig {
                configured: true,
                login_url: Some(format!("{}/sso/{}", settings.public_url, s.login_id)),
                provider_label: s.provider_label,
                idp_metadata_url: (saml && !s.discovery_url.is_empty())
                    .then(|| s.discovery_url.clone()),
                discovery_url: if saml { String::new() } else { s.discovery_url },
                issuer: Some(s.issuer),
                client_id: s.client_id,
                client_secret_set: !saml,
                scopes: s.scopes.split_whitespace().map(str::to_owned).collect(),
                attributes: if saml {
                    claims.clone()
                } else {
                    saml_defaults()
                },
                claims,
                enabled: s.enabled,
                require_sso: s.require_sso,
                session_max_age_secs: s.session_max_age_secs,
                jit_enabled: s.jit_enabled,
                default_role: s.default_role,
                role_mappings: serde_json::from_str(&s.role_mappings).unwrap_or_default(),
                redirect_uri,
                backchannel_logout_uri,
                initiate_login_uri,
                post_logout_redirect_uri: post_logout_redirect_uri(&settings.public_url),
                last_test: s.last_test,
                pending_change: pending_change(db, org_id).await?,
                allow_idp_initiated: s.allow_idp_initiated,
                allow_sha1: s.allow_sha1,
                allow_aes_cbc: s.allow_aes_cbc,
                sp_entity_id: sp.entity_id,
                acs_url: sp.acs_url,
                slo_url: sp.slo_url,
                sp_metadata_url: sp.metadata_url,
                idp_sso_url,
                idp_certificates,
                sp_certificate,
                carry_over_accounts: s.carry_over_accounts,
                jit_held: !s.trust_approved,
                protocol: s.protocol,
            }
        }
    })
}

/// The SSO object as `access` may read it: the claims the last test
/// brought back (a person's whole profile at the IdP) only for those who
/// may change the connection; readers see the outcome (email, domain,
/// role) without them.
pub fn as_seen_by(mut config: SsoConfig, access: &Access) -> SsoConfig {
    if !access.can(Permission::SsoWrite)
        && let Some(result) = config
            .last_test
            .as_mut()
            .and_then(|t| t.result.as_mut())
            .and_then(|r| r.as_object_mut())
    {
        result.remove("claims");
    }
    config
}

/// The attribute names a new SAML connection starts from.
pub fn saml_defaults() -> ClaimNames {
    crate::saml::attributes::preset(crate::saml::attributes::Preset::Generic)
}

type PendingRow = (
    (
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        Option<i64>,
        Option<String>,
    ),
    (i64, Option<String>, Option<i64>, i64),
);

/// The staged change of `org_id`'s connection, if one waits for a test.
pub async fn pending_change(db: &Db, org_id: &str) -> Result<Option<PendingChange>, AppError> {
    use sqlx::Row as _;
    let row = sqlx::query(
        "SELECT pending_discovery_url, pending_issuer, pending_client_id, \
         CAST(CASE WHEN pending_client_secret_enc IS NULL THEN 0 ELSE 1 END AS BIGINT), \
         pending_saved_at, pending_last_error, pending_needs_approval, pending_saved_by, \
         pending_tested_at, pending_carry_over FROM sso_connections WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(db)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let s = |i: usize| r.try_get::<Option<String>, _>(i);
    let n = |i: usize| r.try_get::<Option<i64>, _>(i);
    let row: PendingRow = (
        (s(0)?, s(1)?, s(2)?, r.try_get(3)?, n(4)?, s(5)?),
        (r.try_get(6)?, s(7)?, n(8)?, r.try_get(9)?),
    );
    Ok(match row {
        (
            (
                Some(discovery_url),
                Some(issuer),
                Some(client_id),
                secret,
                Some(saved_at),
                last_error,
            ),
            (needs, saved_by, tested_at, carry),
        ) => Some(PendingChange {
            discovery_url,
            issuer,
            client_id,
            client_secret_changed: secret != 0,
            saved_at,
            last_error,
            waits_for_approval: needs != 0,
            saved_by,
            tested_at: tested_at.filter(|t| *t >= saved_at),
            carry_over_accounts: carry != 0,
        }),
        _ => None,
    })
}

pub(super) fn field(field: &str, code: &str, msg: impl Into<String>) -> AppError {
    AppError::unprocessable(code, msg).on(field)
}

fn check_scopes(scopes: Option<Vec<String>>) -> Result<String, AppError> {
    let scopes: Vec<String> = match scopes {
        Some(s) if !s.is_empty() => s
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => return Ok(DEFAULT_SCOPES.to_owned()),
    };
    if !scopes.iter().any(|s| s == "openid") {
        return Err(field(
            "scopes",
            "invalid_scopes",
            "The scopes must include openid.",
        ));
    }
    if let Some(bad) = scopes.iter().find(|s| {
        s.len() > 100
            || !s
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    }) {
        return Err(field(
            "scopes",
            "invalid_scopes",
            format!("“{bad}” is not a valid scope."),
        ));
    }
    Ok(scopes.join(" "))
}

pub(super) fn check_claims(claims: ClaimNames) -> Result<ClaimNames, AppError> {
    for (name, value) in [
        ("email", &claims.email),
        ("name", &claims.name),
        ("given_name", &claims.given_name),
        ("family_name", &claims.family_name),
        ("username", &claims.username),
        ("groups", &claims.groups),
    ] {
        let ok =
            !value.is_empty() && value.len() <= 100 && value.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(field(
                &format!("claim_{name}"),
                "invalid_claim",
                format!("The {name} claim name must be 1 to 100 visible characters."),
            ));
        }
    }
    Ok(claims)
}

/// Validates for real (discovery, issuer, `code`, JWKS through the SSRF
/// guard) and stores. The secret is kept when none is sent; changing the
/// discovery URL or client ID invalidates the last test.
pub async fn save(
    db: &Db,
    keys: &Keys,
    settings: &Settings,
    access: &Access,
    input: SsoInput,
    ip: Option<IpAddr>,
) -> Result<SsoConfig, AppError> {
    access.require_in(&[SetupScope::Sso], Permission::SsoWrite)?;
    let existing = load(db, &access.org_id).await?;
    let stored_protocol = existing.as_ref().map(|e| e.protocol.as_str());
    let protocol = match (input.protocol.as_deref().map(str::trim), stored_protocol) {
        (None | Some(""), stored) => stored.unwrap_or("oidc"),
        (Some(p @ ("oidc" | "saml")), _) => p,
        (Some(_), _) => {
            return Err(field(
                "protocol",
                "invalid_protocol",
                "Choose oidc (OpenID Connect) or saml (SAML 2.0).",
            ));
        }
    };
    if stored_protocol.is_some_and(|p| p != protocol) {
        return Err(AppError::conflict(
            "protocol_change",
            "One protocol per organization: disconnect the current connection first, then connect the new one.",
        )
        .on("protocol"));
    }
    if protocol == "saml" {
        let saml = existing.map(|e| super::saml_config::StoredSaml {
            metadata_url: e.discovery_url,
            metadata_xml: e.saml_metadata_xml.unwrap_or_default(),
            tested: e.last_test.is_some_and(|t| t.ok),
            claims: e.claims,
        });
        return super::saml_config::save(db, settings, access, input, saml, ip).await;
    }
    let label = check_label(&input.provider_label)?;
    let client_id = input.client_id.trim().to_owned();
    if client_id.is_empty() || client_id.len() > 255 {
        return Err(field(
            "client_id",
            "invalid_client_id",
            "Enter the client ID your identity provider issued.",
        ));
    }
    let scopes = check_scopes(input.scopes)?;
    let claims = check_claims(input.claims.unwrap_or_default())?;
    let session = check_session(input.session_max_age_secs)?;
    let secret = input
        .client_secret
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if secret.is_none() && existing.is_none() {
        return Err(field(
            "client_secret",
            "missing_client_secret",
            "Enter the client secret your identity provider issued.",
        ));
    }
    if secret.as_ref().is_some_and(|s| s.len() > 1024) {
        return Err(field(
            "client_secret",
            "invalid_client_secret",
            "That client secret is too long.",
        ));
    }
    super::trust::check_carry_over(access, input.carry_over_accounts)?;
    let provisioning = merged_provisioning(
        db,
        access,
        (input.jit_enabled, input.default_role, input.role_mappings),
        ip,
    )
    .await?;
    let discovery_url = input.discovery_url.trim().to_owned();
    let doc = discovery::validate(
        Guard {
            allow_private: settings.allow_private_idp,
        },
        &discovery_url,
    )
    .await?;

    let at = now();
    let reset_test = existing
        .as_ref()
        .is_none_or(|e| e.discovery_url != discovery_url || e.client_id != client_id);
    // Who may sign in is decided by the provider, the client ID and the
    // secret: a change to them, made while a tested configuration serves,
    // waits for its own test (no untested IdP, and no lock-out meanwhile).
    let tested = existing
        .as_ref()
        .is_some_and(|e| e.last_test.as_ref().is_some_and(|t| t.ok));
    // The claim taken as the email decides who a person is: trust too.
    let trust_changed = existing.as_ref().is_some_and(|e| {
        e.discovery_url != discovery_url
            || e.issuer != doc.issuer
            || e.client_id != client_id
            || email_claim_of(&e.claims) != claims.email
    }) || (existing.is_some() && secret.is_some());
    let stage = tested && trust_changed;
    let claims_json = serde_json::to_string(&claims).unwrap_or_default();
    let mut tx = crate::ssr::db::begin_write(db).await?;
    match &existing {
        Some(_) if stage => {
            // The claim names wait with the change (the email claim is trust).
            sqlx::query(
                "UPDATE sso_connections SET provider_label = $2, scopes = $3, session_max_age_secs = $4, \
                 pending_discovery_url = $5, pending_issuer = $6, pending_client_id = $7, pending_client_secret_enc = $8, \
                 pending_saved_at = $9, pending_last_error = NULL, updated_at = $9 WHERE org_id = $1",
            )
            .bind(&access.org_id)
            .bind(&label)
            .bind(&scopes)
            .bind(session)
            .bind(&discovery_url)
            .bind(&doc.issuer)
            .bind(&client_id)
            .bind(
                secret
                    .as_deref()
                    .map(|s| keys.secrets().encrypt(s, &secret_context(&access.org_id))),
            )
            .bind(at)
            .execute(&mut *tx)
            .await?;
            super::trust::staged(
                &mut tx,
                access,
                Some(&claims_json),
                input.carry_over_accounts,
            )
            .await?;
        }
        None => {
            let sealed = keys.secrets().encrypt(
                secret.as_deref().unwrap_or_default(),
                &secret_context(&access.org_id),
            );
            sqlx::query(
                "INSERT INTO sso_connections (org_id, login_id, provider_label, discovery_url, issuer, client_id, \
                 client_secret_enc, scopes, claims, session_max_age_secs, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            )
            .bind(&access.org_id)
            .bind(random::lower_alnum(24))
            .bind(&label)
            .bind(&discovery_url)
            .bind(&doc.issuer)
            .bind(&client_id)
            .bind(sealed)
            .bind(&scopes)
            .bind(serde_json::to_string(&claims).unwrap_or_default())
            .bind(session)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            super::trust::applied_directly(&mut tx, access, input.carry_over_accounts, ip).await?;
        }
        Some(_) => {
            // Applied directly: nothing tested serves yet (or nothing that
            // decides trust changed), and an older staged change is void.
            sqlx::query(
                "UPDATE sso_connections SET provider_label = $2, discovery_url = $3, issuer = $4, client_id = $5, \
                 scopes = $6, claims = $7, session_max_age_secs = $8, updated_at = $9, \
                 pending_discovery_url = NULL, pending_issuer = NULL, pending_client_id = NULL, \
                 pending_client_secret_enc = NULL, pending_saved_at = NULL, pending_last_error = NULL \
                 WHERE org_id = $1",
            )
            .bind(&access.org_id)
            .bind(&label)
            .bind(&discovery_url)
            .bind(&doc.issuer)
            .bind(&client_id)
            .bind(&scopes)
            .bind(serde_json::to_string(&claims).unwrap_or_default())
            .bind(session)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if let Some(secret) = &secret {
                // Rotation: a new secret, no session ends.
                sqlx::query("UPDATE sso_connections SET client_secret_enc = $2 WHERE org_id = $1")
                    .bind(&access.org_id)
                    .bind(
                        keys.secrets()
                            .encrypt(secret, &secret_context(&access.org_id)),
                    )
                    .execute(&mut *tx)
                    .await?;
            }
            if reset_test {
                sqlx::query("UPDATE sso_connections SET last_test_ok = NULL, last_test_at = NULL, last_test_error = NULL, last_test_claims = NULL WHERE org_id = $1")
                    .bind(&access.org_id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(&super::trust::clear_pending_sql())
                .bind(&access.org_id)
                .execute(&mut *tx)
                .await?;
            if trust_changed {
                super::trust::applied_directly(&mut tx, access, input.carry_over_accounts, ip)
                    .await?;
            } else {
                super::trust::set_carry_over(&mut tx, access, input.carry_over_accounts).await?;
            }
        }
    }
    let saved = Saved {
        action: save_action(stage, existing.is_some()),
        label: &label,
        provisioning: provisioning.as_ref(),
        require_sso: input.require_sso,
        // Never the secret itself: only whether it changed.
        details: serde_json::json!({
            "discovery_url": discovery_url,
            "client_id": client_id,
            "client_secret_rotated": secret.is_some() && existing.is_some(),
            "scopes": scopes,
        }),
    };
    finish_save(tx, access, saved, ip).await?;
    get(db, settings, &access.org_id).await
}

/// The email claim (or attribute) name in stored claim names.
pub(super) fn email_claim_of(stored: &str) -> String {
    serde_json::from_str::<ClaimNames>(stored)
        .unwrap_or_default()
        .email
}

pub(super) fn save_action(staged: bool, existed: bool) -> &'static str {
    if staged {
        "sso.change_staged"
    } else if existed {
        "sso.updated"
    } else {
        "sso.configured"
    }
}

pub(super) fn check_label(label: &str) -> Result<String, AppError> {
    let label = label.trim().to_owned();
    if label.is_empty() || label.chars().count() > 60 {
        return Err(field(
            "provider_label",
            "invalid_label",
            "Name the provider as your people know it, in up to 60 characters (e.g. Okta).",
        ));
    }
    Ok(label)
}

pub(super) fn check_session(secs: Option<i64>) -> Result<i64, AppError> {
    let session = secs.unwrap_or(DEFAULT_SESSION_SECS);
    if !(MIN_SESSION..=MAX_SESSION).contains(&session) {
        return Err(field(
            "session_max_age_hours",
            "invalid_session_max_age",
            "Sessions last from 1 hour to 30 days.",
        ));
    }
    Ok(session)
}

/// The provisioning a save asks for, merged over the stored one and
/// checked; `None` when the save names none of its fields.
pub(super) async fn merged_provisioning(
    db: &Db,
    access: &Access,
    fields: (Option<bool>, Option<String>, Option<Vec<RoleMapping>>),
    ip: Option<IpAddr>,
) -> Result<Option<Provisioning>, AppError> {
    let (jit, role, rules) = match fields {
        (None, None, None) => return Ok(None),
        f => f,
    };
    access.require_in(&[SetupScope::Provisioning], Permission::SsoWrite)?;
    let current = provisioning_of(db, &access.org_id)
        .await?
        .unwrap_or_else(default_provisioning);
    let merged = Provisioning {
        jit_enabled: jit.unwrap_or(current.jit_enabled),
        default_role: role.unwrap_or(current.default_role),
        role_mappings: rules.unwrap_or(current.role_mappings),
    };
    Ok(Some(mapping::check(db, access, merged, ip).await?))
}

/// What every save writes after the protocol's own columns.
pub(super) struct Saved<'a> {
    pub action: &'static str,
    pub label: &'a str,
    pub provisioning: Option<&'a Provisioning>,
    pub require_sso: Option<bool>,
    pub details: serde_json::Value,
}

/// Provisioning, Require SSO and the audit event, in the save's
/// transaction, which it commits.
pub(super) async fn finish_save(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    access: &Access,
    saved: Saved<'_>,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    if let Some(p) = saved.provisioning {
        write_provisioning(&mut tx, access, p, ip).await?;
    }
    if let Some(require) = saved.require_sso {
        sqlx::query("UPDATE sso_connections SET require_sso = $2 WHERE org_id = $1")
            .bind(&access.org_id)
            .bind(i64::from(require))
            .execute(&mut *tx)
            .await?;
    }
    record(
        &mut *tx,
        Event::by(
            access,
            saved.action,
            Target {
                kind: "sso",
                id: &access.org_id,
                label: saved.label,
            },
            saved.details,
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn default_provisioning() -> Provisioning {
    Provisioning {
        jit_enabled: true,
        default_role: "member".into(),
        role_mappings: Vec::new(),
    }
}

/// The stored provisioning settings; `None` before a connection exists.
pub async fn provisioning_of(db: &Db, org_id: &str) -> Result<Option<Provisioning>, AppError> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT jit_enabled, default_role, role_mappings FROM sso_connections WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(jit, role, rules)| Provisioning {
        jit_enabled: jit != 0,
        default_role: role,
        role_mappings: serde_json::from_str(&rules).unwrap_or_default(),
    }))
}

async fn write_provisioning(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    access: &Access,
    p: &Provisioning,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let before: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT jit_enabled, default_role, role_mappings FROM sso_connections WHERE org_id = $1",
    )
    .bind(&access.org_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((jit, role, rules)) = before else {
        return Err(not_configured());
    };
    super::trust::check_jit(tx, access, p.jit_enabled).await?;
    let rules_json = serde_json::to_string(&p.role_mappings).unwrap_or_else(|_| "[]".into());
    let before_rules: Vec<RoleMapping> = serde_json::from_str(&rules).unwrap_or_default();
    if (jit != 0) == p.jit_enabled && role == p.default_role && before_rules == p.role_mappings {
        return Ok(());
    }
    sqlx::query(
        "UPDATE sso_connections SET jit_enabled = $2, default_role = $3, role_mappings = $4, \
         updated_at = $5 WHERE org_id = $1",
    )
    .bind(&access.org_id)
    .bind(i64::from(p.jit_enabled))
    .bind(&p.default_role)
    .bind(&rules_json)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    let describe =
        |rules: &[RoleMapping]| rules.iter().map(RoleMapping::describe).collect::<Vec<_>>();
    record(
        &mut **tx,
        Event::by(
            access,
            "sso.provisioning_updated",
            Target {
                kind: "sso",
                id: &access.org_id,
                label: "provisioning",
            },
            serde_json::json!({
                "from": { "jit_enabled": jit != 0, "default_role": role, "role_mappings": describe(&before_rules) },
                "to": { "jit_enabled": p.jit_enabled, "default_role": p.default_role, "role_mappings": describe(&p.role_mappings) },
            }),
            ip,
        ),
    )
    .await
}

fn not_configured() -> AppError {
    AppError::conflict(
        "sso_not_configured",
        "Connect an identity provider first: provisioning belongs to the connection.",
    )
}

/// Saves JIT, default role and mapping rules without touching (or
/// re-validating) the identity provider settings.
pub async fn save_provisioning(
    db: &Db,
    settings: &Settings,
    access: &Access,
    input: Provisioning,
    ip: Option<IpAddr>,
) -> Result<SsoConfig, AppError> {
    access.require_in(&[SetupScope::Provisioning], Permission::SsoWrite)?;
    let p = mapping::check(db, access, input, ip).await?;
    let mut tx = crate::ssr::db::begin_write(db).await?;
    write_provisioning(&mut tx, access, &p, ip).await?;
    tx.commit().await?;
    get(db, settings, &access.org_id).await
}

/// What a disconnect did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnected {
    pub sessions_ended: u64,
    pub members_downgraded: u64,
}

/// Disconnect: removes the configuration and the identities linked through
/// it, ends every SSO session of the organization at once, and downgrades
/// members who joined through SSO to `viewer` (owners keep their role). A
/// later connection gets a new login URL.
pub async fn delete(
    db: &Db,
    access: &Access,
    ip: Option<IpAddr>,
) -> Result<Disconnected, AppError> {
    access.require_in(&[SetupScope::Sso], Permission::SsoWrite)?;
    let mut tx = crate::ssr::db::begin_write(db).await?;
    let done = sqlx::query("DELETE FROM sso_connections WHERE org_id = $1")
        .bind(&access.org_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found(
            "Single sign-on is not configured for this organization.",
        ));
    }
    let sessions_ended = sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND method = 'sso'")
        .bind(&access.org_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let members_downgraded = sqlx::query(
        "UPDATE memberships SET role = 'viewer' WHERE org_id = $1 AND source = 'sso' \
         AND role <> 'owner' AND role <> 'viewer'",
    )
    .bind(&access.org_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    for table in ["sso_identities", "sso_states", "saml_requests"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE org_id = $1"))
            .bind(&access.org_id)
            .execute(&mut *tx)
            .await?;
    }
    record(
        &mut *tx,
        Event::by(
            access,
            "sso.disconnected",
            Target {
                kind: "sso",
                id: &access.org_id,
                label: "single sign-on",
            },
            serde_json::json!({
                "sessions_ended": sessions_ended,
                "members_downgraded": members_downgraded,
            }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Disconnected {
        sessions_ended,
        members_downgraded,
    })
}

/// The client secret sealed in `sso_connections`, opened for the token
/// request (server side only).
pub fn open_client_secret(keys: &Keys, org_id: &str, sealed: &str) -> Result<String, AppError> {
    keys.secrets()
        .decrypt(sealed, &secret_context(org_id))
        .map_err(|e| {
            tracing::error!(error = %e, "stored SSO client secret cannot be decrypted");
            AppError::internal()
        })
}

pub async fn is_enabled(db: &Db, org_id: &str) -> Result<bool, AppError> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT enabled FROM sso_connections WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(db)
            .await?;
    Ok(row.is_some_and(|(e,)| e != 0))
}

/// Turns SSO on. Refused until the current configuration has passed a test
/// and the organization has a verified domain, so nobody is locked out.
pub async fn enable(
    db: &Db,
    settings: &Settings,
    access: &Access,
    ip: Option<IpAddr>,
) -> Result<SsoConfig, AppError> {
    access.require_in(&[SetupScope::Sso], Permission::SsoWrite)?;
    let config = get(db, settings, &access.org_id).await?;
    if !config.configured {
        return Err(AppError::conflict(
            "sso_not_configured",
            "Configure single sign-on before enabling it.",
        ));
    }
    if !config.last_test.as_ref().is_some_and(|t| t.ok) {
        return Err(AppError::conflict(
            "sso_not_tested",
            "Run Test connection successfully with the current configuration before enabling single sign-on.",
        ));
    }
    if crate::domains::ssr::verified_count(db, &access.org_id).await? == 0 {
        return Err(AppError::conflict(
            "no_verified_domain",
            "Verify at least one email domain before enabling single sign-on: only emails in verified domains can sign in.",
        ));
    }
    set_enabled(db, access, true, ip).await?;
    get(db, settings, &access.org_id).await
}

/// Turns SSO off; the configuration is kept.
pub async fn disable(
    db: &Db,
    settings: &Settings,
    access: &Access,
    ip: Option<IpAddr>,
) -> Result<SsoConfig, AppError> {
    access.require_in(&[SetupScope::Sso], Permission::SsoWrite)?;
    if !get(db, settings, &access.org_id).await?.configured {
        return Err(AppError::not_found(
            "Single sign-on is not configured for this organization.",
        ));
    }
    set_enabled(db, access, false, ip).await?;
    get(db, settings, &access.org_id).await
}

async fn set_enabled(
    db: &Db,
    access: &Access,
    on: bool,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query("UPDATE sso_connections SET enabled = $2, updated_at = $3 WHERE org_id = $1")
        .bind(&access.org_id)
        .bind(i64::from(on))
        .bind(now())
        .execute(&mut *tx)
        .await?;
    record(
        &mut *tx,
        Event::by(
            access,
            if on { "sso.enabled" } else { "sso.disabled" },
            Target {
                kind: "sso",
                id: &access.org_id,
                label: "single sign-on",
            },
            serde_json::json!({}),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Creates the one-time link that runs Test connection in a browser and
/// returns its absolute URL. The test signs nobody in; its outcome is
/// stored as `last_test`.
pub async fn start_test(
    state: &crate::ssr::state::AppState,
    access: &Access,
) -> Result<String, AppError> {
    access.require_in(&[SetupScope::Sso], Permission::SsoWrite)?;
    let conn = super::connection::connection_by_org(&state.db, &access.org_id)
        .await?
        .ok_or_else(|| {
            AppError::conflict(
                "sso_not_configured",
                "Save a single sign-on configuration before testing it.",
            )
        })?;
    let (user_id, setup_link) = match &access.actor {
        crate::orgs::access::Actor::User(u) => (Some(u.id.as_str()), None),
        crate::orgs::access::Actor::SetupLink(l) => (None, Some(l.link_id.as_str())),
        _ => (None, None),
    };
    let path = super::outcome::create_test_ticket(&state.db, &conn, user_id, setup_link).await?;
    Ok(format!("{}{path}", state.settings.public_url))
}

/// Whether a password sign-in of `user` may go ahead. Refused when an
/// organization that requires SSO counts the user as a member of one of its
/// verified domains; guests are exempt, and owners keep password sign-in as
/// break-glass access, audited in that organization.
pub async fn check_password_sign_in(
    db: &Db,
    settings: &Settings,
    user: &crate::identity::CurrentUser,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let domain = crate::email::domain_of(&user.email).to_owned();
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT m.org_id, m.role, c.login_id, o.name FROM memberships m \
         JOIN sso_connections c ON c.org_id = m.org_id \
         JOIN organizations o ON o.id = m.org_id \
         JOIN domains d ON d.org_id = m.org_id AND d.domain = $2 AND d.status = 'verified' \
         WHERE m.user_id = $1 AND m.status = 'active' AND c.enabled = 1 AND c.require_sso = 1",
    )
    .bind(&user.id)
    .bind(&domain)
    .fetch_all(db)
    .await?;
    if let Some((_, _, login_id, org_name)) = rows
        .iter()
        .find(|(_, role, _, _)| role != "owner" && role != "guest")
    {
        return Err(AppError::new(
            crate::error::ErrorKind::Forbidden,
            "sso_required",
            format!(
                "{org_name} requires single sign-on. Sign in at {}/sso/{login_id}.",
                settings.public_url
            ),
        ));
    }
    let actor = crate::orgs::access::Actor::User(user.clone());
    for (org_id, _, _, _) in rows.iter().filter(|(_, role, _, _)| role == "owner") {
        record(
            db,
            Event {
                org_id,
                actor: &actor,
                action: "sso.break_glass_sign_in",
                target: Some(Target {
                    kind: "user",
                    id: &user.id,
                    label: &user.email,
                }),
                details: serde_json::json!({ "method": "password" }),
                ip,
            },
        )
        .await?;
    }
    Ok(())
}
