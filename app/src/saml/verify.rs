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
}

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
    let compact: String = saml_response.split_ascii_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlError::Malformed)?;
    let xml = std::str::from_utf8(&bytes).map_err(|_| SamlError::Malformed)?;
    let Screened {
        unsolicited,
        encrypted,
    } = screen(xml, expect)?;
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
    read_verified(&assertion, expect, unsolicited)
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
    let Ok(doc) = xml_guard::parse(xml) else {
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
    let doc = xml_guard::parse(xml)?;
    xml_guard::no_comment_in_text(&doc)?;
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
    if !expect.allow_sha1 {
        let sha1 = doc.descendants().any(|n| {
            (n.tag_name().name() == "SignatureMethod" || n.tag_name().name() == "DigestMethod")
                && n.attribute("Algorithm")
                    .is_some_and(|a| a.ends_with("sha1"))
        });
        if sha1 {
            return Err(SamlError::Sha1);
        }
    }
    Ok(Screened {
        unsolicited: root.attribute("InResponseTo").is_none(),
        encrypted,
    })
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
    let ours = conditions
        .audience_restrictions
        .iter()
        .flatten()
        .any(|r| r.audience.iter().any(|aud| aud == expect.sp_entity_id));
    if !ours {
        return Err(SamlError::Audience);
    }
    let subject = a.subject.as_ref().ok_or(SamlError::NoNameId)?;
    let name_id = subject
        .name_id
        .as_ref()
        .filter(|n| !n.value.trim().is_empty())
        .ok_or(SamlError::NoNameId)?;
    let in_response_to = subject
        .subject_confirmations
        .iter()
        .flatten()
        .filter_map(|c| c.subject_confirmation_data.as_ref())
        .find_map(|d| d.in_response_to.clone());
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
        not_on_or_after: conditions.not_on_or_after.map(|t| t.timestamp()),
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
