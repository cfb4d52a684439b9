//! An identity provider's SAML metadata, read into what a connection needs:
//! its entity ID, where to send AuthnRequests and LogoutRequests, and the
//! certificates its responses must be signed with (several, for rotation).

use super::{SamlError, xml_guard};
use samael::crypto::CertificateDer;
use samael::metadata::EntityDescriptor;
use samael::service_provider::ServiceProvider;
use sha2::{Digest, Sha256};

pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// One IdP signing certificate, as the console and the REST API show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpCertificate {
    pub subject: String,
    /// Unix seconds.
    pub not_after: i64,
    /// Upper-case hex pairs separated by colons, as IdP consoles show it.
    pub sha256_fingerprint: String,
}

#[derive(Debug, Clone)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_url: String,
    pub slo_url: Option<String>,
    pub want_authn_requests_signed: bool,
    pub certificates: Vec<IdpCertificate>,
    /// The same certificates, DER, for signatures outside samael (the
    /// Redirect binding's query signatures).
    pub(super) certs_der: Vec<Vec<u8>>,
    /// The parsed document, which samael verifies responses against.
    pub(super) descriptor: EntityDescriptor,
}

impl IdpMetadata {
    /// Reads `xml` (an EntityDescriptor). Refuses a DTD, a document with no
    /// IdP role, no HTTP-Redirect sign-on endpoint, or no signing
    /// certificate: without one, samael would accept unsigned responses.
    pub fn parse(xml: &str) -> Result<Self, SamlError> {
        xml_guard::parse(xml)?;
        let descriptor: EntityDescriptor = xml.parse().map_err(|_| SamlError::Malformed)?;
        let entity_id = descriptor
            .entity_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .ok_or(SamlError::NoIdp)?;
        let idp = descriptor
            .idp_sso_descriptors
            .as_ref()
            .and_then(|d| d.first())
            .ok_or(SamlError::NoIdp)?;
        let sso_url = idp
            .single_sign_on_services
            .iter()
            .find(|s| s.binding == HTTP_REDIRECT)
            .map(|s| s.location.clone())
            .ok_or(SamlError::NoSsoService)?;
        let slo_url = idp
            .single_logout_services
            .iter()
            .find(|s| s.binding == HTTP_REDIRECT)
            .map(|s| s.location.clone());
        let want_authn_requests_signed = idp.want_authn_requests_signed.unwrap_or(false);
        let ders = signing_certificates(&descriptor)?;
        let certificates = ders
            .iter()
            .map(|der| describe(der.der_data()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            entity_id,
            sso_url,
            slo_url,
            want_authn_requests_signed,
            certificates,
            certs_der: ders.iter().map(|d| d.der_data().to_vec()).collect(),
            descriptor,
        })
    }
}

/// [`IdpMetadata::parse`], remembered by document (its SHA-256): the start
/// and the ACS of every sign-in read the same stored metadata, and parsing
/// it (XML, then every certificate) costs more than the lookup.
pub fn parse_cached(xml: &str) -> Result<std::sync::Arc<IdpMetadata>, SamlError> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    type Cache = Mutex<HashMap<[u8; 32], Arc<IdpMetadata>>>;
    /// Enough for every connection of a large deployment; past it, start over.
    const MAX_ENTRIES: usize = 1024;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    let key: [u8; 32] = Sha256::digest(xml.as_bytes()).into();
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(hit);
    }
    let parsed = Arc::new(IdpMetadata::parse(xml)?);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= MAX_ENTRIES {
            c.clear();
        }
        c.insert(key, parsed.clone());
    }
    Ok(parsed)
}

