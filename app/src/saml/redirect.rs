//! The HTTP-Redirect binding: a message deflated, base64'd and put in the
//! query string, signed over the query string itself (`SigAlg`,
//! `Signature`), as LogoutRequests and LogoutResponses travel.

use super::SamlError;
use base64::Engine as _;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use std::io::{Read, Write};

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
/// A deflated message larger than this once inflated is refused (a
/// deflate bomb costs us nothing).
const MAX_INFLATED: u64 = 256 * 1024;

fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

fn decode(v: &str) -> String {
    url::form_urlencoded::parse(format!("x={v}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn deflate_b64(xml: &str) -> Result<String, SamlError> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(xml.as_bytes())
        .map_err(|_| SamlError::Malformed)?;
    let bytes = enc.finish().map_err(|_| SamlError::Malformed)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn inflate_b64(v: &str) -> Result<String, SamlError> {
    let compact: String = v.split_ascii_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlError::Malformed)?;
    let mut out = String::new();
    DeflateDecoder::new(bytes.as_slice())
        .take(MAX_INFLATED + 1)
        .read_to_string(&mut out)
        .map_err(|_| SamlError::Malformed)?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(SamlError::Malformed);
    }
    Ok(out)
}

/// `destination?param=…&RelayState=…&SigAlg=…&Signature=…`, signed with
/// the SP key (PKCS#1 DER) using RSA-SHA256.
pub(super) fn signed_url(
    destination: &str,
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
    key_der: &[u8],
) -> Result<String, SamlError> {
    let mut query = format!("{param}={}", encode(&deflate_b64(xml)?));
    if let Some(rs) = relay_state.filter(|r| !r.is_empty()) {
        query.push_str(&format!("&RelayState={}", encode(rs)));
    }
    query.push_str(&format!("&SigAlg={}", encode(RSA_SHA256)));
    let key = Rsa::private_key_from_der(key_der)
        .and_then(PKey::from_rsa)
        .map_err(|_| SamlError::RequestSigning)?;
    let signature = Signer::new(MessageDigest::sha256(), &key)
        .and_then(|mut s| {
            s.update(query.as_bytes())?;
            s.sign_to_vec()
        })
        .map_err(|_| SamlError::RequestSigning)?;
    let signature = base64::engine::general_purpose::STANDARD.encode(signature);
    let sep = if destination.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{destination}{sep}{query}&Signature={}",
        encode(&signature)
    ))
}

/// A message received with the Redirect binding, once its signature checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub xml: String,
    pub relay_state: Option<String>,
}

/// Reads `param` from `raw_query` (exactly as received: the signature
/// covers the encoded bytes) and checks its signature against one of
/// `certs` (DER). Unsigned messages are refused.
pub(super) fn read_signed(
    raw_query: &str,
    param: &str,
    certs: &[Vec<u8>],
    allow_sha1: bool,
) -> Result<Received, SamlError> {
    let raw = |name: &str| {
        raw_query.split('&').find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    };
    let message = raw(param).ok_or(SamlError::Malformed)?;
    let relay = raw("RelayState");
    let (Some(sig_alg), Some(signature)) = (raw("SigAlg"), raw("Signature")) else {
        return Err(SamlError::Signature);
    };
    let digest = match decode(sig_alg).as_str() {
        RSA_SHA256 => MessageDigest::sha256(),
        RSA_SHA1 if allow_sha1 => MessageDigest::sha1(),
        RSA_SHA1 => return Err(SamlError::Sha1),
        _ => return Err(SamlError::Signature),
    };
    let mut signed = format!("{param}={message}");
    if let Some(r) = relay {
        signed.push_str(&format!("&RelayState={r}"));
    }
    signed.push_str(&format!("&SigAlg={sig_alg}"));
    let signature = base64::engine::general_purpose::STANDARD
        .decode(decode(signature))
        .map_err(|_| SamlError::Signature)?;
    let verifies = |der: &Vec<u8>| {
        openssl::x509::X509::from_der(der)
            .and_then(|c| c.public_key())
            .and_then(|key| {
                let mut v = Verifier::new(digest, &key)?;
                v.update(signed.as_bytes())?;
                v.verify(&signature)
            })
            .unwrap_or(false)
    };
    if !certs.iter().any(verifies) {
        return Err(SamlError::Signature);
    }
    Ok(Received {
        xml: inflate_b64(&decode(message))?,
        relay_state: relay.map(decode),
    })
}

#[cfg(test)]
mod tests {
    use super::super::sp_key::SpKey;
    use super::*;

    fn query_of(url: &str) -> &str {
        url.split_once('?').map(|(_, q)| q).unwrap_or("")
    }

    #[test]
    fn a_signed_message_round_trips_and_any_change_breaks_its_signature() {
        let key = SpKey::generate("signer", 2).expect("test fixture");
        let other = SpKey::generate("other", 2).expect("test fixture");
        let xml =
            "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_x\"/>";
        let url = signed_url(
            "https://idp.test/slo?x=1",
            "SAMLRequest",
            xml,
            Some("/back here"),
            &key.key_der,
        )
        .expect("test fixture");
        assert!(url.starts_with("https://idp.test/slo?x=1&SAMLRequest="));
        let q = query_of(&url);
        let got = read_signed(q, "SAMLRequest", std::slice::from_ref(&key.cert_der), false)
            .expect("test fixture");
        assert_eq!(got.xml, xml);
        assert_eq!(got.relay_state.as_deref(), Some("/back here"));
        // Another key, a changed RelayState, a missing signature, SHA-1.
        assert_eq!(
            read_signed(
                q,
                "SAMLRequest",
                std::slice::from_ref(&other.cert_der),
                false
            ),
            Err(SamlError::Signature)
        );
        let changed = q.replace("RelayState=%2Fback", "RelayState=%2Fevil");
        assert_eq!(
            read_signed(
                &changed,
                "SAMLRequest",
                std::slice::from_ref(&key.cert_der),
                false
            ),
            Err(SamlError::Signature)
        );
        let unsigned = q.split("&SigAlg").next().unwrap_or_default();
        assert_eq!(
            read_signed(
                unsigned,
                "SAMLRequest",
                std::slice::from_ref(&key.cert_der),
                false
            ),
            Err(SamlError::Signature)
        );
        let sha1 = q.replace(&encode(RSA_SHA256), &encode(RSA_SHA1));
        assert_eq!(
            read_signed(
                &sha1,
                "SAMLRequest",
                std::slice::from_ref(&key.cert_der),
                false
            ),
            Err(SamlError::Sha1)
        );
    }

    #[test]
    fn a_deflate_bomb_is_refused() {
        let big = "a".repeat(2 * MAX_INFLATED as usize);
        let bomb = deflate_b64(&big).expect("test fixture");
        assert!(bomb.len() < 4096);
        assert_eq!(inflate_b64(&bomb), Err(SamlError::Malformed));
    }
}
