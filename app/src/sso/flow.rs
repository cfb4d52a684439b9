//! The OpenID Connect sign-in, without HTTP: `begin` builds the
//! authorization URL and records the flow; `finish` checks the callback,
//! the tokens and the claims, and provisions the member. Authorization code
//! with PKCE S256, `state` and `nonce`, bound to the browser; RFC 9207 `iss`;
//! an algorithm allow-list; identity keyed by (`iss`, `sub`).

use super::ClaimNames;
use super::jwk::Jwk;
use super::mapping::RoleMapping;
use super::provider::{Metadata, http_client};
use super::provision::{self, Verified};
use crate::audit::ssr::{self as audit, Event};
use crate::error::AppError;
use crate::identity::SessionAuth;
use crate::orgs::access::Actor;
use crate::ssr::db::Db;
use crate::ssr::state::AppState;
use crate::ssr::{now, random};
use base64::Engine;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenResponse,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EmptyAdditionalClaims, EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, SignatureVerificationError, StandardErrorResponse, TokenResponse,
};
use serde_json::{Map, Value};
use std::net::IpAddr;

/// How long a sign-in may take at the IdP.
pub const STATE_TTL_SECS: i64 = 600;
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECS: i64 = 60;
/// A client made from discovered metadata: authorization endpoint known,
/// token and userinfo endpoints as the provider publishes them.
/// Signing keys are `ring`-verified [`Jwk`]s.
type Client = openidconnect::Client<
    EmptyAdditionalClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    Jwk,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    CoreTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Test,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Test => "test",
        }
    }
}

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
    #[error("Your organization requires an invitation — ask an admin of {0}.")]
    NotProvisioned(String),
    #[error("Too many sign-ins were started from your network. Wait a minute and try again.")]
    TooManyStarts,
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
            Self::NotProvisioned(_) => "not_provisioned",
            Self::TooManyStarts => "too_many_requests",
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

/// A connection as the flow needs it. The client secret is decrypted only
/// where the code is exchanged, not for every login page view.
#[derive(Debug, Clone)]
pub struct Connection {
    pub org_id: String,
    pub org_slug: String,
    pub org_name: String,
    pub login_id: String,
    pub provider_label: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub claims: ClaimNames,
    pub enabled: bool,
    pub jit_enabled: bool,
    pub default_role: String,
    pub role_mappings: Vec<RoleMapping>,
    pub session_secs: i64,
    /// Issuer and client ID are those of a staged change (a test of it).
    pub staged: bool,
    /// The client secret as stored (sealed), read with the rest so the
    /// callback needs no second query; opened only for the code exchange.
    sealed_secret: String,
    /// The secret a test of a staged change uses: the staged one, or the
    /// current one when the change keeps it.
    staged_sealed_secret: String,
}

impl Connection {
    fn client_secret(&self, keys: &crate::ssr::crypto::Keys) -> Result<String, AppError> {
        let sealed = if self.staged {
            &self.staged_sealed_secret
        } else {
            &self.sealed_secret
        };
        super::ssr::open_client_secret(keys, &self.org_id, sealed)
    }
}

type ConnRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
    i64,
    String,
    String,
);

const CONN_SELECT: &str = "SELECT c.org_id, o.slug, o.name, c.login_id, c.provider_label, \
     c.issuer, c.client_id, c.scopes, c.claims, c.enabled, c.jit_enabled, c.default_role, \
     c.role_mappings, c.session_max_age_secs, c.client_secret_enc, \
     COALESCE(c.pending_client_secret_enc, c.client_secret_enc) \
     FROM sso_connections c JOIN organizations o ON o.id = c.org_id";

async fn connection_where(
    state: &AppState,
    column: &str,
    value: &str,
) -> Result<Option<Connection>, AppError> {
    let sql = format!("{CONN_SELECT} WHERE c.{column} = $1");
    let row: Option<ConnRow> = sqlx::query_as(&sql)
        .bind(value)
        .fetch_optional(&state.db)
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Connection {
        org_id: r.0,
        org_slug: r.1,
        org_name: r.2,
        login_id: r.3,
        provider_label: r.4,
        issuer: r.5,
        client_id: r.6,
        scopes: r.7.split_whitespace().map(str::to_owned).collect(),
        claims: serde_json::from_str(&r.8).unwrap_or_default(),
        enabled: r.9 != 0,
        jit_enabled: r.10 != 0,
        default_role: r.11,
        role_mappings: serde_json::from_str(&r.12).unwrap_or_default(),
        session_secs: r.13,
        staged: false,
        sealed_secret: r.14,
        staged_sealed_secret: r.15,
    }))
}