/// Why metadata could not be had from a URL: the fetch (SSRF guard,
/// timeout, status, size) or the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchMetadataError {
    #[error(transparent)]
    Fetch(#[from] crate::sso::net::FetchError),
    #[error("The metadata at that URL was refused: {0}.")]
    Metadata(#[from] SamlError),
}

/// Fetches `url` through the SSRF guard (no redirects, 1 MiB, 10 s) and
/// reads it; returns the document too, to store beside the connection.
pub async fn fetch(
    guard: crate::sso::net::Guard,
    url: &str,
) -> Result<(String, IdpMetadata), FetchMetadataError> {
    let body = crate::sso::net::get(guard, url).await?;
    let xml = String::from_utf8(body).map_err(|_| SamlError::Malformed)?;
    let metadata = IdpMetadata::parse(&xml)?;
    Ok((xml, metadata))
}

/// The certificates samael will verify with: the same list the admin sees.
fn signing_certificates(descriptor: &EntityDescriptor) -> Result<Vec<CertificateDer>, SamlError> {
    let sp = ServiceProvider {
        idp_metadata: descriptor.clone(),
        ..Default::default()
    };
    match sp.idp_signing_certs() {
        Ok(Some(certs)) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err(SamlError::NoCertificate),
        Err(_) => Err(SamlError::BadCertificate),
    }
}

pub(crate) fn describe(der: &[u8]) -> Result<IdpCertificate, SamlError> {
    let cert = openssl::x509::X509::from_der(der).map_err(|_| SamlError::BadCertificate)?;
    let subject = cert
        .subject_name()
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e
                .data()
                .to_string()
                .map_err(|_| SamlError::BadCertificate)?;
            Ok(format!("{key}={value}"))
        })
        .collect::<Result<Vec<_>, _>>()?
        .join(", ");
    let epoch = openssl::asn1::Asn1Time::from_unix(0).map_err(|_| SamlError::BadCertificate)?;
    let diff = epoch
        .diff(cert.not_after())
        .map_err(|_| SamlError::BadCertificate)?;
    let not_after = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    let sha256_fingerprint = Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(IdpCertificate {
        subject,
        not_after,
        sha256_fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_idp::TestIdp;
    use super::*;

    #[test]
    fn metadata_yields_endpoints_and_every_signing_certificate() {
        let (a, b) = (TestIdp::new("https://idp.example.test"), TestIdp::new("x"));
        let xml = a.metadata_with_certs(&[&a, &b]);
        let md = IdpMetadata::parse(&xml).expect("test fixture");
        assert_eq!(md.entity_id, "https://idp.example.test");
        assert_eq!(md.sso_url, "https://idp.example.test/sso");
        assert_eq!(md.slo_url.as_deref(), Some("https://idp.example.test/slo"));
        assert_eq!(md.certificates.len(), 2);
        let c = &md.certificates[0];
        assert_eq!(c.subject, "CN=Test IdP https://idp.example.test");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!(c.not_after > now + 300 * 86_400 && c.not_after < now + 400 * 86_400);
        assert_eq!(c.sha256_fingerprint.len(), 32 * 3 - 1);
        assert_ne!(c.sha256_fingerprint, md.certificates[1].sha256_fingerprint);
    }

    #[tokio::test]
    async fn metadata_urls_go_through_the_ssrf_guard() {
        let strict = crate::sso::net::Guard {
            allow_private: false,
        };
        for url in [
            "https://127.0.0.1/metadata",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/metadata",
            "http://idp.example.com/metadata",
            "not a url",
        ] {
            let refused = fetch(strict, url).await;
            assert!(
                matches!(refused, Err(FetchMetadataError::Fetch(_))),
                "{url}: {refused:?}"
            );
        }
    }

    #[test]
    fn metadata_without_a_certificate_or_sign_on_endpoint_is_refused() {
        let idp = TestIdp::new("https://idp.example.test");
        assert_eq!(
            IdpMetadata::parse(&idp.metadata_with_certs(&[])).err(),
            Some(SamlError::NoCertificate)
        );
        let post_only = idp.metadata().replace(HTTP_REDIRECT, HTTP_POST);
        assert_eq!(
            IdpMetadata::parse(&post_only).err(),
            Some(SamlError::NoSsoService)
        );
        let garbled = idp
            .metadata()
            .replace("<ds:X509Certificate>", "<ds:X509Certificate>AAAA");
        assert_eq!(
            IdpMetadata::parse(&garbled).err(),
            Some(SamlError::BadCertificate)
        );
        assert_eq!(
            IdpMetadata::parse("not xml").err(),
            Some(SamlError::Malformed)
        );
        let sp_only = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>"#;
        assert_eq!(IdpMetadata::parse(sp_only).err(), Some(SamlError::NoIdp));
        let with_dtd = format!("<!DOCTYPE md [<!ENTITY e \"x\">]>{}", idp.metadata());
        assert_eq!(IdpMetadata::parse(&with_dtd).err(), Some(SamlError::Dtd));
    }
}
