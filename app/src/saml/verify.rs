//! A SAMLResponse, posted to the ACS, turned into a verified assertion.
//!
//! Order matters: the raw document is screened first (DTD, comments, SHA-1,
//! status, encryption), then xmlsec verifies the signature with the
//! connection's certificates only and samael reduces the document to the
//! signed subtree, from which alone every value below is read. The checks
//! samael skips (an absent AudienceRestriction, an `InResponseTo` on an
//! unsolicited response) are made here on that verified subtree.

use super::idp_metadata::IdpMetadata;
use super::{PROTOCOL_NS, SamlError, require_success, xml_guard};
use base64::Engine as _;
use samael::crypto::AllowedSignatureAlgorithm as Alg;
use samael::schema::Assertion;
use samael::service_provider::{Error as SpError, ServiceProvider};
use std::collections::BTreeMap;

/// Clock difference tolerated on NotBefore / NotOnOrAfter.
const LEEWAY_SECS: i64 = 60;
/// How old an IssueInstant may be.
const MAX_ISSUE_DELAY_SECS: i64 = 300;

/// What the response must match.
pub struct Expectations<'a> {
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    /// IDs of the AuthnRequests this browser has outstanding.
    pub request_ids: &'a [&'a str],
    pub allow_idp_initiated: bool,
    pub allow_sha1: bool,
    /// The connection's SP private key (PKCS#1 DER), to decrypt
    /// `EncryptedAssertion`s; without it they are refused.
    pub decryption_key: Option<&'a [u8]>,
    /// Accept assertions encrypted with AES-CBC (unauthenticated, so open
    /// to padding-oracle attacks); AES-GCM always.
    pub allow_aes_cbc: bool,
}

/// Signature methods accepted: RSA and ECDSA with SHA-2, and RSA-SHA1 only
/// where the connection allows SHA-1.
const SIGNATURE_METHODS: [&str; 6] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
const DIGEST_METHODS: [&str; 3] = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// Key transport: RSA-OAEP only (RSA PKCS#1 v1.5 is Bleichenbacher's).
const KEY_TRANSPORT: [&str; 2] = [
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
];
const AES_GCM: [&str; 3] = [
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2009/xmlenc11#aes192-gcm",
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
];
const AES_CBC: [&str; 3] = [
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
];
const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// For replay protection: stored until `not_on_or_after`.
    pub assertion_id: String,
    /// Unix seconds; the latest instant the assertion may be used.
    pub not_on_or_after: Option<i64>,
    /// None for an IdP-initiated sign-in.
    pub in_response_to: Option<String>,
    pub session_index: Option<String>,
    /// Attribute name → values (groups are multi-valued).
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// Verifies `saml_response` (the form field, base64) against `idp`.
pub fn verify_response(
    saml_response: &str,
    idp: &IdpMetadata,
    expect: &Expectations<'_>,
) -> Result<VerifiedAssertion, SamlError> {
    // samael skips verification when it has no certificate. IdpMetadata
    // refuses such metadata; this guard keeps it so if that ever changes.
    if idp.certs_der.is_empty() {
        return Err(SamlError::NoCertificate);
    }
    // Bounded before anything is decoded: base64 is 4 characters for 3 bytes.
    if saml_response.len() > xml_guard::MAX_DOCUMENT_BYTES / 3 * 4 + 4096 {
        return Err(SamlError::TooLarge);
    }
    let compact: String = saml_response.split_ascii_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlError::Malformed)?;
    let xml = std::str::from_utf8(&bytes).map_err(|_| SamlError::Malformed)?;
    let Screened {
        unsolicited,
        encrypted,
    } = screen(xml, expect)?;
    super::xmlsec_io::fetch_nothing();
    if unsolicited && !expect.allow_idp_initiated {
        return Err(SamlError::Unsolicited);
    }
    let key = expect
        .decryption_key
        .map(|der| {
            openssl::rsa::Rsa::private_key_from_der(der)
                .and_then(openssl::pkey::PKey::from_rsa)
                .map_err(|_| SamlError::Encrypted)
        })
        .transpose()?;
    let sp = ServiceProvider {
        key,
        entity_id: Some(expect.sp_entity_id.to_owned()),
        acs_url: Some(expect.acs_url.to_owned()),
        idp_metadata: idp.descriptor.clone(),
        allow_idp_initiated: unsolicited,
        max_clock_skew: chrono::Duration::seconds(LEEWAY_SECS),
        max_issue_delay: chrono::Duration::seconds(MAX_ISSUE_DELAY_SECS),
        // samael's list has no SHA-1: with SHA-1 allowed, `screen` alone
        // holds the list (the same one, plus RSA-SHA1).
        allowed_signature_algorithms: (!expect.allow_sha1).then(|| {
            vec![
                Alg::RsaSha256,
                Alg::RsaSha384,
                Alg::RsaSha512,
                Alg::EcdsaSha256,
                Alg::EcdsaSha384,
                Alg::EcdsaSha512,
            ]
        }),
        ..Default::default()
    };
    let assertion = sp
        .parse_xml_response(xml, Some(expect.request_ids))
        .map_err(|e| map_error(e, encrypted))?;
    if let (true, Some(key)) = (encrypted, sp.key.as_ref()) {
        // samael reads the decrypted assertion without screening it; what
        // it read is used only if the plaintext passes the same guard.
        let plain = decrypted_assertion(xml, key)?;
        screen_document(&plain)?;
    }
    read_verified(&assertion, expect, unsolicited)
}