/// The connection a test runs against: the staged change, when one waits,
/// else the configuration in effect.
pub async fn connection_for_test(
    state: &AppState,
    org_id: &str,
) -> Result<Option<Connection>, AppError> {
    let Some(mut conn) = connection_by_org(state, org_id).await? else {
        return Ok(None);
    };
    if let Some(p) = super::ssr::pending_change(&state.db, org_id).await? {
        conn.issuer = p.issuer;
        conn.client_id = p.client_id;
        conn.staged = true;
    }
    Ok(Some(conn))
}

pub async fn connection_by_login_id(
    state: &AppState,
    login_id: &str,
) -> Result<Option<Connection>, AppError> {
    connection_where(state, "login_id", login_id).await
}

pub async fn connection_by_org(
    state: &AppState,
    org_id: &str,
) -> Result<Option<Connection>, AppError> {
    connection_where(state, "org_id", org_id).await
}

pub fn redirect_uri(public_url: &str, org_id: &str) -> String {
    format!("{public_url}/sso/{org_id}/oidc/callback")
}

pub(super) fn guard(state: &AppState) -> super::net::Guard {
    super::net::Guard {
        allow_private: state.settings.allow_private_idp,
    }
}

/// `secret` is needed for the token exchange only.
fn client(
    state: &AppState,
    conn: &Connection,
    metadata: Metadata,
    secret: Option<String>,
) -> Result<Client, Refusal> {
    let redirect = RedirectUrl::new(redirect_uri(&state.settings.public_url, &conn.org_id))
        .map_err(|_| Refusal::Internal)?;
    let basic = metadata
        .token_endpoint_auth_methods_supported()
        .is_none_or(|m| m.contains(&CoreClientAuthMethod::ClientSecretBasic));
    let client = Client::from_provider_metadata(
        metadata,
        ClientId::new(conn.client_id.clone()),
        secret.map(ClientSecret::new),
    )
    .set_redirect_uri(redirect);
    Ok(if basic {
        client
    } else {
        client.set_auth_type(AuthType::RequestBody)
    })
}

/// What the browser needs to start: the IdP URL and the state to bind.
pub struct Begun {
    pub authorize_url: String,
    pub state: String,
}

