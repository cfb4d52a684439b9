//! Single sign-on: the connection's configuration (this part, shared by
//! both protocols), `connection` and `outcome` (what every sign-in flow
//! shares), `flow` (OpenID Connect; SAML is in `crate::saml`), provisioning
//! and logout.

pub mod checklist;
#[cfg(feature = "ssr")]
pub mod connection;
#[cfg(feature = "ssr")]
pub mod discovery;
#[cfg(feature = "ssr")]
pub mod flow;
pub mod guide;
#[cfg(feature = "ssr")]
pub mod jwk;
pub mod link;
mod login_page;
#[cfg(feature = "ssr")]
pub mod logout;
pub mod mapping;
#[cfg(feature = "ssr")]
pub mod net;
#[cfg(feature = "ssr")]
pub mod outcome;
mod page;
#[cfg(feature = "ssr")]
pub mod provider;
#[cfg(feature = "ssr")]
pub mod provision;
mod provisioning_page;
#[cfg(feature = "ssr")]
mod saml_config;
mod saml_page;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod trust;

pub use checklist::SetupChecklist;
pub use login_page::{LoginPageInfo, SsoLoginPage, sso_login_page};
pub use page::SsoSection;
pub use provisioning_page::ProvisioningSection;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Reading the SSO settings serves a setup link for the connection and one
/// for provisioning alike.
#[cfg(feature = "ssr")]
pub const SSO_SCOPES: &[crate::setup_links::SetupScope] = &[
    crate::setup_links::SetupScope::Sso,
    crate::setup_links::SetupScope::Provisioning,
];

/// Claim names read from the IdP's tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClaimNames {
    pub email: String,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub username: String,
    pub groups: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            email: "email".into(),
            name: "name".into(),
            given_name: "given_name".into(),
            family_name: "family_name".into(),
            username: "preferred_username".into(),
            groups: "groups".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LastTest {
    pub ok: bool,
    pub at: i64,
    pub error: Option<String>,
    /// After a passed test: the claims that came back, the email, whether
    /// its domain is verified here, and the role the rules would give.
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

/// One signing certificate of a SAML IdP, as its metadata names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IdpCertificateInfo {
    pub subject: String,
    /// Unix seconds.
    pub not_after: i64,
    /// Upper-case hex pairs separated by colons.
    pub sha256_fingerprint: String,
    /// Expired, or expiring within 30 days: time to rotate.
    pub expires_soon: bool,
}

/// The SSO object of the API and the console. The client secret is never
/// part of it: only whether one is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SsoConfig {
    /// False until a configuration has been saved.
    pub configured: bool,
    /// `oidc` (the default) or `saml`.
    pub protocol: String,
    pub provider_label: String,
    pub discovery_url: String,
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret_set: bool,
    pub scopes: Vec<String>,
    pub claims: ClaimNames,
    pub enabled: bool,
    pub require_sso: bool,
    pub session_max_age_secs: i64,
    pub jit_enabled: bool,
    pub default_role: String,
    pub role_mappings: Vec<mapping::RoleMapping>,
    pub redirect_uri: String,
    pub backchannel_logout_uri: String,
    pub initiate_login_uri: String,
    /// To register at the IdP for RP-initiated logout.
    pub post_logout_redirect_uri: String,
    /// `{public_url}/sso/{login_id}` once configured.
    pub login_url: Option<String>,
    pub last_test: Option<LastTest>,
    /// A saved change not yet in effect: "saved, not yet tested".
    pub pending_change: Option<PendingChange>,
    /// SAML: where the IdP's metadata is fetched from (none when pasted).
    pub idp_metadata_url: Option<String>,
    /// SAML: accept IdP-initiated (unsolicited) responses.
    pub allow_idp_initiated: bool,
    /// SAML: accept SHA-1 signatures (off unless the IdP can do no better).
    pub allow_sha1: bool,
    /// SAML: accept assertions encrypted with AES-CBC (off unless the IdP
    /// can do no better; AES-GCM always works).
    pub allow_aes_cbc: bool,
    /// SAML attribute names (the same object as `claims`).
    pub attributes: ClaimNames,
    /// SAML: what to register at the IdP (present before anything is saved).
    pub sp_entity_id: String,
    pub acs_url: String,
    pub slo_url: String,
    pub sp_metadata_url: String,
    /// SAML: the IdP's sign-on URL and signing certificates.
    pub idp_sso_url: Option<String>,
    pub idp_certificates: Vec<IdpCertificateInfo>,
    /// SAML: Latchkey's own SP certificate (in the SP metadata), once made.
    pub sp_certificate: Option<IdpCertificateInfo>,
    /// Accounts this organization's previous IdP made are carried over to
    /// this one when their email matches (an IdP migration an owner or
    /// admin chose).
    #[serde(default)]
    pub carry_over_accounts: bool,
    /// The IdP in effect was set up through a setup link or by a role short
    /// of admin and no admin has approved it: just-in-time provisioning
    /// stays off until an owner or admin turns it on.
    #[serde(default)]
    pub jit_held: bool,
}