/// The plaintext of the (verified) response's encrypted assertion.
fn decrypted_assertion(
    xml: &str,
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
) -> Result<String, SamlError> {
    use samael::crypto::{Crypto, CryptoProvider};
    let response: samael::schema::Response = xml.parse().map_err(|_| SamlError::Encrypted)?;
    let encrypted = response.encrypted_assertion.ok_or(SamlError::Encrypted)?;
    let (wrapped, method) = encrypted.encrypted_key_info().ok_or(SamlError::Encrypted)?;
    let content_key = Crypto::decrypt_assertion_key_info(wrapped, method, key)
        .map_err(|_| SamlError::Encrypted)?;
    let (value, method) = encrypted
        .encrypted_value_info()
        .ok_or(SamlError::Encrypted)?;
    let plain = Crypto::decrypt_assertion_value_info(value, method, &content_key)
        .map_err(|_| SamlError::Encrypted)?;
    // As samael reads it: the text up to the last complete character.
    let text = match String::from_utf8(plain) {
        Ok(s) => s,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).map_err(|_| SamlError::Encrypted)?
        }
    };
    let start = text.find('<').ok_or(SamlError::Encrypted)?;
    let end = text.rfind('>').ok_or(SamlError::Encrypted)?;
    text.get(start..=end)
        .map(str::to_owned)
        .ok_or(SamlError::Encrypted)
}

/// The checks every document gets before it is read: bounded size and
/// depth, no DTD, no comment beside text, signatures of SAML's one shape.
fn screen_document(xml: &str) -> Result<roxmltree::Document<'_>, SamlError> {
    let doc = xml_guard::parse_bounded(xml)?;
    xml_guard::no_comment_in_text(&doc)?;
    xml_guard::signatures_reference_only_their_element(&doc)?;
    Ok(doc)
}

/// What an unverified response says about how to verify it: which
/// outstanding request (and so which configuration and purpose) it
/// answers, and whether it needs the decryption key. Only hints: the
/// verified response must echo the same request ID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    pub in_response_to: Option<String>,
    pub encrypted: bool,
}

pub fn hints(saml_response: &str) -> Hints {
    let compact: String = saml_response.split_ascii_whitespace().collect();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(compact) else {
        return Hints::default();
    };
    let Ok(xml) = std::str::from_utf8(&bytes) else {
        return Hints::default();
    };
    let Ok(doc) = xml_guard::parse_bounded(xml) else {
        return Hints::default();
    };
    Hints {
        in_response_to: doc
            .root_element()
            .attribute("InResponseTo")
            .map(str::to_owned),
        encrypted: doc
            .descendants()
            .any(|n| n.tag_name().name() == "EncryptedAssertion"),
    }
}

/// What the raw document says, before verification: routing hints only.
struct Screened {
    /// No `InResponseTo` on the Response (confirmed on the verified
    /// assertion later).
    unsolicited: bool,
    encrypted: bool,
}

/// Checks on the raw document.
fn screen(xml: &str, expect: &Expectations<'_>) -> Result<Screened, SamlError> {
    let doc = screen_document(xml)?;
    let root = doc.root_element();
    if root.tag_name().name() != "Response" || root.tag_name().namespace() != Some(PROTOCOL_NS) {
        return Err(SamlError::Malformed);
    }
    // A failure status is usually unsigned; refusing on it cannot help an
    // attacker, and it gives the admin the IdP's reason.
    require_success(root)?;
    // Signature wrapping needs a second assertion beside or around the
    // signed one; samael would read only the signed one, but such a
    // response is never legitimate here, so it is refused outright.
    let assertions = doc
        .descendants()
        .filter(|n| matches!(n.tag_name().name(), "Assertion" | "EncryptedAssertion"))
        .count();
    if assertions > 1 {
        return Err(SamlError::Wrapping);
    }
    let encrypted = doc
        .descendants()
        .any(|n| n.tag_name().name() == "EncryptedAssertion");
    if encrypted && expect.decryption_key.is_none() {
        return Err(SamlError::Encrypted);
    }
    check_algorithms(&doc, expect)?;
    Ok(Screened {
        unsolicited: root.attribute("InResponseTo").is_none(),
        encrypted,
    })
}

