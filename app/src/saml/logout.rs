//! Single logout with the HTTP-Redirect binding: the LogoutRequest Latchkey
//! sends when a person signs out (SP-initiated) and the IdP's answer, and
//! the LogoutRequest an IdP sends when a person signs out there, with
//! Latchkey's answer. Every message is signed; unsigned ones are refused.

use super::idp_metadata::IdpMetadata;
use super::redirect::{read_signed, signed_url};
use super::xml_guard::{self, escape};
use super::{ASSERTION_NS, PROTOCOL_NS, SUCCESS, SamlError, new_message_id, require_success};
use chrono::{DateTime, SecondsFormat, Utc};

const LEEWAY_SECS: i64 = 60;
/// How old an IdP's LogoutRequest may be: a captured one replayed later
/// (after its one-time record is gone) ends nothing.
const MAX_REQUEST_AGE_SECS: i64 = 300;

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Who is signing out, as the session recorded it at sign-in.
pub struct SignedOut<'a> {
    pub name_id: &'a str,
    pub name_id_format: Option<&'a str>,
    pub session_index: Option<&'a str>,
}

impl super::verify::VerifiedAssertion {
    /// Who signs out, when the session this assertion began ends.
    pub fn signed_out(&self) -> SignedOut<'_> {
        SignedOut {
            name_id: &self.name_id,
            name_id_format: self.name_id_format.as_deref(),
            session_index: self.session_index.as_deref(),
        }
    }
}

/// The redirect carrying Latchkey's signed LogoutRequest to the IdP, and
/// the request's ID, which the LogoutResponse must echo.
pub fn logout_request_redirect(
    idp: &IdpMetadata,
    sp_entity_id: &str,
    who: &SignedOut<'_>,
    relay_state: Option<&str>,
    sp_key_der: &[u8],
) -> Result<(String, String), SamlError> {
    let slo = idp.slo_url.as_deref().ok_or(SamlError::NoSloService)?;
    let id = new_message_id();
    let format = who
        .name_id_format
        .map(|f| format!(" Format=\"{}\"", escape(f)))
        .unwrap_or_default();
    let session = who
        .session_index
        .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
        .unwrap_or_default();
    let xml = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\"><saml:Issuer>{}</saml:Issuer><saml:NameID{format}>{}</saml:NameID>{session}</samlp:LogoutRequest>",
        now(),
        escape(slo),
        escape(sp_entity_id),
        escape(who.name_id),
    );
    let url = signed_url(slo, "SAMLRequest", &xml, relay_state, sp_key_der)?;
    Ok((id, url))
}

/// A LogoutRequest from the IdP, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpLogoutRequest {
    pub id: String,
    pub name_id: String,
    /// Empty: every session of that NameID.
    pub session_indexes: Vec<String>,
    pub relay_state: Option<String>,
}

/// The root of a verified message, after the checks every one gets.
fn checked_root<'a>(
    doc: &'a roxmltree::Document<'a>,
    name: &str,
    idp: &IdpMetadata,
    sp_slo_url: &str,
) -> Result<roxmltree::Node<'a, 'a>, SamlError> {
    xml_guard::no_comment_in_text(doc)?;
    let root = doc.root_element();
    if !root.has_tag_name((PROTOCOL_NS, name)) {
        return Err(SamlError::Malformed);
    }
    let issuer = root
        .children()
        .find(|n| n.has_tag_name((ASSERTION_NS, "Issuer")))
        .and_then(|n| n.text())
        .map(str::trim);
    if issuer != Some(idp.entity_id.as_str()) {
        return Err(SamlError::Issuer);
    }
    if root
        .attribute("Destination")
        .is_some_and(|d| d != sp_slo_url)
    {
        return Err(SamlError::Destination);
    }
    Ok(root)
}

