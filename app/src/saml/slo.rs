//! SAML single logout (HTTP-Redirect binding, signed both ways), without
//! HTTP. IdP-initiated: a LogoutRequest signed by the connection's IdP ends
//! the named person's SSO sessions of that organization, once (a replayed
//! request is refused), and is answered with a signed LogoutResponse.
//! SP-initiated: signing out "and at the IdP" sends a LogoutRequest; the
//! IdP's answer comes back to the same endpoint.

use super::idp_metadata::IdpMetadata;
use super::logout::{SignedOut, logout_request_redirect, logout_response_redirect};
use super::sp::{sp_key, sp_urls};
use super::{SamlError, store};
use crate::audit::ssr::{self as audit, Event};
use crate::identity::SessionAuth;
use crate::orgs::access::Actor;
use crate::sso::connection::{Connection, connection_by_org};
use crate::sso::outcome::Refusal;
use crate::ssr::state::AppState;
use serde_json::json;
use std::net::IpAddr;

const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
/// How long a logout request is remembered against replay.
const LOGOUT_REPLAY_SECS: i64 = 600;

async fn saml_connection(
    state: &AppState,
    org_id: &str,
) -> Result<(Connection, std::sync::Arc<IdpMetadata>), Refusal> {
    let conn = connection_by_org(&state.db, org_id)
        .await?
        .filter(|c| c.saml.is_some())
        .ok_or(Refusal::UnknownLogin)?;
    let xml = conn
        .saml
        .as_ref()
        .map(|s| s.metadata_xml.as_str())
        .unwrap_or_default();
    let idp = super::idp_metadata::parse_cached(xml).map_err(Refusal::Saml)?;
    Ok((conn, idp))
}

/// Handles the IdP's LogoutRequest (`raw_query` as received, for its
/// signature) and returns where to send the browser: the IdP's SLO
/// endpoint with the signed LogoutResponse.
pub async fn idp_logout(
    state: &AppState,
    org_id: &str,
    raw_query: &str,
    ip: Option<IpAddr>,
) -> Result<String, Refusal> {
    let (conn, idp) = saml_connection(state, org_id).await?;
    let allow_sha1 = conn.saml.as_ref().is_some_and(|s| s.allow_sha1);
    let urls = sp_urls(&state.settings.public_url, org_id);
    let request = super::logout::read_logout_request(raw_query, &idp, &urls.slo_url, allow_sha1)
        .map_err(Refusal::Saml)?;
    let logout_key = format!("logout:{}", request.id);
    let expires = crate::ssr::now() + LOGOUT_REPLAY_SECS;
    if !store::first_use_of_assertion(&state.db, &idp.entity_id, &logout_key, Some(expires)).await?
    {
        return Err(Refusal::Replayed);
    }
    let mut tx = crate::ssr::db::begin_write(&state.db).await?;
    let end = crate::sso::logout::end_idp_sessions;
    let mut ended = 0;
    if request.session_indexes.is_empty() {
        ended += end(&mut tx, org_id, Some(&request.name_id), None).await?;
    }
    for index in &request.session_indexes {
        ended += end(&mut tx, org_id, Some(&request.name_id), Some(index)).await?;
    }
    audit::record(
        &mut *tx,
        Event {
            org_id,
            actor: &Actor::System,
            action: "sso.saml_logout",
            target: None,
            details: json!({
                "name_id": request.name_id,
                "session_indexes": request.session_indexes,
                "sessions_ended": ended,
            }),
            ip,
        },
    )
    .await
    .map_err(|_| Refusal::Internal)?;
    tx.commit().await?;
    let key = sp_key(state, org_id).await?.ok_or(Refusal::Internal)?;
    logout_response_redirect(
        &idp,
        &urls.entity_id,
        &request.id,
        request.relay_state.as_deref(),
        &key.key_der,
    )
    .map_err(Refusal::Saml)
}

/// The IdP's signed LogoutRequest for this SSO session, when the session
/// came through a SAML connection whose IdP publishes a SingleLogoutService:
/// `(request_id, url)`. The ID is recorded so the answer can be checked.
pub async fn sp_logout(state: &AppState, auth: &SessionAuth) -> Option<(String, String)> {
    if auth.method != "sso" {
        return None;
    }
    let org_id = auth.org_id.as_deref()?;
    let name_id = auth.idp_sub.as_deref()?;
    let (_, idp) = saml_connection(state, org_id).await.ok()?;
    idp.slo_url.as_ref()?;
    let key = sp_key(state, org_id).await.ok()??;
    let urls = sp_urls(&state.settings.public_url, org_id);
    let who = SignedOut {
        name_id,
        // Latchkey asks for email-address NameIDs; the IdP matches on it.
        name_id_format: name_id.contains('@').then_some(EMAIL_FORMAT),
        session_index: auth.idp_sid.as_deref(),
    };
    let (id, url) =
        logout_request_redirect(&idp, &urls.entity_id, &who, None, &key.key_der).ok()?;
    store::record_request(&state.db, &id, org_id, "logout", None, None)
        .await
        .ok()?;
    Some((id, url))
}

/// Whether the console may offer "sign out at the IdP" for this session,
/// by the provider's name. Reads the stored metadata only.
pub async fn sp_logout_offer(state: &AppState, auth: &SessionAuth) -> Option<String> {
    if auth.method != "sso" || auth.idp_sub.is_none() {
        return None;
    }
    let (conn, idp) = saml_connection(state, auth.org_id.as_deref()?).await.ok()?;
    idp.slo_url.as_ref()?;
    Some(conn.provider_label)
}

/// The IdP's answer to our LogoutRequest `request_id` (taken once).
pub async fn logout_answered(
    state: &AppState,
    org_id: &str,
    raw_query: &str,
    request_id: &str,
) -> Result<(), Refusal> {
    let (conn, idp) = saml_connection(state, org_id).await?;
    let taken = store::take_request(&state.db, request_id, org_id).await?;
    if taken.is_none_or(|r| r.purpose != "logout") {
        return Err(Refusal::UnknownState);
    }
    let allow_sha1 = conn.saml.as_ref().is_some_and(|s| s.allow_sha1);
    let urls = sp_urls(&state.settings.public_url, org_id);
    super::logout::read_logout_response(raw_query, &idp, &urls.slo_url, request_id, allow_sha1)
        .map(|_| ())
        .map_err(|e: SamlError| Refusal::Saml(e))
}

const LOGOUT_COOKIE: &str = "latchkey_saml_logout";

/// Remembers, in the browser, which LogoutRequest it carries to the IdP
/// (the answer comes back from the IdP's site: `SameSite=None` over HTTPS).
pub fn logout_cookie(request_id: &str, secure: bool) -> String {
    super::cross_site_cookie(LOGOUT_COOKIE, Some(request_id), secure)
}

pub fn clear_logout_cookie() -> String {
    super::cross_site_cookie(LOGOUT_COOKIE, None, false)
}

pub fn logout_request_of(headers: &http::HeaderMap) -> Option<String> {
    crate::ssr::cookie_values(headers, LOGOUT_COOKIE)
        .find(|v| !v.is_empty())
        .map(str::to_owned)
}
