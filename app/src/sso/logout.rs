//! OIDC Back-Channel Logout 1.0: the IdP posts a signed logout token and
//! Latchkey ends the matching SSO sessions of the organization. Every check
//! of §2.6 runs before anything changes; a refused token ends nothing.
//! Used `jti`s are stored in the database so a replay fails on every
//! instance.

use super::connection::{Connection, connection_by_org};
use super::flow::guard;
use super::provider::Metadata;
use crate::audit::ssr::{self as audit, Event};
use crate::identity::SessionAuth;
use crate::orgs::access::Actor;
use crate::ssr::now;
use crate::ssr::state::AppState;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::IpAddr;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
const LEEWAY_SECS: i64 = 60;
/// Tokens issued longer ago are refused, which bounds the replay store.
const MAX_AGE_SECS: i64 = 600;

/// The same allow-list as ID tokens: asymmetric only, never `none`.
const ALLOWED: [(&str, Algorithm); 9] = [
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutRefusal {
    #[error("There is no single sign-on connection at this address.")]
    UnknownConnection,
    #[error("The request carries no logout_token.")]
    Missing,
    #[error("The logout token is not a well-formed JWT.")]
    Malformed,
    #[error("The logout token's signature algorithm {0} is not allowed.")]
    Algorithm(String),
    #[error("The logout token's typ header must be logout+jwt.")]
    Type,
    #[error("The logout token is signed with a key the identity provider does not publish.")]
    UnknownKey,
    #[error("The logout token's signature is not valid.")]
    Signature,
    #[error("The logout token was issued by another issuer.")]
    Issuer,
    #[error("The logout token was issued for another client.")]
    Audience,
    #[error("The logout token has expired.")]
    Expired,
    #[error("The logout token's iat is missing, in the future or older than 10 minutes.")]
    IssuedAt,
    #[error("The logout token carries no back-channel logout event.")]
    Event,
    #[error("A logout token must not carry a nonce.")]
    Nonce,
    #[error("The logout token names neither sub nor sid.")]
    NoSubject,
    #[error("The logout token has no jti.")]
    NoJti,
    #[error("This logout token was already used.")]
    Replayed,
    #[error("The identity provider's keys could not be fetched: {0}")]
    Unreachable(String),
    #[error("Something went wrong on our side.")]
    Internal,
}

impl LogoutRefusal {
    /// Refusals decided on the claims of a correctly signed token.
    fn after_signature(&self) -> bool {
        matches!(
            self,
            Self::Issuer
                | Self::Audience
                | Self::Expired
                | Self::IssuedAt
                | Self::Event
                | Self::Nonce
                | Self::NoSubject
                | Self::NoJti
        )
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownConnection => "unknown_connection",
            Self::Missing => "missing_logout_token",
            Self::Malformed => "malformed_token",
            Self::Algorithm(_) => "alg_not_allowed",
            Self::Type => "invalid_typ",
            Self::UnknownKey => "unknown_key",
            Self::Signature => "invalid_signature",
            Self::Issuer => "invalid_issuer",
            Self::Audience => "invalid_audience",
            Self::Expired => "expired",
            Self::IssuedAt => "invalid_iat",
            Self::Event => "invalid_events",
            Self::Nonce => "nonce_present",
            Self::NoSubject => "no_subject",
            Self::NoJti => "no_jti",
            Self::Replayed => "replayed",
            Self::Unreachable(_) => "idp_unreachable",
            Self::Internal => "internal",
        }
    }
}

impl From<sqlx::Error> for LogoutRefusal {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "back-channel logout database error");
        Self::Internal
    }
}

impl From<crate::error::AppError> for LogoutRefusal {
    fn from(e: crate::error::AppError) -> Self {
        tracing::error!(error = %e.message, "back-channel logout failed internally");
        Self::Internal
    }
}

#[derive(Debug, Deserialize)]
struct LogoutClaims {
    iat: Option<i64>,
    jti: Option<String>,
    events: Option<Value>,
    nonce: Option<Value>,
    sub: Option<String>,
    sid: Option<String>,
}

/// The `alg` and `typ` of the header, read before any library parses it so
/// `none` and HMAC get their own answer.
fn header_fields(token: &str) -> Result<(String, Option<String>), LogoutRefusal> {
    let head = token.split('.').next().ok_or(LogoutRefusal::Malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| LogoutRefusal::Malformed)?;
    let header: Value = serde_json::from_slice(&bytes).map_err(|_| LogoutRefusal::Malformed)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(LogoutRefusal::Malformed)?;
    let typ = header.get("typ").and_then(Value::as_str).map(str::to_owned);
    Ok((alg.chars().take(20).collect(), typ))
}