/// The algorithm allow-lists, on the raw document: signature and digest
/// methods (SHA-1 added only where allowed), key transport (RSA-OAEP) and
/// content encryption (AES-GCM; AES-CBC only where allowed).
fn check_algorithms(
    doc: &roxmltree::Document<'_>,
    expect: &Expectations<'_>,
) -> Result<(), SamlError> {
    for node in doc.descendants().filter(roxmltree::Node::is_element) {
        let algorithm = node.attribute("Algorithm").unwrap_or_default();
        match (node.tag_name().namespace(), node.tag_name().name()) {
            (Some(xml_guard::DSIG_NS), "SignatureMethod") => {
                let sha1 = algorithm == RSA_SHA1;
                if sha1 && !expect.allow_sha1 {
                    return Err(SamlError::Sha1);
                }
                if !sha1 && !SIGNATURE_METHODS.contains(&algorithm) {
                    return Err(SamlError::Algorithm);
                }
            }
            (Some(xml_guard::DSIG_NS), "DigestMethod") => {
                let sha1 = algorithm == SHA1;
                if sha1 && !expect.allow_sha1 {
                    return Err(SamlError::Sha1);
                }
                if !sha1 && !DIGEST_METHODS.contains(&algorithm) {
                    return Err(SamlError::Algorithm);
                }
            }
            (Some(XENC_NS), "EncryptionMethod") => {
                let in_key = node
                    .parent_element()
                    .is_some_and(|p| p.has_tag_name((XENC_NS, "EncryptedKey")));
                let allowed = if in_key {
                    KEY_TRANSPORT.contains(&algorithm)
                } else {
                    AES_GCM.contains(&algorithm)
                        || (expect.allow_aes_cbc && AES_CBC.contains(&algorithm))
                };
                if !allowed {
                    return Err(SamlError::EncryptionAlgorithm);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn map_error(e: SpError, encrypted: bool) -> SamlError {
    match e {
        // After the signature verified: the key does not open it.
        SpError::CryptoProviderError(_) if encrypted => SamlError::Encrypted,
        SpError::DestinationValidationError { .. } | SpError::AssertionRecipientMismatch { .. } => {
            SamlError::Destination
        }
        SpError::AssertionExpired { .. }
        | SpError::ResponseExpired { .. }
        | SpError::AssertionConditionExpired { .. }
        | SpError::AssertionSubjectConfirmationExpired { .. } => SamlError::Expired,
        SpError::AssertionConditionExpiredBefore { .. }
        | SpError::AssertionSubjectConfirmationExpiredBefore { .. } => SamlError::NotYetValid,
        SpError::AssertionIssuerMismatch { .. } | SpError::ResponseIssuerMismatch { .. } => {
            SamlError::Issuer
        }
        SpError::AssertionConditionAudienceRestrictionFailed { .. } => SamlError::Audience,
        SpError::AssertionInResponseToInvalid { .. }
        | SpError::ResponseInResponseToInvalid { .. } => SamlError::InResponseTo,
        SpError::ResponseBadStatusCode { code } => {
            SamlError::Status(code.rsplit(':').next().unwrap_or("").to_owned())
        }
        SpError::FailedToValidateSignature
        | SpError::CryptoXmlError(_)
        | SpError::CryptoProviderError(_) => SamlError::Signature,
        SpError::EncryptedAssertionsNotYetSupported
        | SpError::MissingPrivateKeySP
        | SpError::FailedToDecryptAssertion
        | SpError::EncryptedAssertionInvalid
        | SpError::MissingEncryptedKeyInfo
        | SpError::MissingEncryptedValueInfo
        | SpError::EncryptedAssertionKeyMethodUnsupported { .. }
        | SpError::EncryptedAssertionValueMethodUnsupported { .. } => SamlError::Encrypted,
        other => {
            tracing::info!(error = %other, "SAML response refused as malformed");
            SamlError::Malformed
        }
    }
}

/// Reads the identity out of the verified assertion, with the checks
/// samael leaves to its caller.
fn read_verified(
    a: &Assertion,
    expect: &Expectations<'_>,
    unsolicited: bool,
) -> Result<VerifiedAssertion, SamlError> {
    let conditions = a.conditions.as_ref().ok_or(SamlError::Audience)?;
    // Every restriction must admit us (they are ANDed: SAML core 2.5.1.4),
    // and there must be one.
    let restrictions: Vec<_> = conditions.audience_restrictions.iter().flatten().collect();
    let ours = !restrictions.is_empty()
        && restrictions
            .iter()
            .all(|r| r.audience.iter().any(|aud| aud == expect.sp_entity_id));
    if !ours {
        return Err(SamlError::Audience);
    }
    // samael bounds how old an assertion may be, not how far ahead.
    if a.issue_instant > chrono::Utc::now() + chrono::Duration::seconds(LEEWAY_SECS) {
        return Err(SamlError::NotYetValid);
    }
    let subject = a.subject.as_ref().ok_or(SamlError::NoNameId)?;
    let name_id = subject
        .name_id
        .as_ref()
        .filter(|n| !n.value.trim().is_empty())
        .ok_or(SamlError::NoNameId)?;
    let confirmations: Vec<_> = subject
        .subject_confirmations
        .iter()
        .flatten()
        .filter_map(|c| c.subject_confirmation_data.as_ref())
        .collect();
    let in_response_to = confirmations.iter().find_map(|d| d.in_response_to.clone());
    // The replay record must outlive every instant the assertion could
    // still be accepted at.
    let not_on_or_after = conditions
        .not_on_or_after
        .into_iter()
        .chain(confirmations.iter().filter_map(|d| d.not_on_or_after))
        .map(|t| t.timestamp())
        .max();
    match (&in_response_to, unsolicited) {
        // The Response said unsolicited but the signed assertion answers a
        // request: it must be one of ours.
        (Some(id), true) if !expect.request_ids.contains(&id.as_str()) => {
            return Err(SamlError::InResponseTo);
        }
        (None, false) => return Err(SamlError::InResponseTo),
        _ => {}
    }
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in a.attribute_statements.iter().flatten() {
        for attr in &statement.attributes {
            let Some(name) = attr.name.clone() else {
                continue;
            };
            let values = attributes.entry(name).or_default();
            values.extend(attr.values.iter().filter_map(|v| v.value.clone()));
        }
    }
    let session_index = a
        .authn_statements
        .iter()
        .flatten()
        .find_map(|s| s.session_index.clone());
    Ok(VerifiedAssertion {
        issuer: a.issuer.value.clone().unwrap_or_default(),
        name_id: name_id.value.trim().to_owned(),
        name_id_format: name_id.format.clone(),
        assertion_id: a.id.clone(),
        not_on_or_after,
        in_response_to,
        session_index,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_idp::{ACS, SP_ENTITY, Shape, TestIdp, b64};
    use super::*;
    use std::sync::OnceLock;

    const IDP: &str = "https://idp.example.test";

    /// Key generation is the slow part; one IdP (and one stranger) for all.
    fn idp() -> &'static TestIdp {
        static IDP_: OnceLock<TestIdp> = OnceLock::new();
        IDP_.get_or_init(|| TestIdp::new(IDP))
    }
    fn stranger() -> &'static TestIdp {
        static S: OnceLock<TestIdp> = OnceLock::new();
        S.get_or_init(|| TestIdp::new(IDP))
    }
    fn metadata() -> IdpMetadata {
        IdpMetadata::parse(&idp().metadata()).expect("test fixture")
    }

    fn expect<'a>(request_ids: &'a [&'a str]) -> Expectations<'a> {
        Expectations {
            sp_entity_id: SP_ENTITY,
            acs_url: ACS,
            request_ids,
            allow_idp_initiated: true,
            allow_sha1: false,
            decryption_key: None,
            allow_aes_cbc: false,
        }
    }

    fn check(response: &str) -> Result<VerifiedAssertion, SamlError> {
        verify_response(response, &metadata(), &expect(&["id_req1"]))
    }

    #[test]
    fn a_signed_answer_to_our_request_yields_the_identity() {
        let v = check(&idp().response(&Shape::default())).expect("test fixture");
        assert_eq!(v.issuer, IDP);
        assert_eq!(v.name_id, "ada@example.com");
        assert_eq!(v.in_response_to.as_deref(), Some("id_req1"));
        assert_eq!(v.assertion_id, "_a1");
        assert_eq!(v.session_index.as_deref(), Some("_sess1"));
        assert_eq!(v.attributes["groups"], vec!["eng", "admins"]);
        assert_eq!(v.attributes["email"], vec!["ada@example.com"]);
        assert!(v.not_on_or_after.is_some());
        // Signed on the assertion only, or on the response only, is enough.
        for (sign_response, sign_assertion) in [(false, true), (true, false)] {
            let shape = Shape {
                sign_response,
                sign_assertion,
                ..Shape::default()
            };
            assert_eq!(
                check(&idp().response(&shape))
                    .expect("test fixture")
                    .name_id,
                "ada@example.com"
            );
        }
    }

    #[test]
    fn idp_initiated_sign_in_is_accepted_only_when_the_connection_allows_it() {
        let shape = Shape {
            in_response_to: None,
            ..Shape::default()
        };
        let response = idp().response(&shape);
        let v = check(&response).expect("test fixture");
        assert_eq!(v.in_response_to, None);
        let closed = Expectations {
            allow_idp_initiated: false,
            ..expect(&["id_req1"])
        };
        assert_eq!(
            verify_response(&response, &metadata(), &closed),
            Err(SamlError::Unsolicited)
        );
    }

    #[test]
    fn unsigned_and_foreign_signatures_are_refused() {
        let unsigned = Shape {
            sign_response: false,
            sign_assertion: false,
            ..Shape::default()
        };
        assert_eq!(check(&idp().response(&unsigned)), Err(SamlError::Signature));
        // Signed by a key the connection does not know, same entity ID.
        assert_eq!(
            check(&stranger().response(&Shape::default())),
            Err(SamlError::Signature)
        );
        // Metadata that lists the stranger's certificate too accepts it.
        let both = IdpMetadata::parse(&idp().metadata_with_certs(&[idp(), stranger()]))
            .expect("test fixture");
        let v = verify_response(
            &stranger().response(&Shape::default()),
            &both,
            &expect(&["id_req1"]),
        );
        assert_eq!(v.expect("test fixture").name_id, "ada@example.com");
    }

    #[test]
    fn a_response_altered_after_signing_is_refused() {
        for (sign_response, sign_assertion) in [(true, true), (false, true), (true, false)] {
            let shape = Shape {
                sign_response,
                sign_assertion,
                ..Shape::default()
            };
            let xml = idp()
                .response_xml(&shape)
                .replace("ada@example.com", "eve@example.com");
            assert_eq!(
                check(&b64(&xml)),
                Err(SamlError::Signature),
                "{sign_response} {sign_assertion}"
            );
        }
    }

    #[test]
    fn signature_wrapping_never_yields_the_unsigned_identity() {
        let only_assertion = Shape {
            sign_response: false,
            ..Shape::default()
        };
        let signed = idp().assertion(&only_assertion, "_a1");
        let evil_shape = Shape {
            name_id: "eve@example.com".into(),
            sign_assertion: false,
            ..Shape::default()
        };
        let evil_other_id = idp().assertion(&evil_shape, "_evil");
        let evil_same_id = idp().assertion(&evil_shape, "_a1");
        let nested_in_evil = evil_same_id.replace(
            "<saml:Subject>",
            &format!("<saml:Advice>{signed}</saml:Advice><saml:Subject>"),
        );
        let shapes = [
            // An unsigned assertion before the signed one.
            format!("{evil_other_id}{signed}"),
            // ... and after it.
            format!("{signed}{evil_other_id}"),
            // The signed assertion hidden inside an unsigned one with its ID.
            nested_in_evil,
            // Two assertions with one ID.
            format!("{evil_same_id}{signed}"),
        ];
        for (i, assertions) in shapes.iter().enumerate() {
            let xml = idp().wrap(&only_assertion, assertions);
            assert_eq!(check(&b64(&xml)), Err(SamlError::Wrapping), "shape {i}");
        }
        // The signed response moved inside an unsigned one that carries the
        // evil assertion (XSW1/2).
        let signed_response =
            super::super::test_idp::strip_declaration(&idp().response_xml(&Shape {
                sign_assertion: false,
                ..Shape::default()
            }));
        let evil_response = idp().wrap(
            &Shape {
                sign_response: false,
                ..Shape::default()
            },
            &format!("{evil_other_id}<samlp:Extensions>{signed_response}</samlp:Extensions>"),
        );
        assert_eq!(check(&b64(&evil_response)), Err(SamlError::Wrapping));
        // Without the count, xmlsec and samael still never read the evil
        // identity: a signed response swapped for an unsigned one around
        // the same signature fails verification.
        let swapped = idp()
            .response_xml(&Shape {
                sign_assertion: false,
                ..Shape::default()
            })
            .replace("ada@example.com", "eve@example.com");
        assert_eq!(check(&b64(&swapped)), Err(SamlError::Signature));
    }

    #[test]
    fn a_comment_inside_the_name_id_is_refused() {
        let shape = Shape {
            name_id: "ada@example.com<!---->.evil.test".into(),
            ..Shape::default()
        };
        assert_eq!(check(&idp().response(&shape)), Err(SamlError::Comment));
    }

    #[test]
    fn a_dtd_is_refused() {
        let xml = idp().response_xml(&Shape::default());
        let body = super::super::test_idp::strip_declaration(&xml);
        let with_dtd = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE samlp:Response [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{body}"
        );
        assert_eq!(check(&b64(&with_dtd)), Err(SamlError::Dtd));
    }

    #[test]
    fn sha1_is_refused_unless_the_connection_allows_it() {
        let shape = Shape {
            sha1: true,
            ..Shape::default()
        };
        let response = idp().response(&shape);
        assert_eq!(check(&response), Err(SamlError::Sha1));
        let allowed = Expectations {
            allow_sha1: true,
            ..expect(&["id_req1"])
        };
        assert_eq!(
            verify_response(&response, &metadata(), &allowed)
                .expect("test fixture")
                .name_id,
            "ada@example.com"
        );
    }

    #[test]
    fn destination_audience_and_issuer_must_be_ours() {
        let cases = [
            (
                Shape {
                    destination: "https://elsewhere.test/acs".into(),
                    ..Shape::default()
                },
                SamlError::Destination,
            ),
            (
                Shape {
                    audience: "https://other-sp.test".into(),
                    ..Shape::default()
                },
                SamlError::Audience,
            ),
            (
                Shape {
                    issuer: Some("https://other-idp.test".into()),
                    ..Shape::default()
                },
                SamlError::Issuer,
            ),
        ];
        for (shape, error) in cases {
            assert_eq!(check(&idp().response(&shape)), Err(error));
        }
    }

    #[test]
    fn expired_and_not_yet_valid_assertions_are_refused_with_a_minute_of_leeway() {
        let expired = Shape {
            not_before: -600,
            not_on_or_after: -61 - 30,
            ..Shape::default()
        };
        assert_eq!(check(&idp().response(&expired)), Err(SamlError::Expired));
        let future = Shape {
            not_before: 120,
            ..Shape::default()
        };
        assert_eq!(check(&idp().response(&future)), Err(SamlError::NotYetValid));
        let within_leeway = Shape {
            not_before: 30,
            ..Shape::default()
        };
        assert!(check(&idp().response(&within_leeway)).is_ok());
    }

    #[test]
    fn an_answer_to_a_request_we_did_not_send_is_refused() {
        let response = idp().response(&Shape::default());
        assert_eq!(
            verify_response(&response, &metadata(), &expect(&["id_other"])),
            Err(SamlError::InResponseTo)
        );
        assert_eq!(
            verify_response(&response, &metadata(), &expect(&[])),
            Err(SamlError::InResponseTo)
        );
    }

    #[test]
    fn a_failure_status_and_an_undecryptable_assertion_are_refused() {
        let denied = Shape {
            status: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(),
            sign_response: false,
            sign_assertion: false,
            ..Shape::default()
        };
        assert_eq!(
            check(&idp().response(&denied)),
            Err(SamlError::Status("Responder".into()))
        );
        let encrypted = idp().wrap(
            &Shape { sign_response: false, ..Shape::default() },
            r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>"#,
        );
        assert_eq!(check(&b64(&encrypted)), Err(SamlError::Encrypted));
        assert_eq!(check("%%% not base64"), Err(SamlError::Malformed));
        assert_eq!(check(&b64("<html/>")), Err(SamlError::Malformed));
    }

    /// A signed response with `from` replaced by `to` in its XML: the
    /// guard runs before the signature check, so what it refuses never
    /// reaches xmlsec.
    fn bent(from: &str, to: &str) -> String {
        let xml = idp().response_xml(&Shape::default());
        assert!(xml.contains(from), "fixture lacks {from}");
        b64(&xml.replacen(from, to, 1))
    }

    #[test]
    fn signatures_that_reference_anything_but_their_element_are_refused() {
        const REF: &str = r##"<ds:Reference URI="#_r1">"##;
        let c14n =
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;
        let transform = r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;
        let shapes = [
            (
                "an external reference",
                REF,
                r#"<ds:Reference URI="http://127.0.0.1:9/x">"#,
            ),
            (
                "a file reference",
                REF,
                r#"<ds:Reference URI="file:///dev/zero">"#,
            ),
            ("the whole document", REF, r#"<ds:Reference URI="">"#),
            ("no URI at all", REF, "<ds:Reference>"),
            ("another element", REF, r##"<ds:Reference URI="#_a1">"##),
            (
                "a second reference",
                REF,
                r##"<ds:Reference URI="http://127.0.0.1:9/x"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference><ds:Reference URI="#_r1">"##,
            ),
            (
                "an XPath transform",
                transform,
                r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>1</ds:XPath></ds:Transform>"#,
            ),
            (
                "a base64 transform",
                transform,
                r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#base64"/>"#,
            ),
            (
                "inclusive canonicalization",
                c14n,
                r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>"#,
            ),
            (
                "a manifest",
                "</ds:SignatureValue>",
                r#"</ds:SignatureValue><ds:Object><ds:Manifest><ds:Reference URI="http://127.0.0.1:9/m"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:Manifest></ds:Object>"#,
            ),
            (
                "a key retrieved from elsewhere",
                "</ds:SignatureValue>",
                r#"</ds:SignatureValue><ds:KeyInfo><ds:RetrievalMethod URI="http://127.0.0.1:9/k"/></ds:KeyInfo>"#,
            ),
        ];
        for (what, from, to) in shapes {
            assert_eq!(
                check(&bent(from, to)),
                Err(SamlError::SignatureShape),
                "{what}"
            );
        }
        // Two elements carrying the signed ID is wrapping, whichever one
        // xmlsec would pick.
        assert_eq!(
            check(&bent(
                "<samlp:Status>",
                r#"<samlp:Extensions ID="_r1"/><samlp:Status>"#
            )),
            Err(SamlError::Wrapping)
        );
        // A key given inline is fine (the connection's certificates are what
        // verifies, and KeyInfo is outside what is signed): only the shapes
        // above are refused.
        let inline = bent(
            "</ds:SignatureValue>",
            "</ds:SignatureValue><ds:KeyInfo><ds:KeyName>idp</ds:KeyName></ds:KeyInfo>",
        );
        assert_eq!(
            check(&inline).map(|v| v.name_id),
            Ok("ada@example.com".to_owned())
        );
    }

    #[test]
    fn documents_too_large_or_too_deep_are_refused_before_parsing_them_further() {
        let padding = "x".repeat(xml_guard::MAX_DOCUMENT_BYTES);
        let large = bent(
            "<samlp:Status>",
            &format!("<samlp:Extensions>{padding}</samlp:Extensions><samlp:Status>"),
        );
        assert_eq!(check(&large), Err(SamlError::TooLarge));
        let nested = format!("{}{}", "<x>".repeat(40), "</x>".repeat(40));
        let deep = bent(
            "<samlp:Status>",
            &format!("<samlp:Extensions>{nested}</samlp:Extensions><samlp:Status>"),
        );
        assert_eq!(check(&deep), Err(SamlError::TooLarge));
        // Ten levels more than a response has is fine.
        let nested = format!("{}{}", "<x>".repeat(10), "</x>".repeat(10));
        let fine = bent(
            "<samlp:Status>",
            &format!("<samlp:Extensions>{nested}</samlp:Extensions><samlp:Status>"),
        );
        assert_eq!(check(&fine), Err(SamlError::Signature));
    }

    #[test]
    fn algorithms_outside_the_list_are_refused_even_where_sha1_is_allowed() {
        let md5 = bent(
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
        );
        assert_eq!(check(&md5), Err(SamlError::Algorithm));
        let sha1_allowed = Expectations {
            allow_sha1: true,
            ..expect(&["id_req1"])
        };
        // Allowing SHA-1 adds RSA-SHA1 to the list; it does not drop the list.
        let dsa = bent(
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
        );
        assert_eq!(
            verify_response(&dsa, &metadata(), &sha1_allowed),
            Err(SamlError::Algorithm)
        );
        let hmac = bent(
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        );
        assert_eq!(
            verify_response(&hmac, &metadata(), &sha1_allowed),
            Err(SamlError::Algorithm)
        );
    }

    #[test]
    fn every_audience_restriction_must_name_us_and_none_may_be_missing() {
        let other = Shape {
            extra_conditions: "<saml:AudienceRestriction><saml:Audience>https://other-sp.test</saml:Audience></saml:AudienceRestriction>".into(),
            ..Shape::default()
        };
        assert_eq!(check(&idp().response(&other)), Err(SamlError::Audience));
        let both = Shape {
            extra_conditions: format!(
                "<saml:AudienceRestriction><saml:Audience>https://other-sp.test</saml:Audience><saml:Audience>{SP_ENTITY}</saml:Audience></saml:AudienceRestriction>"
            ),
            ..Shape::default()
        };
        assert!(check(&idp().response(&both)).is_ok());
    }

    #[test]
    fn an_assertion_issued_in_the_future_is_refused() {
        let ahead = Shape {
            issued: 300,
            ..Shape::default()
        };
        assert_eq!(check(&idp().response(&ahead)), Err(SamlError::NotYetValid));
        let skewed = Shape {
            issued: 20,
            ..Shape::default()
        };
        assert!(check(&idp().response(&skewed)).is_ok());
    }

    #[test]
    fn the_replay_record_lasts_as_long_as_any_expiry_the_assertion_names() {
        let shape = Shape {
            not_on_or_after: 300,
            confirmation_not_on_or_after: Some(3_000),
            ..Shape::default()
        };
        let v = check(&idp().response(&shape)).expect("test fixture");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let until = v.not_on_or_after.expect("an expiry");
        assert!(until > now + 2_900, "{until} vs {now}");
    }

    fn sp_key() -> &'static [u8] {
        static KEY: OnceLock<Vec<u8>> = OnceLock::new();
        KEY.get_or_init(|| {
            openssl::rsa::Rsa::generate(2048)
                .and_then(|k| k.private_key_to_der())
                .expect("test key")
        })
    }

    const GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
    const CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
    const OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
    const RSA15: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

    fn encrypted(assertion: &str, content: &str, transport: &str) -> String {
        let shape = Shape {
            sign_assertion: false,
            ..Shape::default()
        };
        idp().encrypted_response(&shape, assertion, sp_key(), content, transport)
    }

    fn decrypting(allow_aes_cbc: bool) -> Expectations<'static> {
        Expectations {
            decryption_key: Some(sp_key()),
            allow_aes_cbc,
            ..expect(&["id_req1"])
        }
    }

    #[test]
    fn encrypted_assertions_need_oaep_and_gcm_unless_cbc_is_allowed() {
        let plain = idp().assertion(
            &Shape {
                sign_assertion: false,
                ..Shape::default()
            },
            "_a1",
        );
        let gcm = encrypted(&plain, GCM, OAEP);
        let v = verify_response(&gcm, &metadata(), &decrypting(false)).expect("test fixture");
        assert_eq!(v.name_id, "ada@example.com");
        let cbc = encrypted(&plain, CBC, OAEP);
        assert_eq!(
            verify_response(&cbc, &metadata(), &decrypting(false)),
            Err(SamlError::EncryptionAlgorithm)
        );
        assert_eq!(
            verify_response(&cbc, &metadata(), &decrypting(true))
                .expect("test fixture")
                .name_id,
            "ada@example.com"
        );
        let pkcs1 = encrypted(&plain, GCM, RSA15);
        assert_eq!(
            verify_response(&pkcs1, &metadata(), &decrypting(true)),
            Err(SamlError::EncryptionAlgorithm)
        );
    }

    #[test]
    fn the_decrypted_assertion_gets_the_same_guard() {
        let unsigned = |name_id: &str| Shape {
            sign_assertion: false,
            name_id: name_id.into(),
            ..Shape::default()
        };
        let split = idp().assertion(&unsigned("ada@example.com<!---->.evil.test"), "_a1");
        assert_eq!(
            verify_response(
                &encrypted(&split, GCM, OAEP),
                &metadata(),
                &decrypting(false)
            ),
            Err(SamlError::Comment)
        );
        // A signature inside the encrypted assertion that points elsewhere.
        let signed = idp().assertion(&Shape::default(), "_a1");
        let pointing = signed.replacen(r##"URI="#_a1""##, r#"URI="http://127.0.0.1:9/x""#, 1);
        assert_eq!(
            verify_response(
                &encrypted(&pointing, GCM, OAEP),
                &metadata(),
                &decrypting(false)
            ),
            Err(SamlError::SignatureShape)
        );
        let nested = format!("{}{}", "<x>".repeat(40), "</x>".repeat(40));
        let deep = idp()
            .assertion(&unsigned("ada@example.com"), "_a1")
            .replacen(
                "<saml:Subject>",
                &format!("<saml:Advice>{nested}</saml:Advice><saml:Subject>"),
                1,
            );
        assert_eq!(
            verify_response(
                &encrypted(&deep, GCM, OAEP),
                &metadata(),
                &decrypting(false)
            ),
            Err(SamlError::TooLarge)
        );
    }

    /// Counts TCP connections to a local port, to prove nothing was fetched.
    struct Listener {
        port: u16,
        hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    fn listener() -> Listener {
        use std::sync::atomic::Ordering;
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("addr").port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for stream in socket.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Listener { port, hits }
    }

    /// The second layer on its own: even a response that gets past the
    /// guard (here handed to samael directly) cannot make xmlsec open a
    /// URL or a file, because its input callbacks are gone.
    #[test]
    fn xmlsec_itself_fetches_nothing_a_reference_names() {
        use samael::crypto::{Crypto, CryptoProvider, ReduceMode};
        use std::sync::atomic::Ordering;
        super::super::xmlsec_io::fetch_nothing();
        let l = listener();
        let xml = idp().response_xml(&Shape::default());
        let external = xml.replacen(
            r##"URI="#_r1""##,
            &format!(r#"URI="http://127.0.0.1:{}/ref""#, l.port),
            1,
        );
        let file = xml.replacen(r##"URI="#_r1""##, r#"URI="file:///dev/zero""#, 1);
        let manifest = xml.replacen(
            "</ds:SignatureValue>",
            &format!(
                r#"</ds:SignatureValue><ds:Object><ds:Manifest><ds:Reference URI="http://127.0.0.1:{}/m"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:Manifest></ds:Object>"#,
                l.port
            ),
            1,
        );
        let cert = idp().cert().clone();
        for (what, doc) in [("http", external), ("file", file), ("manifest", manifest)] {
            let cert = cert.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(Crypto::reduce_xml_to_signed(
                    &doc,
                    &[cert],
                    ReduceMode::default(),
                ));
            });
            // Reading /dev/zero would never end: a wide margin, then fail.
            let answered = rx.recv_timeout(std::time::Duration::from_secs(30));
            assert!(
                answered.is_ok(),
                "{what}: xmlsec is still reading what the reference names"
            );
            assert_eq!(
                l.hits.load(Ordering::SeqCst),
                0,
                "{what}: xmlsec made a connection"
            );
        }
    }

    #[test]
    fn damaged_responses_never_panic_and_never_change_the_identity() {
        use rand::{Rng, SeedableRng};
        let xml = idp().response_xml(&Shape::default());
        let good = check(&b64(&xml)).expect("test fixture");
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let bytes = xml.as_bytes();
        let (mut refused, mut accepted) = (0, 0);
        for _ in 0..300 {
            let mut damaged = bytes.to_vec();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..damaged.len());
                damaged[at] = match rng.gen_range(0..3) {
                    0 => rng.r#gen::<u8>(),
                    1 => b'<',
                    _ => damaged[at].wrapping_add(1),
                };
            }
            let text = String::from_utf8_lossy(&damaged);
            match std::panic::catch_unwind(|| check(&b64(&text))) {
                Err(_) => panic!("verification panicked on: {text}"),
                Ok(Ok(v)) => {
                    // Only damage the signature does not cover (whitespace
                    // between attributes, say) may pass, and then nothing
                    // read from the assertion differs.
                    assert_eq!(v, good, "a damaged response changed the identity");
                    accepted += 1;
                }
                Ok(Err(_)) => refused += 1,
            }
        }
        assert!(refused > 250, "refused {refused}, accepted {accepted}");
    }
}