/// Reads the IdP's LogoutRequest from the raw query string of a GET to
/// the SLO URL.
pub fn read_logout_request(
    raw_query: &str,
    idp: &IdpMetadata,
    sp_slo_url: &str,
    allow_sha1: bool,
) -> Result<IdpLogoutRequest, SamlError> {
    let received = read_signed(raw_query, "SAMLRequest", &idp.certs_der, allow_sha1)?;
    let doc = xml_guard::parse(&received.xml)?;
    let root = checked_root(&doc, "LogoutRequest", idp, sp_slo_url)?;
    let issued = root
        .attribute("IssueInstant")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .ok_or(SamlError::Malformed)?
        .timestamp();
    let at = Utc::now().timestamp();
    if issued > at + LEEWAY_SECS {
        return Err(SamlError::NotYetValid);
    }
    if issued + MAX_REQUEST_AGE_SECS + LEEWAY_SECS < at {
        return Err(SamlError::Expired);
    }
    if let Some(t) = root.attribute("NotOnOrAfter") {
        let t = DateTime::parse_from_rfc3339(t).map_err(|_| SamlError::Malformed)?;
        if t.timestamp() + LEEWAY_SECS < Utc::now().timestamp() {
            return Err(SamlError::Expired);
        }
    }
    let id = root.attribute("ID").ok_or(SamlError::Malformed)?.to_owned();
    let name_id = root
        .children()
        .find(|n| n.has_tag_name((ASSERTION_NS, "NameID")))
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(SamlError::NoNameId)?;
    let session_indexes = root
        .children()
        .filter(|n| n.has_tag_name((PROTOCOL_NS, "SessionIndex")))
        .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
        .collect();
    Ok(IdpLogoutRequest {
        id,
        name_id,
        session_indexes,
        relay_state: received.relay_state,
    })
}

/// The redirect carrying Latchkey's signed LogoutResponse (success) back.
pub fn logout_response_redirect(
    idp: &IdpMetadata,
    sp_entity_id: &str,
    in_response_to: &str,
    relay_state: Option<&str>,
    sp_key_der: &[u8],
) -> Result<String, SamlError> {
    let slo = idp.slo_url.as_deref().ok_or(SamlError::NoSloService)?;
    let xml = format!(
        "<samlp:LogoutResponse xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" InResponseTo=\"{}\"><saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{SUCCESS}\"/></samlp:Status></samlp:LogoutResponse>",
        new_message_id(),
        now(),
        escape(slo),
        escape(in_response_to),
        escape(sp_entity_id),
    );
    signed_url(slo, "SAMLResponse", &xml, relay_state, sp_key_der)
}

/// Checks the IdP's LogoutResponse to Latchkey's request `request_id`.
pub fn read_logout_response(
    raw_query: &str,
    idp: &IdpMetadata,
    sp_slo_url: &str,
    request_id: &str,
    allow_sha1: bool,
) -> Result<Option<String>, SamlError> {
    let received = read_signed(raw_query, "SAMLResponse", &idp.certs_der, allow_sha1)?;
    let doc = xml_guard::parse(&received.xml)?;
    let root = checked_root(&doc, "LogoutResponse", idp, sp_slo_url)?;
    if root.attribute("InResponseTo") != Some(request_id) {
        return Err(SamlError::InResponseTo);
    }
    require_success(root)?;
    Ok(received.relay_state)
}

#[cfg(test)]
mod tests {
    use super::super::test_idp::{SP_ENTITY, TestIdp};
    use super::*;

    const SLO: &str = "https://latchkey.example.test/saml/org_1/slo";

    fn query(url: &str) -> &str {
        url.split_once('?').map(|(_, q)| q).unwrap_or("")
    }

    /// A LogoutRequest as the IdP would send it, signed with its key.
    fn from_idp(idp: &TestIdp, issuer: &str, name_id: &str, not_on_or_after: &str) -> String {
        issued_at(idp, issuer, name_id, not_on_or_after, &now())
    }