/// Starts a sign-in (or a test) at the IdP.
pub async fn begin(
    state: &AppState,
    conn: &Connection,
    purpose: Purpose,
    return_to: Option<&str>,
    login_hint: Option<&str>,
    user_id: Option<&str>,
) -> Result<Begun, Refusal> {
    if purpose == Purpose::Login && !conn.enabled {
        return Err(Refusal::NotEnabled);
    }
    let metadata = state
        .sso_providers
        .metadata(guard(state), &conn.issuer)
        .await
        .map_err(Refusal::Unreachable)?;
    let client = client(state, conn, metadata, None)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in conn.scopes.iter().filter(|s| s.as_str() != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if let Some(hint) = login_hint.filter(|h| !h.is_empty() && h.len() <= 254) {
        request = request.add_extra_param("login_hint", hint.to_owned());
    }
    let (url, csrf, nonce) = request.url();
    let now = now();
    sqlx::query(
        "INSERT INTO sso_states (state, org_id, purpose, nonce, pkce_verifier, issuer, \
         return_to, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(csrf.secret())
    .bind(&conn.org_id)
    .bind(purpose.as_str())
    .bind(nonce.secret())
    .bind(verifier.secret())
    .bind(&conn.issuer)
    .bind(return_to.and_then(crate::return_to::safe_return_to))
    .bind(user_id)
    .bind(now)
    .bind(now + STATE_TTL_SECS)
    .execute(&state.db)
    .await?;
    Ok(Begun {
        authorize_url: url.to_string(),
        state: csrf.secret().clone(),
    })
}

/// Binds a flow to the browser that starts it with a short-lived cookie
/// holding its `state`, one cookie per flow (a few tabs at once are fine).
/// A cookie, not the server session: an anonymous start writes no session
/// row. Only the callback path sees it.
/// Sign-ins one address may start per minute: each start stores a flow
/// record, and anyone can send these requests.
const STARTS_PER_MINUTE: i64 = 30;

/// Counts a start from `ip` and refuses it past the per-minute limit.
pub async fn claim_start(state: &AppState, ip: Option<IpAddr>) -> Result<(), Refusal> {
    let Some(ip) = ip else { return Ok(()) };
    let (count, _) =
        crate::identity::limits::count_in_window(&state.db, &format!("sso_start:{ip}"), 60)
            .await
            .map_err(|_| Refusal::Internal)?;
    if count > STARTS_PER_MINUTE {
        tracing::warn!(%ip, "too many sso starts from one address");
        return Err(Refusal::TooManyStarts);
    }
    Ok(())
}

pub fn binding_cookie(state: &str, secure: bool) -> String {
    format!(
        "{}={state}; Path=/sso/; Max-Age={STATE_TTL_SECS}; HttpOnly; SameSite=Lax{}",
        binding_cookie_name(state),
        if secure { "; Secure" } else { "" }
    )
}

/// The header that removes the binding of `state` (after its callback).
pub fn clear_binding_cookie(state: &str) -> String {
    format!(
        "{}=; Path=/sso/; Max-Age=0; HttpOnly; SameSite=Lax",
        binding_cookie_name(state)
    )
}

fn binding_cookie_name(state: &str) -> String {
    let digest = crate::ssr::crypto::sha256_hex(state);
    format!("latchkey_sso_{}", &digest[..12])
}

/// Whether the browser that sent `headers` started `state`.
pub fn is_bound(headers: &http::HeaderMap, state: &str) -> bool {
    let name = binding_cookie_name(state);
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(k, v)| k == name && v == state)
}

/// The query of the redirect back from the IdP.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

struct StateRow {
    org_id: String,
    purpose: Purpose,
    nonce: String,
    pkce_verifier: String,
    issuer: String,
    return_to: Option<String>,
}

/// Reads and deletes the flow record in one statement: a state works once,
/// success or not, and of two callbacks racing on one state only the one
/// whose delete returned the row goes on.
async fn take_state(db: &Db, state: &str) -> Result<Option<StateRow>, Refusal> {
    type Row = (String, String, String, String, String, Option<String>, i64);
    let row: Option<Row> = sqlx::query_as(
        "DELETE FROM sso_states WHERE state = $1 \
         RETURNING org_id, purpose, nonce, pkce_verifier, issuer, return_to, expires_at",
    )
    .bind(state)
    .fetch_optional(db)
    .await?;
    let Some(r) = row.filter(|r| r.6 > now() && (r.1 == "login" || r.1 == "test")) else {
        return Ok(None);
    };
    Ok(Some(StateRow {
        org_id: r.0,
        purpose: if r.1 == "test" {
            Purpose::Test
        } else {
            Purpose::Login
        },
        nonce: r.2,
        pkce_verifier: r.3,
        issuer: r.4,
        return_to: r.5,
    }))
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
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn token_error<RE: std::error::Error + 'static, T: openidconnect::ErrorResponse>(
    e: RequestTokenError<RE, T>,
) -> Refusal {
    match e {
        RequestTokenError::ServerResponse(r) => Refusal::TokenExchange(clean(&r.to_string())),
        RequestTokenError::Request(inner) => Refusal::Unreachable(clean(&inner.to_string())),
        RequestTokenError::Parse(_, _) => {
            Refusal::TokenExchange("the token response is not valid JSON".into())
        }
        RequestTokenError::Other(why) => Refusal::TokenExchange(clean(&why)),
    }
}

fn claims_error(e: &ClaimsVerificationError) -> Refusal {
    let why = match e {
        ClaimsVerificationError::Expired(_) => "it has expired".to_owned(),
        ClaimsVerificationError::InvalidAudience(_) => "it was issued for another client".into(),
        ClaimsVerificationError::InvalidIssuer(_) => "it was issued by another issuer".into(),
        ClaimsVerificationError::InvalidNonce(_) => "its nonce does not match this sign-in".into(),
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => "it is signed with a key the provider does not publish".into(),
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::DisallowedAlg(alg),
        ) => format!("its signature algorithm {alg} is not allowed"),
        ClaimsVerificationError::SignatureVerification(_) => "its signature is not valid".into(),
        ClaimsVerificationError::Unsupported(why) => clean(why),
        other => clean(&other.to_string()),
    };
    Refusal::IdToken(why)
}