/// A change of provider, client ID or client secret saved while a tested
/// configuration serves. Sign-ins keep using the tested configuration until
/// a test of this one passes, which puts it into effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PendingChange {
    pub discovery_url: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret_changed: bool,
    pub saved_at: i64,
    /// Why the last test of this change failed, if one did.
    pub last_error: Option<String>,
    /// Made through a setup link, by a role short of admin, or by the
    /// metadata refresh: it takes effect only when an owner or admin
    /// approves it (`POST …/sso/approve`), after its test passed.
    #[serde(default)]
    pub waits_for_approval: bool,
    /// Who saved it ("Setup link from Ada Admin", "metadata refresh", …).
    #[serde(default)]
    pub saved_by: Option<String>,
    /// When a test of it passed (it then waits only for the approval).
    #[serde(default)]
    pub tested_at: Option<i64>,
    /// Whether it carries accounts of the previous IdP over when applied.
    #[serde(default)]
    pub carry_over_accounts: bool,
}

pub const DEFAULT_SCOPES: &str = "openid profile email";
pub const DEFAULT_SESSION_SECS: i64 = 7 * 24 * 3600;

#[server(endpoint = "get_sso")]
pub async fn get_sso(org: String) -> Result<SsoConfig, AppError> {
    use crate::orgs::permissions::Permission;
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    access.require_in(SSO_SCOPES, Permission::SsoRead)?;
    let config = ssr::get(&ctx.state.db, &ctx.state.settings, &access.org_id).await?;
    Ok(ssr::as_seen_by(config, &access))
}

/// Replaces the organization's SAML SP key pair (after the console's
/// confirmation): see `saml::sp::rotate`.
#[server(endpoint = "rotate_saml_sp_key")]
pub async fn rotate_saml_sp_key(org: String) -> Result<SsoConfig, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    crate::saml::sp::rotate(&ctx.state, &access, ctx.ip).await?;
    ssr::get(&ctx.state.db, &ctx.state.settings, &access.org_id).await
}

#[server(endpoint = "enable_sso")]
pub async fn enable_sso(org: String) -> Result<SsoConfig, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::enable(&ctx.state.db, &ctx.state.settings, &access, ctx.ip).await
}

#[server(endpoint = "disable_sso")]
pub async fn disable_sso(org: String) -> Result<SsoConfig, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::disable(&ctx.state.db, &ctx.state.settings, &access, ctx.ip).await
}

/// Disconnect (after the console's confirmation): see `ssr::delete`.
#[server(endpoint = "disconnect_sso")]
pub async fn disconnect_sso(org: String) -> Result<SsoConfig, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    ssr::delete(&ctx.state.db, &access, ctx.ip).await?;
    ssr::get(&ctx.state.db, &ctx.state.settings, &access.org_id).await
}

/// Approves the change of identity provider that waits for an owner or
/// admin (see `trust::approve`); the checkbox carries accounts over.
#[server(endpoint = "approve_sso_change")]
pub async fn approve_sso_change(
    org: String,
    carry_over_accounts: Option<String>,
) -> Result<SsoConfig, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    trust::approve(
        &ctx.state.db,
        &access,
        carry_over_accounts.is_some(),
        ctx.ip,
    )
    .await?;
    ssr::get(&ctx.state.db, &ctx.state.settings, &access.org_id).await
}

/// The console's provisioning form: rows whose claim is empty are dropped,
/// so the blank row at the end adds a rule only when filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningForm {
    /// The "JIT" checkbox: present when ticked.
    pub jit_enabled: Option<String>,
    pub default_role: String,
    #[serde(default)]
    pub rules: Vec<RuleRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRow {
    pub claim: String,
    pub operator: String,
    pub value: String,
    pub role: String,
}

#[server(endpoint = "save_provisioning")]
pub async fn save_provisioning(org: String, form: ProvisioningForm) -> Result<SsoConfig, AppError> {
    use mapping::{Operator, Provisioning, RoleMapping};
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    let mut rules = Vec::new();
    for (i, row) in form.rules.into_iter().enumerate() {
        if row.claim.trim().is_empty() && row.value.trim().is_empty() {
            continue;
        }
        let operator = Operator::parse(&row.operator).ok_or_else(|| {
            AppError::unprocessable(
                "invalid_role_mapping",
                format!("Rule {}: choose equals, contains or matches.", i + 1),
            )
            .on(&format!("role_mappings[{i}].operator"))
        })?;
        rules.push(RoleMapping {
            claim: row.claim,
            operator,
            value: row.value,
            role: row.role,
        });
    }
    let input = Provisioning {
        jit_enabled: form.jit_enabled.is_some(),
        default_role: form.default_role,
        role_mappings: rules,
    };
    ssr::save_provisioning(&ctx.state.db, &ctx.state.settings, &access, input, ctx.ip).await
}

