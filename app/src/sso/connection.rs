//! An organization's SSO connection as the sign-in flows need it, whatever
//! its protocol: who the IdP is, how members are provisioned, how long
//! their sessions last. `flow` (OpenID Connect) and `crate::saml::flow`
//! (SAML 2.0) each turn a browser round trip into verified claims for the
//! same provisioning; the lifecycle (save, test, enable, disconnect) is in
//! `ssr`.

use super::ClaimNames;
use super::mapping::RoleMapping;
use crate::error::AppError;
use crate::ssr::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Test,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "login" => Some(Self::Login),
            "test" => Some(Self::Test),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Oidc,
    Saml,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Saml => "saml",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "oidc" => Some(Self::Oidc),
            "saml" => Some(Self::Saml),
            _ => None,
        }
    }
}

/// What only a SAML connection has.
#[derive(Debug, Clone)]
pub struct SamlSettings {
    /// The IdP's metadata document, as fetched or pasted.
    pub metadata_xml: String,
    pub allow_idp_initiated: bool,
    pub allow_sha1: bool,
    pub allow_aes_cbc: bool,
}

/// A value sealed at rest; `Debug` never shows it.
#[derive(Clone)]
pub(super) struct Sealed(pub(super) String);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<sealed>")
    }
}

/// A connection as the flows need it. The client secret is decrypted only
/// where the code is exchanged, not for every login page view.
#[derive(Debug, Clone)]
pub struct Connection {
    pub org_id: String,
    pub org_slug: String,
    pub org_name: String,
    pub login_id: String,
    pub provider_label: String,
    pub protocol: Protocol,
    /// The OIDC issuer, or the SAML IdP's entity ID.
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Claim names (OIDC) or attribute names (SAML).
    pub claims: ClaimNames,
    pub enabled: bool,
    pub jit_enabled: bool,
    pub default_role: String,
    pub role_mappings: Vec<RoleMapping>,
    pub session_secs: i64,
    /// An owner or admin chose to carry accounts of the organization's
    /// previous IdP over to this one by email (`sso::trust`).
    pub carry_over_accounts: bool,
    /// Issuer and client ID (or IdP metadata) are those of a staged change
    /// (a test of it).
    pub staged: bool,
    /// Set for SAML connections only.
    pub saml: Option<SamlSettings>,
    /// The client secret as stored, read with the rest so the callback
    /// needs no second query; opened only for the code exchange.
    pub(super) sealed_secret: Sealed,
    /// The secret a test of a staged change uses: the staged one, or the
    /// current one when the change keeps it.
    pub(super) staged_sealed_secret: Sealed,
}

impl Connection {
    pub(super) fn client_secret(
        &self,
        keys: &crate::ssr::crypto::Keys,
    ) -> Result<String, AppError> {
        let sealed = if self.staged {
            &self.staged_sealed_secret
        } else {
            &self.sealed_secret
        };
        super::ssr::open_client_secret(keys, &self.org_id, &sealed.0)
    }

    pub fn is_oidc(&self) -> bool {
        self.protocol == Protocol::Oidc
    }
}

type ConnRow = (
    (String, String, String, String, String, String),
    (String, String, String, i64, i64, String),
    (String, i64, String, String, String),
    (Option<String>, i64, i64, i64, i64),
);

const CONN_SELECT: &str = "SELECT c.org_id, o.slug, o.name, c.login_id, c.provider_label, \
     c.issuer, c.client_id, c.scopes, c.claims, c.enabled, c.jit_enabled, c.default_role, \
     c.role_mappings, c.session_max_age_secs, c.client_secret_enc, \
     COALESCE(c.pending_client_secret_enc, c.client_secret_enc), c.protocol, \
     c.saml_metadata_xml, c.saml_allow_idp_initiated, c.saml_allow_sha1, c.saml_allow_aes_cbc, \
     c.carry_over_accounts \
     FROM sso_connections c JOIN organizations o ON o.id = c.org_id";

fn from_row(r: ConnRow) -> Connection {
    let ((org_id, org_slug, org_name, login_id, provider_label, issuer), a, b, saml) = r;
    let (client_id, scopes, claims, enabled, jit, default_role) = a;
    let (role_mappings, session_secs, sealed, staged_sealed, protocol) = b;
    let (metadata_xml, allow_idp_initiated, allow_sha1, allow_aes_cbc, carry_over) = saml;
    let protocol = Protocol::parse(&protocol).unwrap_or(Protocol::Oidc);
    Connection {
        org_id,
        org_slug,
        org_name,
        login_id,
        provider_label,
        protocol,
        issuer,
        client_id,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        claims: serde_json::from_str(&claims).unwrap_or_default(),
        enabled: enabled != 0,
        jit_enabled: jit != 0,
        default_role,
        role_mappings: serde_json::from_str(&role_mappings).unwrap_or_default(),
        session_secs,
        carry_over_accounts: carry_over != 0,
        staged: false,
        saml: (protocol == Protocol::Saml).then(|| SamlSettings {
            metadata_xml: metadata_xml.unwrap_or_default(),
            allow_idp_initiated: allow_idp_initiated != 0,
            allow_sha1: allow_sha1 != 0,
            allow_aes_cbc: allow_aes_cbc != 0,
        }),
        sealed_secret: Sealed(sealed),
        staged_sealed_secret: Sealed(staged_sealed),
    }
}