/// The claims of a verified compact JWT, as JSON.
fn jwt_claims(compact: &str) -> Result<Map<String, Value>, Refusal> {
    let payload = compact
        .split('.')
        .nth(1)
        .ok_or_else(|| Refusal::IdToken("it is not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| Refusal::IdToken("its payload is not base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| Refusal::IdToken("its payload is not JSON".into()))
}

pub(super) fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// `email_verified` as sent (some IdPs send strings).
fn email_verified(claims: &Map<String, Value>) -> Option<bool> {
    match claims.get("email_verified")? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Checks the callback and returns either the session to open or the
/// finished test. Every refusal leaves no session and no account.
pub async fn finish(
    state: &AppState,
    path_org_id: &str,
    params: &CallbackParams,
    bound: bool,
    ip: Option<IpAddr>,
) -> Result<Finished, Failure> {
    let fail = |refusal, connection: Option<Connection>, purpose| Failure {
        refusal,
        connection,
        purpose,
    };
    let Some(state_param) = params.state.as_deref() else {
        return Err(fail(Refusal::UnknownState, None, Purpose::Login));
    };
    let row = match take_state(&state.db, state_param).await {
        Ok(Some(row)) => row,
        Ok(None) => return Err(fail(Refusal::UnknownState, None, Purpose::Login)),
        Err(r) => return Err(fail(r, None, Purpose::Login)),
    };
    let purpose = row.purpose;
    // Each organization's callback finishes only its own sign-ins.
    if row.org_id != path_org_id {
        tracing::warn!(org = %row.org_id, path_org = %path_org_id, "sso callback under another organization's path");
        return Err(fail(Refusal::UnknownState, None, purpose));
    }
    let loaded = match purpose {
        Purpose::Test => connection_for_test(state, &row.org_id).await,
        Purpose::Login => connection_by_org(state, &row.org_id).await,
    };
    let conn = match loaded {
        Ok(Some(c)) => c,
        Ok(None) => return Err(fail(Refusal::UnknownLogin, None, purpose)),
        Err(e) => return Err(fail(e.into(), None, purpose)),
    };
    let result = verify(state, &conn, &row, params, bound).await;
    let outcome = match result {
        Ok((claims, id_token)) => match purpose {
            Purpose::Test => {
                record_test(state, &conn, Ok(&claims))
                    .await
                    .map(|()| Finished::Tested {
                        org_slug: conn.org_slug.clone(),
                    })
            }
            Purpose::Login => {
                let verified = Verified {
                    issuer: &row.issuer,
                    claims: &claims,
                    id_token,
                    return_to: row.return_to.clone(),
                };
                provision::sign_in(state, &conn, verified, ip).await
            }
        },
        Err(r) => Err(r),
    };
    match outcome {
        Ok(done) => Ok(done),
        Err(refusal) => {
            if purpose == Purpose::Test {
                let _ = record_test(state, &conn, Err(&refusal)).await;
            } else {
                audit_refusal(&state.db, &conn, &refusal, ip).await;
            }
            Err(fail(refusal, Some(conn), purpose))
        }
    }
}

/// Everything up to trusted claims: state binding, `iss`, code exchange,
/// ID token, userinfo.
async fn verify(
    state: &AppState,
    conn: &Connection,
    row: &StateRow,
    params: &CallbackParams,
    bound: bool,
) -> Result<(Map<String, Value>, String), Refusal> {
    if !bound {
        return Err(Refusal::OtherBrowser);
    }
    if row.purpose == Purpose::Login && !conn.enabled {
        return Err(Refusal::NotEnabled);
    }
    if conn.issuer != row.issuer {
        // The configuration changed while this sign-in was at the IdP.
        return Err(Refusal::IssuerMismatch(clean(&conn.issuer)));
    }
    let guard = guard(state);
    let metadata = state
        .sso_providers
        .metadata(guard, &row.issuer)
        .await
        .map_err(Refusal::Unreachable)?;
    match params.iss.as_deref() {
        Some(iss) if iss != row.issuer => return Err(Refusal::IssuerMismatch(clean(iss))),
        None if metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported
            == Some(true) =>
        {
            return Err(Refusal::IssuerMissing);
        }
        _ => {}
    }
    if let Some(error) = params.error.as_deref() {
        let detail = params.error_description.as_deref().unwrap_or(error);
        return Err(Refusal::Idp(clean(detail)));
    }
    let code = params
        .code
        .as_deref()
        .ok_or_else(|| Refusal::Idp("the answer carries no sign-in code".into()))?;
    let http = http_client(guard);
    let secret = Some(conn.client_secret(&state.keys)?);
    let client = client(state, conn, metadata.clone(), secret.clone())?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|_| Refusal::TokenExchange("the provider has no token endpoint".into()))?
        .set_pkce_verifier(PkceCodeVerifier::new(row.pkce_verifier.clone()))
        .request_async(&http)
        .await
        .map_err(token_error)?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| Refusal::IdToken("the provider sent none".into()))?;
    let nonce = Nonce::new(row.nonce.clone());
    let check = |client: &Client| -> Result<String, ClaimsVerificationError> {
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGS)
            .set_time_fn(|| chrono_now(-LEEWAY_SECS))
            .set_issue_time_verifier_fn(|issued_at| {
                if issued_at > chrono_now(LEEWAY_SECS) {
                    Err("it was issued in the future".into())
                } else {
                    Ok(())
                }
            });
        let claims = id_token.claims(&verifier, &nonce)?;
        if let Some(azp) = claims.authorized_party()
            && azp.as_str() != conn.client_id
        {
            return Err(ClaimsVerificationError::InvalidAudience(
                "authorized party is another client".into(),
            ));
        }
        Ok(claims.subject().as_str().to_owned())
    };
    let subject = match check(&client) {
        Ok(sub) => sub,
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            // Perhaps the IdP rotated its keys: fetch the key set once more.
            let refreshed = state
                .sso_providers
                .refetch_jwks(&state.db, guard, &row.issuer)
                .await
                .map_err(Refusal::Unreachable)?;
            let Some(metadata) = refreshed else {
                return Err(claims_error(
                    &ClaimsVerificationError::SignatureVerification(
                        SignatureVerificationError::NoMatchingKey,
                    ),
                ));
            };
            let client = self::client(state, conn, metadata, secret)?;
            check(&client).map_err(|e| claims_error(&e))?
        }
        Err(e) => return Err(claims_error(&e)),
    };
    let mut claims = jwt_claims(&id_token.to_string())?;
    if let Some(endpoint) = metadata.userinfo_endpoint() {
        let info = userinfo(guard, endpoint.as_str(), tokens.access_token().secret()).await?;
        if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
            return Err(Refusal::UserinfoMismatch);
        }
        for (k, v) in info {
            claims.entry(k).or_insert(v);
        }
    }
    Ok((claims, id_token.to_string()))
}