/// Whether an unverified token at least looks like this connection's IdP
/// sent it (three parts, a signature, its issuer and audience, a recent
/// `iat`, the back-channel event): only then may its unknown key trigger
/// the rate-limited key set re-fetch.
fn could_be_from(token: &str, conn: &Connection) -> bool {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // The shortest signature allowed (Ed25519, ES256) is 64 bytes.
    if b64.decode(sig).map_or(true, |s| s.len() < 64) {
        return false;
    }
    let Some(claims) = b64
        .decode(payload)
        .ok()
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
    else {
        return false;
    };
    let aud_ok = match &claims["aud"] {
        Value::String(a) => *a == conn.client_id,
        Value::Array(a) => a
            .iter()
            .any(|v| v.as_str() == Some(conn.client_id.as_str())),
        _ => false,
    };
    let iat_ok = claims["iat"]
        .as_i64()
        .is_some_and(|iat| iat <= now() + LEEWAY_SECS && iat >= now() - MAX_AGE_SECS);
    claims["iss"].as_str() == Some(conn.issuer.as_str())
        && aud_ok
        && iat_ok
        && claims["events"].get(EVENT).is_some_and(Value::is_object)
}

/// The keys of the provider's set that may verify `alg` under `kid`.
fn candidate_keys(metadata: &Metadata, kid: Option<&str>, alg: Algorithm) -> Vec<DecodingKey> {
    let Ok(Value::Object(set)) = serde_json::to_value(metadata.jwks()) else {
        return Vec::new();
    };
    let Some(Value::Array(keys)) = set.get("keys") else {
        return Vec::new();
    };
    keys.iter()
        // Keys of types this library does not know are skipped, not fatal.
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
        .filter_map(|k| DecodingKey::from_jwk(&k).ok())
        .filter(|k| k.family() == alg.family())
        .collect()
}

fn claims_refusal(kind: &ErrorKind) -> LogoutRefusal {
    match kind {
        ErrorKind::InvalidSignature => LogoutRefusal::Signature,
        ErrorKind::InvalidIssuer => LogoutRefusal::Issuer,
        ErrorKind::InvalidAudience => LogoutRefusal::Audience,
        ErrorKind::ExpiredSignature => LogoutRefusal::Expired,
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => LogoutRefusal::Issuer,
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => LogoutRefusal::Audience,
        ErrorKind::InvalidAlgorithm => LogoutRefusal::Algorithm("(mismatched key)".into()),
        _ => LogoutRefusal::Malformed,
    }
}

/// Verifies signature, `iss`, `aud` and `exp` (when present) with each
/// candidate key; the first key that verifies wins.
fn decode(
    token: &str,
    keys: &[DecodingKey],
    alg: Algorithm,
    conn: &Connection,
) -> Result<LogoutClaims, LogoutRefusal> {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[&conn.issuer]);
    validation.set_audience(&[&conn.client_id]);
    validation.set_required_spec_claims(&["iss", "aud"]);
    validation.leeway = LEEWAY_SECS as u64;
    let mut last = LogoutRefusal::Signature;
    for key in keys {
        match jsonwebtoken::decode::<LogoutClaims>(token, key, &validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) => {
                last = claims_refusal(e.kind());
                if last != LogoutRefusal::Signature {
                    // The signature was good; the claims are what is wrong.
                    return Err(last);
                }
            }
        }
    }
    Err(last)
}

/// What the token asks to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub sessions: u64,
}

