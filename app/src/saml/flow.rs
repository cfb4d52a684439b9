//! The SAML sign-in, without HTTP: `begin` sends an AuthnRequest (HTTP-
//! Redirect binding, signed when the IdP asks) and records it; `finish`
//! verifies what the IdP posts to the ACS and hands the verified claims to
//! the same provisioning as OpenID Connect. An SP-initiated response must
//! answer a request this browser started (a cookie per request, like the
//! OIDC `state`) and is taken once; an unsolicited one is accepted only
//! when the connection allows IdP-initiated sign-in. Either way the
//! assertion ID is recorded, so a replayed response is refused.

use super::idp_metadata::IdpMetadata;
use super::sp::{sp_key, sp_urls};
use super::verify::{Expectations, Hints, VerifiedAssertion, hints, verify_response};
use super::{SamlError, store};
use crate::sso::connection::{Connection, Purpose, connection_by_org, connection_for_test};
use crate::sso::outcome::{Failure, Finished, Refusal, refused, tested};
use crate::sso::provision::{self, Verified};
use crate::ssr::state::AppState;
use std::net::IpAddr;
use std::sync::Arc;

/// Where the browser goes to sign in at the IdP.
pub struct Begun {
    pub url: String,
    /// Set as the binding cookie (see [`binding_cookie`]).
    pub request_id: String,
}

fn idp_of(conn: &Connection) -> Result<Arc<IdpMetadata>, Refusal> {
    let saml = conn.saml.as_ref().ok_or(Refusal::UnknownLogin)?;
    super::idp_metadata::parse_cached(&saml.metadata_xml).map_err(Refusal::Saml)
}

/// Starts an SP-initiated sign-in (or a test; `setup_link` is the link it
/// was started through, with which it ends).
pub async fn begin(
    state: &AppState,
    conn: &Connection,
    purpose: Purpose,
    return_to: Option<&str>,
    setup_link: Option<&str>,
) -> Result<Begun, Refusal> {
    if purpose == Purpose::Login && !conn.enabled {
        return Err(Refusal::NotEnabled);
    }
    let idp = idp_of(conn)?;
    let urls = sp_urls(&state.settings.public_url, &conn.org_id);
    let key = if idp.want_authn_requests_signed {
        sp_key(state, &conn.org_id).await?.map(|k| k.key_der)
    } else {
        None
    };
    let redirect = super::authn_request::authn_request_redirect(
        &idp,
        &urls.entity_id,
        &urls.acs_url,
        "",
        key.as_deref(),
    )
    .map_err(Refusal::Saml)?;
    store::record_request(
        &state.db,
        &redirect.request_id,
        &conn.org_id,
        purpose.as_str(),
        return_to.and_then(crate::return_to::safe_return_to),
        setup_link,
    )
    .await?;
    Ok(Begun {
        url: redirect.url,
        request_id: redirect.request_id,
    })
}

fn cookie_name(request_id: &str) -> String {
    let digest = crate::ssr::crypto::sha256_hex(request_id);
    format!("latchkey_saml_{}", &digest[..12])
}

const BINDING_CONTEXT: &str = "saml_request_binding";

/// The cookie binding a request to the browser that starts it (the IdP
/// posts the response from its own site: see `cross_site_cookie`). Its
/// value is sealed with the server key: the request ID is no secret (every
/// response carries it as `InResponseTo`), so a cookie anyone could
/// rebuild from a response would bind nothing.
pub fn binding_cookie(
    keys: &crate::ssr::crypto::Keys,
    request_id: &str,
    purpose: Purpose,
    secure: bool,
) -> String {
    let value = keys.secrets().encrypt(
        &format!("{}.{request_id}", purpose.as_str()),
        BINDING_CONTEXT,
    );
    super::cross_site_cookie(&cookie_name(request_id), Some(&value), secure)
}

pub fn clear_binding_cookie(request_id: &str) -> String {
    super::cross_site_cookie(&cookie_name(request_id), None, false)
}

/// The purpose this browser started `request_id` for, if it did.
pub fn bound_purpose(
    keys: &crate::ssr::crypto::Keys,
    headers: &http::HeaderMap,
    request_id: &str,
) -> Option<Purpose> {
    crate::ssr::cookie_values(headers, &cookie_name(request_id)).find_map(|v| {
        let opened = keys.secrets().decrypt(v, BINDING_CONTEXT).ok()?;
        let (purpose, id) = opened.split_once('.')?;
        (id == request_id)
            .then(|| Purpose::parse(purpose))
            .flatten()
    })
}