/// Test connection: sends the browser (a plain form post) to a one-time
/// link that runs a sign-in at the IdP in test mode.
#[server(endpoint = "test_sso")]
pub async fn test_sso(org: String) -> Result<String, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    let url = ssr::start_test(&ctx.state, &access).await?;
    ctx.redirect(&url);
    Ok(url)
}

/// The console form's fields (sent as `form[...]`), claim names under
/// "Advanced"; empty claim names fall back to the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoForm {
    pub provider_label: String,
    /// OIDC only (the SAML form has none).
    #[serde(default)]
    pub discovery_url: String,
    #[serde(default)]
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Option<String>,
    pub session_max_age_hours: Option<String>,
    pub claim_email: Option<String>,
    pub claim_name: Option<String>,
    pub claim_given_name: Option<String>,
    pub claim_family_name: Option<String>,
    pub claim_username: Option<String>,
    pub claim_groups: Option<String>,
    /// The "Require SSO" checkbox: present when ticked.
    pub require_sso: Option<String>,
    /// `oidc` or `saml`; the SAML form sends the fields below.
    pub protocol: Option<String>,
    pub idp_metadata_url: Option<String>,
    pub idp_metadata_xml: Option<String>,
    /// SAML checkboxes: present when ticked.
    pub allow_idp_initiated: Option<String>,
    pub allow_sha1: Option<String>,
    pub allow_aes_cbc: Option<String>,
    /// SAML: `entra`, `okta` or `generic` replaces the attribute names with
    /// that IdP's; empty keeps the names in the form.
    pub attribute_preset: Option<String>,
    /// The "carry existing accounts over" checkbox (owners and admins, when
    /// the save changes the identity provider): present when ticked.
    pub carry_over_accounts: Option<String>,
    /// Set when the form showed that checkbox (so unticked means off).
    pub carry_over_shown: Option<String>,
}

#[server(endpoint = "save_sso")]
pub async fn save_sso(org: String, form: SsoForm) -> Result<SsoConfig, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    let hours = match form
        .session_max_age_hours
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        None => None,
        Some(h) => Some(h.parse::<i64>().map_err(|_| {
            AppError::unprocessable(
                "invalid_session_max_age",
                "Enter the session lifetime in whole hours.",
            )
            .on("session_max_age_hours")
        })?),
    };
    let saml = form.protocol.as_deref() == Some("saml");
    let defaults = if saml {
        ssr::saml_defaults()
    } else {
        ClaimNames::default()
    };
    let pick = |v: Option<String>, d: String| v.filter(|s| !s.trim().is_empty()).unwrap_or(d);
    let names = ClaimNames {
        email: pick(form.claim_email, defaults.email),
        name: pick(form.claim_name, defaults.name),
        given_name: pick(form.claim_given_name, defaults.given_name),
        family_name: pick(form.claim_family_name, defaults.family_name),
        username: pick(form.claim_username, defaults.username),
        groups: pick(form.claim_groups, defaults.groups),
    };
    let names = {
        use crate::saml::attributes::{Preset, preset};
        match form.attribute_preset.as_deref() {
            Some("entra") => preset(Preset::EntraId),
            Some("okta") => preset(Preset::Okta),
            Some("generic") => preset(Preset::Generic),
            _ => names,
        }
    };
    let input = ssr::SsoInput {
        protocol: form.protocol,
        idp_metadata_url: form.idp_metadata_url,
        idp_metadata_xml: form.idp_metadata_xml,
        allow_idp_initiated: saml.then_some(form.allow_idp_initiated.is_some()),
        allow_sha1: saml.then_some(form.allow_sha1.is_some()),
        allow_aes_cbc: saml.then_some(form.allow_aes_cbc.is_some()),
        attributes: saml.then(|| names.clone()),
        provider_label: form.provider_label,
        discovery_url: form.discovery_url,
        client_id: form.client_id,
        client_secret: form.client_secret,
        scopes: form
            .scopes
            .map(|s| s.split_whitespace().map(str::to_owned).collect()),
        claims: (!saml).then_some(names),
        session_max_age_secs: hours.map(|h| h.saturating_mul(3600)),
        require_sso: Some(form.require_sso.is_some()),
        jit_enabled: None,
        default_role: None,
        role_mappings: None,
        carry_over_accounts: form
            .carry_over_shown
            .map(|_| form.carry_over_accounts.is_some()),
    };
    ssr::save(
        &ctx.state.db,
        &ctx.state.keys,
        &ctx.state.settings,
        &access,
        input,
        ctx.ip,
    )
    .await
}