async fn verified_claims(
    state: &AppState,
    conn: &Connection,
    token: &str,
) -> Result<LogoutClaims, LogoutRefusal> {
    let (alg_name, typ) = header_fields(token)?;
    let alg = ALLOWED
        .iter()
        .find(|(name, _)| *name == alg_name)
        .map(|(_, alg)| *alg)
        .ok_or_else(|| LogoutRefusal::Algorithm(alg_name.clone()))?;
    if let Some(typ) = typ {
        let typ = typ.to_ascii_lowercase();
        if typ != "logout+jwt" && typ != "application/logout+jwt" {
            return Err(LogoutRefusal::Type);
        }
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| LogoutRefusal::Malformed)?;
    let guard = guard(state);
    let metadata = state
        .sso_providers
        .metadata(guard, &conn.issuer)
        .await
        .map_err(LogoutRefusal::Unreachable)?;
    let kid = header.kid.as_deref();
    let mut keys = candidate_keys(&metadata, kid, alg);
    // The re-fetch slot is shared by every instance and kept for real key
    // rotations: noise with a made-up key id must not use it up.
    if keys.is_empty() && could_be_from(token, conn) {
        // Perhaps the IdP rotated its keys; the re-fetch is rate limited.
        if let Some(fresh) = state
            .sso_providers
            .refetch_jwks(&state.db, guard, &conn.issuer)
            .await
            .map_err(LogoutRefusal::Unreachable)?
        {
            keys = candidate_keys(&fresh, kid, alg);
        }
    }
    if keys.is_empty() {
        return Err(LogoutRefusal::UnknownKey);
    }
    let claims = decode(token, &keys, alg, conn)?;
    let now = now();
    match claims.iat {
        Some(iat) if iat <= now + LEEWAY_SECS && iat >= now - MAX_AGE_SECS => {}
        _ => return Err(LogoutRefusal::IssuedAt),
    }
    let has_event = claims
        .events
        .as_ref()
        .and_then(|e| e.get(EVENT))
        .is_some_and(Value::is_object);
    if !has_event {
        return Err(LogoutRefusal::Event);
    }
    if claims.nonce.is_some() {
        return Err(LogoutRefusal::Nonce);
    }
    if claims.sub.is_none() && claims.sid.is_none() {
        return Err(LogoutRefusal::NoSubject);
    }
    if claims.jti.as_deref().is_none_or(str::is_empty) {
        return Err(LogoutRefusal::NoJti);
    }
    Ok(claims)
}