/// The ACS's form.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    pub saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    pub relay_state: Option<String>,
}

impl AcsForm {
    /// What the (unverified) response says of itself.
    pub fn hints(&self) -> Hints {
        self.saml_response.as_deref().map(hints).unwrap_or_default()
    }
}

/// Refusals worth an audit event: those after the signature verified (a
/// replay included), and provisioning's. Anyone can post anything to the
/// ACS; the rest is only logged.
fn worth_auditing(refusal: &Refusal) -> bool {
    match refusal {
        Refusal::Saml(e) => matches!(
            e,
            SamlError::Destination
                | SamlError::Audience
                | SamlError::Issuer
                | SamlError::Expired
                | SamlError::NotYetValid
                | SamlError::NoNameId
        ),
        Refusal::Replayed
        | Refusal::NoEmail
        | Refusal::EmailUnverified(_)
        | Refusal::DomainNotVerified(_)
        | Refusal::Deactivated
        | Refusal::AccountOfAnotherIdp(_)
        | Refusal::NotProvisioned(_) => true,
        _ => false,
    }
}

/// Responses one network may post per minute that fail before their
/// signature verified (anyone can post them; each costs a parse, and those
/// that reach xmlsec a signature check).
const UNVERIFIED_FAILURES_PER_MINUTE: i64 = 20;

fn failure_key(ip: IpAddr) -> String {
    format!("saml_acs:{}", crate::identity::limits::network_of(ip))
}

/// A refusal made before the response's signature verified: the kind an
/// outsider can produce at will.
fn before_verification(refusal: &Refusal) -> bool {
    !worth_auditing(refusal)
        && matches!(
            refusal,
            Refusal::Saml(_)
                | Refusal::OtherBrowser
                | Refusal::UnknownState
                | Refusal::UnknownLogin
        )
}

/// Verifies the posted response for `path_org_id` and signs the member in
/// (or records the test). A network whose posts keep failing before their
/// signature verified is refused for a minute without parsing anything.
pub async fn finish(
    state: &AppState,
    path_org_id: &str,
    form: &AcsForm,
    hints: Hints,
    bound: Option<Purpose>,
    ip: Option<IpAddr>,
) -> Result<Finished, Failure> {
    if let Some(ip) = ip {
        let count = crate::identity::limits::current_count(&state.db, &failure_key(ip), 60)
            .await
            .unwrap_or(0);
        if count >= UNVERIFIED_FAILURES_PER_MINUTE {
            tracing::warn!(%ip, "too many refused SAML responses from one network");
            return Err(Failure {
                refusal: Refusal::TooManyFailures,
                connection: None,
                purpose: Purpose::Login,
            });
        }
    }
    let result = finish_checked(state, path_org_id, form, hints, bound, ip).await;
    if let (Err(failure), Some(ip)) = (&result, ip)
        && before_verification(&failure.refusal)
        && let Err(e) =
            crate::identity::limits::count_in_window(&state.db, &failure_key(ip), 60).await
    {
        tracing::error!(error = %e.message, "could not count a refused SAML response");
    }
    result
}

