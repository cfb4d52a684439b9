//! What every sign-in flow shares, whatever its protocol: why a sign-in
//! was refused, how it ended, the rate limit on starts, the email gate on
//! verified claims, and Test connection (one-time links, recorded results,
//! a staged change put into effect by its passed test).

use super::connection::{Connection, Protocol, Purpose};
use super::provision;
use crate::audit::ssr::{self as audit, Event};
use crate::error::AppError;
use crate::identity::SessionAuth;
use crate::orgs::access::Actor;
use crate::ssr::db::Db;
use crate::ssr::state::AppState;
use crate::ssr::{now, random};
use serde_json::{Map, Value};
use std::net::IpAddr;

/// How long a sign-in or a test link may take.
pub const STATE_TTL_SECS: i64 = 600;

/// Why a sign-in was refused, in words for the person in front of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("This sign-in has expired or was already used. Start again from your sign-in page.")]
    UnknownState,
    #[error("This sign-in was started in another browser. Start again from this one.")]
    OtherBrowser,
    #[error("There is no sign-in page at this address.")]
    UnknownLogin,
    #[error("Single sign-on is not enabled for this organization.")]
    NotEnabled,
    #[error("The identity provider reported an error: {0}")]
    Idp(String),
    #[error("The answer claims to come from {0}, not from the configured identity provider.")]
    IssuerMismatch(String),
    #[error(
        "The identity provider did not say who sent the answer (the `iss` parameter is missing)."
    )]
    IssuerMissing,
    #[error("The identity provider could not be reached: {0}")]
    Unreachable(String),
    #[error("The sign-in code could not be exchanged for tokens: {0}")]
    TokenExchange(String),
    #[error("The ID token was refused: {0}")]
    IdToken(String),
    #[error("The user info belongs to another user than the ID token.")]
    UserinfoMismatch,
    #[error("The identity provider did not send an email address.")]
    NoEmail,
    #[error("The identity provider says the email address {0} is not verified.")]
    EmailUnverified(String),
    #[error("{0} is not in a domain this organization has verified.")]
    DomainNotVerified(String),
    #[error("Your membership of this organization is deactivated. Ask an admin to reactivate it.")]
    Deactivated,
    #[error(
        "An account with this email already exists and signs in through another identity provider. If {0} is moving to this one, ask an owner or admin of {0} to carry existing accounts over."
    )]
    AccountOfAnotherIdp(String),
    #[error("Your organization requires an invitation — ask an admin of {0}.")]
    NotProvisioned(String),
    #[error("Too many sign-ins were started from your network. Wait a minute and try again.")]
    TooManyStarts,
    #[error(
        "Too many refused sign-in responses came from your network. Wait a minute and try again."
    )]
    TooManyFailures,
    #[error("The SAML response was refused: {0}.")]
    Saml(crate::saml::SamlError),
    #[error("This SAML response was already used. Start again from your sign-in page.")]
    Replayed,
    #[error("Something went wrong on our side. Try again.")]
    Internal,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownState => "expired",
            Self::OtherBrowser => "other_browser",
            Self::UnknownLogin => "unknown_login",
            Self::NotEnabled => "not_enabled",
            Self::Idp(_) => "idp_error",
            Self::IssuerMismatch(_) => "issuer_mismatch",
            Self::IssuerMissing => "issuer_missing",
            Self::Unreachable(_) => "idp_unreachable",
            Self::TokenExchange(_) => "token_exchange",
            Self::IdToken(_) => "id_token",
            Self::UserinfoMismatch => "userinfo_mismatch",
            Self::NoEmail => "no_email",
            Self::EmailUnverified(_) => "email_unverified",
            Self::DomainNotVerified(_) => "domain_not_verified",
            Self::Deactivated => "deactivated",
            Self::AccountOfAnotherIdp(_) => "account_of_another_idp",
            Self::NotProvisioned(_) => "not_provisioned",
            Self::TooManyStarts => "too_many_requests",
            Self::TooManyFailures => "too_many_failures",
            Self::Saml(e) => e.code(),
            Self::Replayed => "saml_replayed",
            Self::Internal => "internal",
        }
    }
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        tracing::error!(error = %e.message, "sso flow failed internally");
        Self::Internal
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "sso flow database error");
        Self::Internal
    }
}

/// Sign-ins one address may start per minute: each start stores a flow
/// record, and anyone can send these requests.
const STARTS_PER_MINUTE: i64 = 30;

/// Counts a start from `ip` and refuses it past the per-minute limit.
pub async fn claim_start<'e, E>(db: E, ip: Option<IpAddr>) -> Result<(), Refusal>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let Some(ip) = ip else { return Ok(()) };
    let (count, _) = crate::identity::limits::count_in_window(db, &format!("sso_start:{ip}"), 60)
        .await
        .map_err(|_| Refusal::Internal)?;
    if count > STARTS_PER_MINUTE {
        tracing::warn!(%ip, "too many sso starts from one address");
        return Err(Refusal::TooManyStarts);
    }
    Ok(())
}