fn chrono_now(offset_secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::seconds(offset_secs)
}

async fn userinfo(
    guard: super::net::Guard,
    endpoint: &str,
    access_token: &str,
) -> Result<Map<String, Value>, Refusal> {
    let req = http::Request::get(endpoint)
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {access_token}"),
        )
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|_| Refusal::Internal)?;
    let res = super::net::send(guard, req)
        .await
        .map_err(|e| Refusal::Unreachable(e.to_string()))?;
    if !res.status().is_success() {
        return Err(Refusal::Unreachable(format!(
            "the user info endpoint answered with HTTP {}",
            res.status().as_u16()
        )));
    }
    serde_json::from_slice(res.body())
        .map_err(|_| Refusal::Unreachable("the user info answer is not JSON".into()))
}

/// The email the claims vouch for: present, not marked unverified, and in
/// one of the organization's verified domains.
pub(super) async fn trusted_email(
    db: &Db,
    conn: &Connection,
    claims: &Map<String, Value>,
) -> Result<String, Refusal> {
    let raw = claim_str(claims, &conn.claims.email).ok_or(Refusal::NoEmail)?;
    // The same normalization as accounts and invitations (IDNA included).
    let email =
        crate::email::normalize_email(raw).map_err(|_| Refusal::DomainNotVerified(clean(raw)))?;
    if email_verified(claims) == Some(false) {
        return Err(Refusal::EmailUnverified(clean(&email)));
    }
    if !crate::domains::ssr::org_owns_email_domain(db, &conn.org_id, &email).await? {
        return Err(Refusal::DomainNotVerified(clean(&email)));
    }
    Ok(email)
}