/// sqlx maps tuples of up to 16 columns; the row is read in four parts.
async fn connection_where<'e, E>(
    db: E,
    column: &str,
    value: &str,
) -> Result<Option<Connection>, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    use sqlx::Row as _;
    let sql = format!("{CONN_SELECT} WHERE c.{column} = $1");
    let row = sqlx::query(&sql).bind(value).fetch_optional(db).await?;
    let Some(r) = row else { return Ok(None) };
    let s = |i: usize| r.try_get::<String, _>(i);
    let n = |i: usize| r.try_get::<i64, _>(i);
    Ok(Some(from_row((
        (s(0)?, s(1)?, s(2)?, s(3)?, s(4)?, s(5)?),
        (s(6)?, s(7)?, s(8)?, n(9)?, n(10)?, s(11)?),
        (s(12)?, n(13)?, s(14)?, s(15)?, s(16)?),
        (
            r.try_get::<Option<String>, _>(17)?,
            n(18)?,
            n(19)?,
            n(20)?,
            n(21)?,
        ),
    ))))
}

/// The connection a test runs against: the staged change, when one waits,
/// else the configuration in effect.
pub async fn connection_for_test(
    state: &AppState,
    org_id: &str,
) -> Result<Option<Connection>, AppError> {
    let Some(mut conn) = connection_by_org(&state.db, org_id).await? else {
        return Ok(None);
    };
    if let Some(p) = super::ssr::pending_change(&state.db, org_id).await? {
        conn.issuer = p.issuer;
        conn.client_id = p.client_id;
        conn.staged = true;
        let staged: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT pending_saml_metadata_xml, pending_claims FROM sso_connections WHERE org_id = $1",
        )
        .bind(org_id)
        .fetch_optional(&state.db)
        .await?;
        let (xml, claims) = staged.unwrap_or_default();
        if let (Some(saml), Some(xml)) = (conn.saml.as_mut(), xml) {
            saml.metadata_xml = xml;
        }
        // The test reads the claim names that wait with the change.
        if let Some(claims) = claims.and_then(|c| serde_json::from_str(&c).ok()) {
            conn.claims = claims;
        }
    }
    Ok(Some(conn))
}

/// Takes the pool, or a connection a request already holds (each statement
/// on the pool costs a second round trip: sqlx pings every connection that
/// comes back to it).
pub async fn connection_by_login_id<'e, E>(
    db: E,
    login_id: &str,
) -> Result<Option<Connection>, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    connection_where(db, "login_id", login_id).await
}

pub async fn connection_by_org<'e, E>(db: E, org_id: &str) -> Result<Option<Connection>, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    connection_where(db, "org_id", org_id).await
}

/// Refuses a new password account for an address whose domain signs in
/// with SSO (sign-up, and sign-up through an invitation): its account comes
/// from the IdP, never from whoever sets a password for it first.
pub async fn refuse_password_account(state: &AppState, email: &str) -> Result<(), AppError> {
    if connection_for_email(state, email).await?.is_some() {
        return Err(AppError::new(
            crate::error::ErrorKind::Forbidden,
            "sso_required",
            "Your organization signs in with single sign-on: sign in with this email instead, and your account is created there.",
        )
        .on("email"));
    }
    Ok(())
}

/// The enabled connection whose organization verified `email`'s domain, for
/// email-first sign-in. Depends on the domain only, never on accounts.
pub async fn connection_for_email(
    state: &AppState,
    email: &str,
) -> Result<Option<Connection>, AppError> {
    let Ok(email) = crate::email::normalize_email(email) else {
        return Ok(None);
    };
    let org: Option<(String,)> = sqlx::query_as(
        "SELECT d.org_id FROM domains d JOIN sso_connections c ON c.org_id = d.org_id \
         WHERE d.domain = $1 AND d.status = 'verified' AND c.enabled = 1",
    )
    .bind(crate::email::domain_of(&email))
    .fetch_optional(&state.db)
    .await?;
    match org {
        Some((org_id,)) => connection_by_org(&state.db, &org_id).await,
        None => Ok(None),
    }
}