/// Where a refused flow leaves the browser.
#[derive(Debug)]
pub struct Failure {
    pub refusal: Refusal,
    pub connection: Option<Connection>,
    pub purpose: Purpose,
}

pub enum Finished {
    SignedIn {
        auth: SessionAuth,
        lifetime_secs: i64,
        landing: String,
    },
    Tested {
        org_slug: String,
    },
    /// The email belongs to an account with a password: the person must
    /// confirm with it before the identity is linked (`sso::link`).
    LinkRequired(crate::sso::link::ssr::PendingLink),
}

/// Text from the IdP shown back to people: printable, short.
pub fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

pub fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Whether the IdP says the address taken as the email (claim
/// `email_claim`) is verified, as sent (some IdPs send strings): the
/// standard `email_verified` speaks of the `email` claim only, so for an
/// email taken from another claim `X` the IdP's `X_verified` is read, and
/// `email_verified` says nothing about it.
pub fn email_verified(claims: &Map<String, Value>, email_claim: &str) -> Option<bool> {
    let name = if email_claim == "email" {
        "email_verified".to_owned()
    } else {
        format!("{email_claim}_verified")
    };
    match claims.get(&name)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The email the claims vouch for: present, not marked unverified, and in
/// one of the organization's verified domains.
pub async fn trusted_email<'e, E>(
    db: E,
    conn: &Connection,
    claims: &Map<String, Value>,
) -> Result<String, Refusal>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let raw = claim_str(claims, &conn.claims.email).ok_or(Refusal::NoEmail)?;
    // The same normalization as accounts and invitations (IDNA included).
    let email =
        crate::email::normalize_email(raw).map_err(|_| Refusal::DomainNotVerified(clean(raw)))?;
    if email_verified(claims, &conn.claims.email) == Some(false) {
        return Err(Refusal::EmailUnverified(clean(&email)));
    }
    if !crate::domains::ssr::org_owns_email_domain(db, &conn.org_id, &email).await? {
        return Err(Refusal::DomainNotVerified(clean(&email)));
    }
    Ok(email)
}