pub(super) fn display_name(conn: &Connection, claims: &Map<String, Value>, email: &str) -> String {
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
async fn record_test(
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
                "email_verified": email_verified(claims),
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

/// A test of a staged change: a pass puts the change into effect (one
/// statement, so no sign-in sees half of it) and is the new last test; a
/// failure is kept beside the change and leaves what serves untouched.
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
    let mut tx = crate::ssr::db::begin_write(&state.db).await?;
    sqlx::query(
        "UPDATE sso_connections SET discovery_url = pending_discovery_url, issuer = pending_issuer, \
         client_id = pending_client_id, client_secret_enc = COALESCE(pending_client_secret_enc, client_secret_enc), \
         last_test_ok = 1, last_test_at = $2, last_test_error = NULL, last_test_claims = $3, \
         pending_discovery_url = NULL, pending_issuer = NULL, pending_client_id = NULL, \
         pending_client_secret_enc = NULL, pending_saved_at = NULL, pending_last_error = NULL \
         WHERE org_id = $1 AND pending_issuer IS NOT NULL",
    )
    .bind(&conn.org_id)
    .bind(now())
    .bind(summary)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        Event {
            org_id: &conn.org_id,
            actor: &Actor::System,
            action: "sso.change_applied",
            target: None,
            details: serde_json::json!({ "issuer": conn.issuer, "client_id": conn.client_id }),
            ip: None,
        },
    )
    .await
    .map_err(|_| Refusal::Internal)?;
    tx.commit().await?;
    Ok(())
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
/// API caller can hand it to a person. Returns its path.
pub async fn create_test_ticket(
    db: &Db,
    conn: &Connection,
    user_id: Option<&str>,
) -> Result<String, AppError> {
    let ticket = random::lower_alnum(32);
    let now = now();
    sqlx::query(
        "INSERT INTO sso_states (state, org_id, purpose, nonce, pkce_verifier, issuer, \
         return_to, user_id, created_at, expires_at) \
         VALUES ($1, $2, 'test_ticket', '', '', $3, NULL, $4, $5, $6)",
    )
    .bind(&ticket)
    .bind(&conn.org_id)
    .bind(&conn.issuer)
    .bind(user_id)
    .bind(now)
    .bind(now + STATE_TTL_SECS)
    .execute(db)
    .await?;
    Ok(format!("/sso/{}/oidc/test/{ticket}", conn.org_id))
}

/// Uses up a test ticket of `org_id`; true when it was valid.
pub async fn redeem_test_ticket(db: &Db, org_id: &str, ticket: &str) -> Result<bool, AppError> {
    let done = sqlx::query(
        "DELETE FROM sso_states WHERE state = $1 AND org_id = $2 AND purpose = 'test_ticket' \
         AND expires_at > $3",
    )
    .bind(ticket)
    .bind(org_id)
    .bind(now())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes flows that were never finished; run by the background job.
pub async fn delete_expired_states(db: &Db) -> Result<u64, AppError> {
    Ok(sqlx::query("DELETE FROM sso_states WHERE expires_at <= $1")
        .bind(now())
        .execute(db)
        .await?
        .rows_affected())
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
        Some((org_id,)) => connection_by_org(state, &org_id).await,
        None => Ok(None),
    }
}