    fn issued_at(
        idp: &TestIdp,
        issuer: &str,
        name_id: &str,
        not_on_or_after: &str,
        issued: &str,
    ) -> String {
        let xml = format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"_idp1\" Version=\"2.0\" IssueInstant=\"{issued}\" Destination=\"{SLO}\" NotOnOrAfter=\"{not_on_or_after}\"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID>{name_id}</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>"
        );
        signed_url(
            "https://latchkey.example.test/saml/org_1/slo",
            "SAMLRequest",
            &xml,
            Some("rs"),
            idp.key_der(),
        )
        .expect("test fixture")
    }

    #[test]
    fn an_idp_logout_request_is_read_only_when_signed_by_the_idp_for_us() {
        let idp = TestIdp::new("https://idp.example.test");
        let md = IdpMetadata::parse(&idp.metadata()).expect("test fixture");
        let later =
            (Utc::now() + chrono::Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let url = from_idp(&idp, &idp.entity_id, "ada@example.com", &later);
        let req = read_logout_request(query(&url), &md, SLO, false).expect("test fixture");
        assert_eq!(
            req,
            IdpLogoutRequest {
                id: "_idp1".into(),
                name_id: "ada@example.com".into(),
                session_indexes: vec!["_s1".into()],
                relay_state: Some("rs".into()),
            }
        );
        // Signed by another key with the same entity ID.
        let stranger = TestIdp::new("https://idp.example.test");
        let forged = from_idp(&stranger, &idp.entity_id, "ada@example.com", &later);
        assert_eq!(
            read_logout_request(query(&forged), &md, SLO, false),
            Err(SamlError::Signature)
        );
        // Another issuer, another SLO URL, expired, a comment in the NameID.
        let other = from_idp(&idp, "https://other.test", "ada@example.com", &later);
        assert_eq!(
            read_logout_request(query(&other), &md, SLO, false),
            Err(SamlError::Issuer)
        );
        assert_eq!(
            read_logout_request(query(&url), &md, "https://elsewhere.test/slo", false),
            Err(SamlError::Destination)
        );
        let old = from_idp(
            &idp,
            &idp.entity_id,
            "ada@example.com",
            "2020-01-01T00:00:00Z",
        );
        assert_eq!(
            read_logout_request(query(&old), &md, SLO, false),
            Err(SamlError::Expired)
        );
        let split = from_idp(
            &idp,
            &idp.entity_id,
            "ada@example.com<!---->.evil.test",
            &later,
        );
        assert_eq!(
            read_logout_request(query(&split), &md, SLO, false),
            Err(SamlError::Comment)
        );
        // Without a NotOnOrAfter of its own, a request is fresh for five
        // minutes after its IssueInstant, and never from the future.
        let far =
            (Utc::now() + chrono::Duration::days(30)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let at = |minutes: i64| {
            (Utc::now() + chrono::Duration::minutes(minutes))
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        };
        let stale = issued_at(&idp, &idp.entity_id, "ada@example.com", &far, &at(-30));
        assert_eq!(
            read_logout_request(query(&stale), &md, SLO, false),
            Err(SamlError::Expired)
        );
        let ahead = issued_at(&idp, &idp.entity_id, "ada@example.com", &far, &at(30));
        assert_eq!(
            read_logout_request(query(&ahead), &md, SLO, false),
            Err(SamlError::NotYetValid)
        );
        let fresh = issued_at(&idp, &idp.entity_id, "ada@example.com", &far, &at(-2));
        assert!(read_logout_request(query(&fresh), &md, SLO, false).is_ok());
    }

    #[test]
    fn our_logout_request_and_response_carry_what_the_idp_needs() {
        let idp = TestIdp::new("https://idp.example.test");
        let md = IdpMetadata::parse(&idp.metadata()).expect("test fixture");
        let key = super::super::sp_key::SpKey::generate("sp", 2).expect("test fixture");
        let who = SignedOut {
            name_id: "ada@example.com",
            name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
            session_index: Some("_s1"),
        };
        let (id, url) = logout_request_redirect(&md, SP_ENTITY, &who, None, &key.key_der)
            .expect("test fixture");
        assert!(url.starts_with("https://idp.example.test/slo?SAMLRequest="));
        let sent = read_signed(
            query(&url),
            "SAMLRequest",
            std::slice::from_ref(&key.cert_der),
            false,
        )
        .expect("test fixture");
        let doc = roxmltree::Document::parse(&sent.xml).expect("test fixture");
        assert_eq!(doc.root_element().attribute("ID"), Some(id.as_str()));
        assert!(sent.xml.contains(">ada@example.com</saml:NameID>"));
        assert!(
            sent.xml
                .contains("<samlp:SessionIndex>_s1</samlp:SessionIndex>")
        );

        let answer = logout_response_redirect(&md, SP_ENTITY, "_idp1", Some("rs"), &key.key_der)
            .expect("test fixture");
        let sent = read_signed(
            query(&answer),
            "SAMLResponse",
            std::slice::from_ref(&key.cert_der),
            false,
        )
        .expect("test fixture");
        assert!(sent.xml.contains("InResponseTo=\"_idp1\""));
        assert_eq!(sent.relay_state.as_deref(), Some("rs"));

        let no_slo = IdpMetadata::parse(&idp.metadata().replace(
            "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.example.test/slo\"/>",
            "",
        ))
        .expect("test fixture");
        assert_eq!(
            logout_request_redirect(&no_slo, SP_ENTITY, &who, None, &key.key_der).err(),
            Some(SamlError::NoSloService)
        );
    }
}