pub fn display_name(conn: &Connection, claims: &Map<String, Value>, email: &str) -> String {
    let names = &conn.claims;
    let full = claim_str(claims, &names.name)
        .map(str::to_owned)
        .or_else(|| {
            let parts: Vec<&str> = [&names.given_name, &names.family_name]
                .iter()
                .filter_map(|n| claim_str(claims, n))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
    let name = full.unwrap_or_else(|| email.split('@').next().unwrap_or(email).to_owned());
    name.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// Records what a test brought back, or why it failed.
pub async fn record_test(
    state: &AppState,
    conn: &Connection,
    result: Result<&Map<String, Value>, &Refusal>,
) -> Result<(), Refusal> {
    let (ok, error, summary) = match result {
        Ok(claims) => {
            let email = claim_str(claims, &conn.claims.email).map(str::to_lowercase);
            let domain_verified = match &email {
                Some(e) => crate::domains::ssr::org_owns_email_domain(&state.db, &conn.org_id, e)
                    .await
                    .unwrap_or(false),
                None => false,
            };
            let (role, rule) = provision::mapped_role(conn, claims);
            let summary = serde_json::json!({
                "claims": claims,
                "email": email,
                "email_verified": email_verified(claims, &conn.claims.email),
                "email_domain_verified": domain_verified,
                "role": role,
                "rule": rule.map(|i| conn.role_mappings[i].describe()),
                "rule_number": rule.map(|i| i + 1),
            });
            (1i64, None, Some(summary.to_string()))
        }
        Err(r) => (0, Some(r.to_string()), None),
    };
    if conn.staged {
        return record_staged_test(state, conn, ok, error, summary).await;
    }
    sqlx::query(
        "UPDATE sso_connections SET last_test_ok = $2, last_test_at = $3, last_test_error = $4, \
         last_test_claims = $5 WHERE org_id = $1",
    )
    .bind(&conn.org_id)
    .bind(ok)
    .bind(now())
    .bind(error)
    .bind(summary)
    .execute(&state.db)
    .await?;
    Ok(())
}

/// A passed test: what came back is recorded; nobody is signed in.
pub async fn tested(
    state: &AppState,
    conn: &Connection,
    claims: &Map<String, Value>,
) -> Result<Finished, Refusal> {
    record_test(state, conn, Ok(claims)).await?;
    Ok(Finished::Tested {
        org_slug: conn.org_slug.clone(),
    })
}

/// A test of a staged change: a pass puts the change into effect (one
/// statement, so no sign-in sees half of it) and is the new last test,
/// unless the change waits for an admin's approval (`sso::trust`), when
/// the pass is kept beside it for the approval; a failure is kept beside
/// the change and leaves what serves untouched.
async fn record_staged_test(
    state: &AppState,
    conn: &Connection,
    ok: i64,
    error: Option<String>,
    summary: Option<String>,
) -> Result<(), Refusal> {
    if ok == 0 {
        sqlx::query("UPDATE sso_connections SET pending_last_error = $2 WHERE org_id = $1")
            .bind(&conn.org_id)
            .bind(error)
            .execute(&state.db)
            .await?;
        return Ok(());
    }
    let waits: Option<(i64,)> =
        sqlx::query_as("SELECT pending_needs_approval FROM sso_connections WHERE org_id = $1")
            .bind(&conn.org_id)
            .fetch_optional(&state.db)
            .await?;
    let waits = waits.is_some_and(|(w,)| w != 0);
    let event = |action| Event {
        org_id: &conn.org_id,
        actor: &Actor::System,
        action,
        target: None,
        details: serde_json::json!({
            "issuer": conn.issuer, "client_id": conn.client_id, "waits_for_approval": waits,
        }),
        ip: None,
    };
    if waits {
        super::trust::tested_waiting(&state.db, &conn.org_id, summary.as_deref()).await?;
        return audit::record(&state.db, event("sso.change_tested"))
            .await
            .map_err(|_| Refusal::Internal);
    }
    let mut tx = crate::ssr::db::begin_write(&state.db).await?;
    super::trust::apply_staged(&mut tx, &conn.org_id, now(), summary.as_deref(), None).await?;
    audit::record(&mut *tx, event("sso.change_applied"))
        .await
        .map_err(|_| Refusal::Internal)?;
    tx.commit().await?;
    Ok(())
}

/// After a refusal past the flow's own checks: a test records it on the
/// connection; a sign-in is audited when `audit` (else only logged).
pub async fn refused(
    state: &AppState,
    conn: Connection,
    purpose: Purpose,
    refusal: Refusal,
    audit: bool,
    ip: Option<IpAddr>,
) -> Failure {
    if purpose == Purpose::Test {
        let _ = record_test(state, &conn, Err(&refusal)).await;
    } else if audit {
        audit_refusal(&state.db, &conn, &refusal, ip).await;
    } else {
        tracing::info!(org = %conn.org_id, reason = refusal.code(), "sign-in refused");
    }
    Failure {
        refusal,
        connection: Some(conn),
        purpose,
    }
}

async fn audit_refusal(db: &Db, conn: &Connection, refusal: &Refusal, ip: Option<IpAddr>) {
    let event = Event {
        org_id: &conn.org_id,
        actor: &Actor::System,
        action: "sso.login_failed",
        target: None,
        details: serde_json::json!({ "reason": refusal.code(), "message": refusal.to_string() }),
        ip,
    };
    if let Err(e) = audit::record(db, event).await {
        tracing::error!(error = %e.message, "could not audit a refused sso sign-in");
    }
}

/// A one-time link that starts a test in whichever browser opens it, so an
/// API caller can hand it to a person. Returns its path. A ticket made
/// through a setup link (`setup_link`) ends with that link, and so do the
/// test flows it starts.
pub async fn create_test_ticket(
    db: &Db,
    conn: &Connection,
    user_id: Option<&str>,
    setup_link: Option<&str>,
) -> Result<String, AppError> {
    let ticket = random::lower_alnum(32);
    let now = now();
    sqlx::query(
        "INSERT INTO sso_states (state, org_id, purpose, nonce, pkce_verifier, issuer, \
         return_to, user_id, created_at, expires_at, setup_link_id) \
         VALUES ($1, $2, 'test_ticket', '', '', $3, NULL, $4, $5, $6, $7)",
    )
    .bind(&ticket)
    .bind(&conn.org_id)
    .bind(&conn.issuer)
    .bind(user_id)
    .bind(now)
    .bind(now + STATE_TTL_SECS)
    .bind(setup_link)
    .execute(db)
    .await?;
    Ok(match conn.protocol {
        Protocol::Oidc => format!("/sso/{}/oidc/test/{ticket}", conn.org_id),
        Protocol::Saml => format!("/saml/{}/test/{ticket}", conn.org_id),
    })
}

/// A redeemed test ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ticket {
    /// Unknown, used, expired, or its setup link has ended.
    Invalid,
    /// Valid; made through this setup link, if any.
    Valid { setup_link: Option<String> },
}

/// Uses up a test ticket of `org_id`. One made through a setup link works
/// only while that link is active.
pub async fn redeem_test_ticket(db: &Db, org_id: &str, ticket: &str) -> Result<Ticket, AppError> {
    let at = now();
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "DELETE FROM sso_states WHERE state = $1 AND org_id = $2 AND purpose = 'test_ticket' \
         AND expires_at > $3 RETURNING setup_link_id",
    )
    .bind(ticket)
    .bind(org_id)
    .bind(at)
    .fetch_optional(db)
    .await?;
    let Some((setup_link,)) = row else {
        return Ok(Ticket::Invalid);
    };
    if let Some(id) = &setup_link {
        let active: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM setup_links WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(id)
        .bind(at)
        .fetch_optional(db)
        .await?;
        if active.is_none() {
            return Ok(Ticket::Invalid);
        }
    }
    Ok(Ticket::Valid { setup_link })
}
