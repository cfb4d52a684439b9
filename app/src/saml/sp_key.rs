//! A connection's own key pair: its certificate goes into the SP metadata,
//! where the IdP takes it to encrypt assertions (and, later, to check
//! signed AuthnRequests). The private key is sealed at rest by the caller.

use super::SamlError;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

pub struct SpKey {
    /// PKCS#1 DER of the RSA private key.
    pub key_der: Vec<u8>,
    pub cert_der: Vec<u8>,
}

fn internal<E>(_: E) -> SamlError {
    SamlError::BadCertificate
}

impl SpKey {
    /// A fresh RSA-2048 key and a self-signed certificate valid for
    /// `days` (IdPs take SP certificates as keys, not as a chain of trust).
    /// CPU-bound for tens of milliseconds: call it off the async threads.
    pub fn generate(common_name: &str, days: u32) -> Result<Self, SamlError> {
        let rsa = Rsa::generate(2048).map_err(internal)?;
        let key_der = rsa.private_key_to_der().map_err(internal)?;
        let pkey = PKey::from_rsa(rsa).map_err(internal)?;
        let mut name = X509NameBuilder::new().map_err(internal)?;
        name.append_entry_by_text("CN", common_name)
            .map_err(internal)?;
        let name = name.build();
        let mut serial = BigNum::new().map_err(internal)?;
        serial
            .rand(128, MsbOption::MAYBE_ZERO, false)
            .map_err(internal)?;
        let mut b = X509::builder().map_err(internal)?;
        b.set_version(2).map_err(internal)?;
        let serial = serial.to_asn1_integer().map_err(internal)?;
        b.set_serial_number(&serial).map_err(internal)?;
        b.set_subject_name(&name).map_err(internal)?;
        b.set_issuer_name(&name).map_err(internal)?;
        b.set_pubkey(&pkey).map_err(internal)?;
        let (from, until) = (
            Asn1Time::days_from_now(0).map_err(internal)?,
            Asn1Time::days_from_now(days).map_err(internal)?,
        );
        b.set_not_before(&from).map_err(internal)?;
        b.set_not_after(&until).map_err(internal)?;
        b.sign(&pkey, MessageDigest::sha256()).map_err(internal)?;
        let cert_der = b.build().to_der().map_err(internal)?;
        Ok(Self { key_der, cert_der })
    }

    pub fn cert_b64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.cert_der)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_matches_its_certificate() {
        let k = SpKey::generate("Latchkey SP org_1", 365).expect("test fixture");
        let cert = X509::from_der(&k.cert_der).expect("test fixture");
        let key = PKey::from_rsa(Rsa::private_key_from_der(&k.key_der).expect("test fixture"))
            .expect("test fixture");
        assert!(cert.public_key().expect("test fixture").public_eq(&key));
        assert_eq!(key.bits(), 2048);
        let other = SpKey::generate("Latchkey SP org_1", 365).expect("test fixture");
        assert_ne!(other.key_der, k.key_der);
    }
}
