//! The OpenID Connect sign-in, without HTTP: `begin` records the flow and
//! builds the authorization URL; `finish` checks the callback,
//! the tokens and the claims, and provisions the member. Authorization code
//! with PKCE S256, `state` and `nonce`, bound to the browser; RFC 9207 `iss`;
//! an algorithm allow-list; identity keyed by (`iss`, `sub`).

use super::connection::{Connection, Purpose, connection_by_org, connection_for_test};
use super::jwk::Jwk;
use super::outcome::{Failure, Finished, Refusal, STATE_TTL_SECS, clean, refused, tested};
use super::provider::{Metadata, http_client};
use super::provision::{self, Verified};
use crate::error::AppError;
use crate::ssr::db::Db;
use crate::ssr::now;
use crate::ssr::state::AppState;
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

/// A flow recorded in `sso_states`, not yet sent to the IdP.
pub struct Recorded {
    state: CsrfToken,
    nonce: Nonce,
    challenge: PkceCodeChallenge,
}

/// Checks that `conn` can start a flow for `purpose` and records it. Takes
/// any executor so the start can write it on the connection it already
/// holds (each pooled statement costs a round trip more): no IdP is
/// contacted here, so nothing slow runs while a connection is held.
/// `setup_link` is the link a test was started through: the flow ends with
/// it.
pub async fn record<'e, E>(
    db: E,
    conn: &Connection,
    purpose: Purpose,
    return_to: Option<&str>,
    setup_link: Option<&str>,
) -> Result<Recorded, Refusal>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    if !conn.is_oidc() {
        return Err(Refusal::UnknownLogin);
    }
    if purpose == Purpose::Login && !conn.enabled {
        return Err(Refusal::NotEnabled);
    }
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = CsrfToken::new_random();
    let nonce = Nonce::new_random();
    let now = now();
    sqlx::query(
        "INSERT INTO sso_states (state, org_id, purpose, nonce, pkce_verifier, issuer, \
         return_to, setup_link_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(state.secret())
    .bind(&conn.org_id)
    .bind(purpose.as_str())
    .bind(nonce.secret())
    .bind(verifier.secret())
    .bind(&conn.issuer)
    .bind(return_to.and_then(crate::return_to::safe_return_to))
    .bind(setup_link)
    .bind(now)
    .bind(now + STATE_TTL_SECS)
    .execute(db)
    .await?;
    Ok(Recorded {
        state,
        nonce,
        challenge,
    })
}

/// The IdP's authorization URL for a recorded flow (its metadata may be
/// fetched). When the IdP cannot be reached the record is removed again:
/// a failed start leaves nothing behind.
pub async fn authorize(
    state: &AppState,
    conn: &Connection,
    recorded: Recorded,
    login_hint: Option<&str>,
) -> Result<Begun, Refusal> {
    let built = authorize_url(state, conn, &recorded, login_hint).await;
    if built.is_err() {
        let removed = sqlx::query("DELETE FROM sso_states WHERE state = $1")
            .bind(recorded.state.secret())
            .execute(&state.db)
            .await;
        if let Err(e) = removed {
            tracing::warn!(error = %e, "could not remove the record of a failed sso start");
        }
    }
    Ok(Begun {
        authorize_url: built?,
        state: recorded.state.secret().clone(),
    })
}

async fn authorize_url(
    state: &AppState,
    conn: &Connection,
    recorded: &Recorded,
    login_hint: Option<&str>,
) -> Result<String, Refusal> {
    let metadata = state
        .sso_providers
        .metadata(guard(state), &conn.issuer)
        .await
        .map_err(Refusal::Unreachable)?;
    let client = client(state, conn, metadata, None)?;
    let (csrf, nonce) = (recorded.state.clone(), recorded.nonce.clone());
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || csrf,
            move || nonce,
        )
        .set_pkce_challenge(recorded.challenge.clone());
    for scope in conn.scopes.iter().filter(|s| s.as_str() != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if let Some(hint) = login_hint.filter(|h| !h.is_empty() && h.len() <= 254) {
        request = request.add_extra_param("login_hint", hint.to_owned());
    }
    let (url, _, _) = request.url();
    Ok(url.to_string())
}

/// Starts a sign-in (or a test) at the IdP: [`record`], then [`authorize`].
pub async fn begin(
    state: &AppState,
    conn: &Connection,
    purpose: Purpose,
    return_to: Option<&str>,
    login_hint: Option<&str>,
) -> Result<Begun, Refusal> {
    let recorded = record(&state.db, conn, purpose, return_to, None).await?;
    authorize(state, conn, recorded, login_hint).await
}

/// Binds a flow to the browser that starts it with a short-lived cookie
/// holding its `state`, one cookie per flow (a few tabs at once are fine).
/// A cookie, not the server session: an anonymous start writes no session
/// row. Only the callback path sees it.
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
    crate::ssr::cookie_values(headers, &binding_cookie_name(state)).any(|v| v == state)
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
async fn take_state<'e, E>(db: E, state: &str) -> Result<Option<StateRow>, Refusal>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
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
    // The flow record and the connection on one pooled connection, given
    // back before the IdP is called (each statement on the pool would cost
    // a second round trip: sqlx pings every connection returned to it).
    let mut db = match state.db.acquire().await {
        Ok(c) => c,
        Err(e) => return Err(fail(e.into(), None, Purpose::Login)),
    };
    let row = match take_state(&mut *db, state_param).await {
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
        Purpose::Test => {
            drop(db);
            connection_for_test(state, &row.org_id).await
        }
        Purpose::Login => {
            let loaded = connection_by_org(&mut *db, &row.org_id).await;
            drop(db);
            loaded
        }
    };
    let conn = match loaded {
        Ok(Some(c)) if c.is_oidc() => c,
        // Gone, or replaced by a SAML connection while at the IdP.
        Ok(_) => return Err(fail(Refusal::UnknownLogin, None, purpose)),
        Err(e) => return Err(fail(e.into(), None, purpose)),
    };
    let result = verify(state, &conn, &row, params, bound).await;
    let outcome = match result {
        Ok((claims, id_token)) => match purpose {
            Purpose::Test => tested(state, &conn, &claims).await,
            Purpose::Login => {
                let verified = Verified {
                    issuer: &row.issuer,
                    claims: &claims,
                    id_token: Some(id_token),
                    return_to: row.return_to.clone(),
                };
                provision::sign_in(state, &conn, verified, ip).await
            }
        },
        Err(r) => Err(r),
    };
    match outcome {
        Ok(done) => Ok(done),
        // Past the state check, every refusal is the IdP's or the member's.
        Err(refusal) => Err(refused(state, conn, purpose, refusal, true, ip).await),
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

/// Removes flows that were never finished; run by the background job.
pub async fn delete_expired_states(db: &Db) -> Result<u64, AppError> {
    Ok(sqlx::query("DELETE FROM sso_states WHERE expires_at <= $1")
        .bind(now())
        .execute(db)
        .await?
        .rows_affected())
}