/// [`finish`] past its limit. `hints` are the form's [`AcsForm::hints`];
/// `bound` is the purpose this browser started the answered request for. Every refusal leaves no session and no account.
async fn finish_checked(
    state: &AppState,
    path_org_id: &str,
    form: &AcsForm,
    hints: Hints,
    bound: Option<Purpose>,
    ip: Option<IpAddr>,
) -> Result<Finished, Failure> {
    let fail = |refusal, connection: Option<Connection>, purpose| Failure {
        refusal,
        connection,
        purpose,
    };
    let Some(response) = form.saml_response.as_deref().filter(|r| !r.is_empty()) else {
        return Err(fail(
            Refusal::Saml(SamlError::Malformed),
            None,
            Purpose::Login,
        ));
    };
    let Hints {
        in_response_to: request_id,
        encrypted,
    } = hints;
    let purpose = match (&request_id, bound) {
        (Some(_), Some(p)) => p,
        (Some(_), None) => return Err(fail(Refusal::OtherBrowser, None, Purpose::Login)),
        (None, _) => Purpose::Login,
    };
    // A test's outcome is recorded on the connection, so only a test
    // Latchkey started may record one: a forged cookie records nothing.
    if let (Some(id), Purpose::Test) = (&request_id, purpose) {
        match store::is_outstanding(&state.db, id, path_org_id, "test").await {
            Ok(true) => {}
            Ok(false) => return Err(fail(Refusal::UnknownState, None, Purpose::Login)),
            Err(e) => return Err(fail(e.into(), None, Purpose::Login)),
        }
    }
    let loaded = match purpose {
        Purpose::Test => connection_for_test(state, path_org_id).await,
        Purpose::Login => connection_by_org(&state.db, path_org_id).await,
    };
    let conn = match loaded {
        Ok(Some(c)) if c.saml.is_some() => c,
        Ok(_) => return Err(fail(Refusal::UnknownLogin, None, purpose)),
        Err(e) => return Err(fail(e.into(), None, purpose)),
    };
    let outcome = match verify(
        state,
        &conn,
        response,
        request_id.as_deref(),
        encrypted,
        purpose,
    )
    .await
    {
        Ok((assertion, stored_return_to)) => {
            let claims = assertion.claims(&conn.claims);
            match purpose {
                Purpose::Test => tested(state, &conn, &claims).await,
                Purpose::Login => {
                    let return_to = match &request_id {
                        Some(_) => stored_return_to,
                        // IdP-initiated: RelayState, when it is a local path.
                        None => form
                            .relay_state
                            .as_deref()
                            .and_then(crate::return_to::safe_return_to)
                            .map(str::to_owned),
                    };
                    let verified = Verified {
                        issuer: &conn.issuer,
                        claims: &claims,
                        id_token: None,
                        return_to,
                    };
                    provision::sign_in(state, &conn, verified, ip).await
                }
            }
        }
        Err(r) => Err(r),
    };
    match outcome {
        Ok(done) => Ok(done),
        Err(refusal) => {
            let audit = worth_auditing(&refusal);
            Err(refused(state, conn, purpose, refusal, audit, ip).await)
        }
    }
}

/// Signature and conditions (off the async threads: xmlsec is CPU work),
/// then the single use of the request and of the assertion.
async fn verify(
    state: &AppState,
    conn: &Connection,
    response: &str,
    request_id: Option<&str>,
    encrypted: bool,
    purpose: Purpose,
) -> Result<(VerifiedAssertion, Option<String>), Refusal> {
    if purpose == Purpose::Login && !conn.enabled {
        return Err(Refusal::NotEnabled);
    }
    let saml = conn.saml.clone().ok_or(Refusal::UnknownLogin)?;
    let idp = idp_of(conn)?;
    let urls = sp_urls(&state.settings.public_url, &conn.org_id);
    // The SP keys are read (and opened) only for an encrypted assertion.
    let keys = if encrypted {
        super::sp::decryption_keys(state, &conn.org_id).await?
    } else {
        Vec::new()
    };
    let response = response.to_owned();
    let ids: Vec<String> = request_id.map(str::to_owned).into_iter().collect();
    let assertion = tokio::task::spawn_blocking(move || {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let attempt = |key: Option<&[u8]>| {
            verify_response(
                &response,
                &idp,
                &Expectations {
                    sp_entity_id: &urls.entity_id,
                    acs_url: &urls.acs_url,
                    request_ids: &ids,
                    allow_idp_initiated: saml.allow_idp_initiated,
                    allow_sha1: saml.allow_sha1,
                    allow_aes_cbc: saml.allow_aes_cbc,
                    decryption_key: key,
                },
            )
        };
        let mut result = attempt(keys.first().map(Vec::as_slice));
        // Encrypted to the key before the last rotation: the IdP has not
        // read the new SP metadata yet.
        if let (Err(SamlError::Encrypted), Some(previous)) = (&result, keys.get(1)) {
            result = attempt(Some(previous));
        }
        result
    })
    .await
    .map_err(|_| Refusal::Internal)?
    .map_err(Refusal::Saml)?;
    if assertion.in_response_to.as_deref() != request_id {
        return Err(Refusal::Saml(SamlError::InResponseTo));
    }
    let mut return_to = None;
    if let Some(id) = request_id {
        // Taken once, by the organization and for the purpose it was made.
        let taken = store::take_request(&state.db, id, &conn.org_id).await?;
        match taken {
            Some(req) if req.purpose == purpose.as_str() => return_to = req.return_to,
            _ => return Err(Refusal::UnknownState),
        }
    }
    let first = store::first_use_of_assertion(
        &state.db,
        &assertion.issuer,
        &assertion.assertion_id,
        assertion.not_on_or_after,
    )
    .await?;
    if !first {
        return Err(Refusal::Replayed);
    }
    Ok((assertion, return_to))
}