/// Handles one logout token for the organization `org_id`.
pub async fn back_channel(
    state: &AppState,
    org_id: &str,
    token: Option<&str>,
    ip: Option<IpAddr>,
) -> Result<Ended, LogoutRefusal> {
    // A SAML connection has no logout tokens (nor an OIDC issuer to ask).
    let conn = connection_by_org(&state.db, org_id)
        .await?
        .filter(Connection::is_oidc)
        .ok_or(LogoutRefusal::UnknownConnection)?;
    let token = token
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(LogoutRefusal::Missing)?;
    if token.len() > 16 * 1024 {
        return Err(LogoutRefusal::Malformed);
    }
    let claims = match verified_claims(state, &conn, token).await {
        Ok(claims) => claims,
        Err(refusal) => {
            // Tokens that passed the signature come from the IdP: worth an
            // audit event. Unsigned noise is only logged, so anyone posting
            // garbage cannot fill the audit log.
            if refusal.after_signature() {
                let details = json!({ "reason": refusal.code(), "message": refusal.to_string() });
                audit_logout(state, &conn, "sso.backchannel_logout_refused", details, ip).await;
            }
            return Err(refusal);
        }
    };
    let jti: String = claims.jti.unwrap_or_default().chars().take(255).collect();
    let mut tx = crate::ssr::db::begin_write(&state.db).await?;
    let fresh = sqlx::query(
        "INSERT INTO sso_logout_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&conn.issuer)
    .bind(&jti)
    .bind(now() + MAX_AGE_SECS + 2 * LEEWAY_SECS)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if fresh == 0 {
        drop(tx);
        audit_logout(
            state,
            &conn,
            "sso.backchannel_logout_refused",
            json!({
                "reason": LogoutRefusal::Replayed.code(), "jti": jti,
            }),
            ip,
        )
        .await;
        return Err(LogoutRefusal::Replayed);
    }
    let ended = end_idp_sessions(
        &mut tx,
        &conn.org_id,
        claims.sub.as_deref(),
        claims.sid.as_deref(),
    )
    .await?;
    audit::record(
        &mut *tx,
        Event {
            org_id: &conn.org_id,
            actor: &Actor::System,
            action: "sso.backchannel_logout",
            target: None,
            details: json!({
                "sub": claims.sub, "sid": claims.sid, "jti": jti, "sessions_ended": ended,
            }),
            ip,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ended { sessions: ended })
}

/// Ends the organization's SSO sessions the IdP names: by subject and
/// IdP session (a session that recorded no IdP session is matched by its
/// subject), by IdP session alone, or every session of the subject. Shared
/// by OIDC back-channel logout and SAML single logout.
pub(crate) async fn end_idp_sessions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    subject: Option<&str>,
    idp_session: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let done = match (idp_session, subject) {
        (Some(sid), Some(sub)) => {
            sqlx::query(
                "DELETE FROM sessions WHERE org_id = $1 AND method = 'sso' AND idp_sub = $3 \
                 AND (idp_sid = $2 OR idp_sid IS NULL)",
            )
            .bind(org_id)
            .bind(sid)
            .bind(sub)
            .execute(&mut **tx)
            .await?
        }
        (Some(sid), None) => {
            sqlx::query(
                "DELETE FROM sessions WHERE org_id = $1 AND method = 'sso' AND idp_sid = $2",
            )
            .bind(org_id)
            .bind(sid)
            .execute(&mut **tx)
            .await?
        }
        (None, sub) => {
            sqlx::query(
                "DELETE FROM sessions WHERE org_id = $1 AND method = 'sso' AND idp_sub = $2",
            )
            .bind(org_id)
            .bind(sub.unwrap_or_default())
            .execute(&mut **tx)
            .await?
        }
    };
    Ok(done.rows_affected())
}

async fn audit_logout(
    state: &AppState,
    conn: &Connection,
    action: &str,
    details: Value,
    ip: Option<IpAddr>,
) {
    let event = Event {
        org_id: &conn.org_id,
        actor: &Actor::System,
        action,
        target: None,
        details,
        ip,
    };
    if let Err(e) = audit::record(&state.db, event).await {
        tracing::error!(error = %e.message, "could not audit a back-channel logout");
    }
}

/// RP-initiated logout is possible for this session: it came through SSO,
/// kept its ID token, and the IdP's (cached) discovery advertises an
/// `end_session_endpoint`. Returns the provider label to offer it by name.
/// Never fetches, so a console page does not wait on the IdP.
pub async fn rp_logout_offer(state: &AppState, auth: &SessionAuth) -> Option<String> {
    let (conn, _) = sso_session(state, auth).await?;
    let metadata = state.sso_providers.peek(&conn.issuer)?;
    end_session_endpoint(&metadata)?;
    Some(conn.provider_label)
}

/// The IdP's `end_session_endpoint` with `id_token_hint`, `client_id` and
/// `post_logout_redirect_uri`, for a browser redirect.
pub async fn rp_logout_url(state: &AppState, auth: &SessionAuth) -> Option<String> {
    let (conn, id_token) = sso_session(state, auth).await?;
    let metadata = state
        .sso_providers
        .metadata(guard(state), &conn.issuer)
        .await
        .ok()?;
    let mut url = end_session_endpoint(&metadata)?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("client_id", &conn.client_id)
        .append_pair(
            "post_logout_redirect_uri",
            &super::ssr::post_logout_redirect_uri(&state.settings.public_url),
        );
    Some(url.to_string())
}

async fn sso_session(state: &AppState, auth: &SessionAuth) -> Option<(Connection, String)> {
    if auth.method != "sso" {
        return None;
    }
    let id_token = auth.idp_id_token.clone()?;
    let conn = connection_by_org(&state.db, auth.org_id.as_deref()?)
        .await
        .ok()??;
    Some((conn, id_token))
}

fn end_session_endpoint(metadata: &Metadata) -> Option<url::Url> {
    let raw = metadata
        .additional_metadata()
        .end_session_endpoint
        .as_deref()?;
    url::Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
}

/// Removes replay records past their window; run by the background job.
pub async fn delete_expired_jtis(db: &crate::ssr::db::Db) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM sso_logout_jtis WHERE expires_at <= $1")
            .bind(now())
            .execute(db)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn none_and_hmac_are_refused_by_name() {
        for alg in ["none", "HS256"] {
            let token = format!("{}.{}.", b64(&json!({"alg": alg})), b64(&json!({})));
            let (name, _) = header_fields(&token).expect("a header");
            assert!(ALLOWED.iter().all(|(n, _)| *n != name), "{alg} allowed");
        }
        assert_eq!(header_fields("not-a-jwt"), Err(LogoutRefusal::Malformed));
    }

    #[test]
    fn typ_is_read_from_the_header() {
        let token = format!(
            "{}.e30.",
            b64(&json!({"alg": "RS256", "typ": "logout+jwt"}))
        );
        assert_eq!(
            header_fields(&token),
            Ok(("RS256".into(), Some("logout+jwt".into())))
        );
    }
}
