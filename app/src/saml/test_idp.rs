//! An identity provider for unit tests: a fresh RSA key and certificate,
//! metadata, and responses signed by xmlsec (through samael's signer) from
//! templates the tests can bend into every shape a refusal needs. The real,
//! independent IdP (SimpleSAMLphp) is exercised by the integration tests.

use base64::Engine as _;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};

pub const SP_ENTITY: &str = "https://latchkey.example.test/saml/org_1/metadata";
pub const ACS: &str = "https://latchkey.example.test/saml/org_1/acs";

pub struct TestIdp {
    pub entity_id: String,
    key_der: Vec<u8>,
    cert: CertificateDer,
}

/// What one response says and how it is signed.
pub struct Shape {
    pub in_response_to: Option<String>,
    pub destination: String,
    pub audience: String,
    pub issuer: Option<String>,
    pub name_id: String,
    /// Seconds from now.
    pub not_before: i64,
    pub not_on_or_after: i64,
    pub status: String,
    pub sign_response: bool,
    pub sign_assertion: bool,
    pub sha1: bool,
    pub groups: Vec<String>,
    /// The assertion's IssueInstant, seconds from now.
    pub issued: i64,
    /// More XML inside `Conditions` (another AudienceRestriction, say).
    pub extra_conditions: String,
    /// The SubjectConfirmationData's NotOnOrAfter (seconds from now), when
    /// it differs from the Conditions'.
    pub confirmation_not_on_or_after: Option<i64>,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            in_response_to: Some("id_req1".into()),
            destination: ACS.into(),
            audience: SP_ENTITY.into(),
            issuer: None,
            name_id: "ada@example.com".into(),
            not_before: -30,
            not_on_or_after: 300,
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            sign_response: true,
            sign_assertion: true,
            sha1: false,
            groups: vec!["eng".into(), "admins".into()],
            issued: 0,
            extra_conditions: String::new(),
            confirmation_not_on_or_after: None,
        }
    }
}

fn instant(offset_secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs);
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format time")
}

fn signature_template(reference: &str, sha1: bool) -> String {
    let (sig, digest) = if sha1 {
        (
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            "http://www.w3.org/2000/09/xmldsig#sha1",
        )
    } else {
        (
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2001/04/xmlenc#sha256",
        )
    };
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sig}"/><ds:Reference URI="#{reference}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"##
    )
}

impl TestIdp {
    pub fn new(entity_id: &str) -> Self {
        let idp = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048)).expect("key");
        let cert = idp
            .create_certificate(&CertificateParams {
                common_name: &format!("Test IdP {entity_id}"),
                issuer_name: "Test IdP",
                days_until_expiration: 365,
            })
            .expect("certificate");
        Self {
            entity_id: entity_id.to_owned(),
            key_der: idp.export_private_key_der().expect("key der"),
            cert,
        }
    }

    /// The private key (PKCS#1 DER), to sign Redirect-binding messages.
    pub fn key_der(&self) -> &[u8] {
        &self.key_der
    }

    /// The signing certificate (DER).
    pub fn cert(&self) -> &CertificateDer {
        &self.cert
    }

    fn cert_b64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.cert.der_data())
    }

    pub fn metadata(&self) -> String {
        self.metadata_with_certs(&[self])
    }

    /// Metadata naming this IdP's endpoints and the certificates of `signers`.
    pub fn metadata_with_certs(&self, signers: &[&TestIdp]) -> String {
        let keys: String = signers
            .iter()
            .map(|s| {
                format!(
                    r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                    s.cert_b64()
                )
            })
            .collect();
        let e = &self.entity_id;
        format!(
            r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{e}">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}
<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{e}/slo"/>
<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{e}/sso"/>
</md:IDPSSODescriptor>
</md:EntityDescriptor>"#
        )
    }

    /// The shape's issuer (this IdP unless bent) and `InResponseTo`
    /// attribute text.
    fn issuer_and_irt(&self, shape: &Shape) -> (String, String) {
        let issuer = shape
            .issuer
            .clone()
            .unwrap_or_else(|| self.entity_id.clone());
        let irt = shape
            .in_response_to
            .as_ref()
            .map(|i| format!(r#" InResponseTo="{i}""#))
            .unwrap_or_default();
        (issuer, irt)
    }

    fn sign(&self, xml: &str) -> String {
        Crypto::sign_xml(xml, &self.key_der).expect("sign")
    }

    /// The assertion alone, signed when the shape says so.
    pub fn assertion(&self, shape: &Shape, id: &str) -> String {
        let (issuer, irt) = self.issuer_and_irt(shape);
        let groups: String = shape
            .groups
            .iter()
            .map(|g| {
                format!(r#"<saml:AttributeValue xsi:type="xs:string">{g}</saml:AttributeValue>"#)
            })
            .collect();
        let sig = if shape.sign_assertion {
            signature_template(id, shape.sha1)
        } else {
            String::new()
        };
        let xml = format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer>{sig}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{cnoa}" Recipient="{dest}"{irt}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}"><saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction>{extra}</saml:Conditions><saml:AuthnStatement AuthnInstant="{now}" SessionIndex="_sess1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="email" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"><saml:AttributeValue xsi:type="xs:string">{name_id}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="groups" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">{groups}</saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
            now = instant(shape.issued),
            name_id = shape.name_id,
            noa = instant(shape.not_on_or_after),
            cnoa = instant(
                shape
                    .confirmation_not_on_or_after
                    .unwrap_or(shape.not_on_or_after)
            ),
            extra = shape.extra_conditions,
            nb = instant(shape.not_before),
            dest = shape.destination,
            aud = shape.audience,
        );
        let signed = if shape.sign_assertion {
            self.sign(&xml)
        } else {
            xml
        };
        // Drop the XML declaration xmlsec writes, to embed the element.
        strip_declaration(&signed)
    }

    /// A whole Response, as the XML text the IdP would post.
    pub fn response_xml(&self, shape: &Shape) -> String {
        let assertion = self.assertion(shape, "_a1");
        self.wrap(shape, &assertion)
    }

    /// A Response around `assertion` (any XML), signed when the shape says so.
    pub fn wrap(&self, shape: &Shape, assertion: &str) -> String {
        let (issuer, irt) = self.issuer_and_irt(shape);
        let sig = if shape.sign_response {
            signature_template("_r1", shape.sha1)
        } else {
            String::new()
        };
        let xml = format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="{now}" Destination="{dest}"{irt}><saml:Issuer>{issuer}</saml:Issuer>{sig}<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>{assertion}</samlp:Response>"#,
            now = instant(0),
            dest = shape.destination,
            status = shape.status,
        );
        if shape.sign_response {
            self.sign(&xml)
        } else {
            xml
        }
    }

    pub fn response(&self, shape: &Shape) -> String {
        b64(&self.response_xml(shape))
    }

    /// A signed Response whose assertion (`assertion_xml`, unsigned or
    /// signed) is encrypted to the SP key `sp_key_der` (PKCS#1 DER) with
    /// `content` (an xmlenc algorithm URI: AES-128-GCM or -CBC) and the
    /// content key wrapped with `transport` (RSA-OAEP or RSA 1.5).
    pub fn encrypted_response(
        &self,
        shape: &Shape,
        assertion_xml: &str,
        sp_key_der: &[u8],
        content: &str,
        transport: &str,
    ) -> String {
        use openssl::rsa::{Padding, Rsa};
        use openssl::symm::{Cipher, encrypt, encrypt_aead};
        let key: [u8; 16] = rand::random();
        let gcm = content.ends_with("gcm");
        let value = if gcm {
            let iv: [u8; 12] = rand::random();
            let mut tag = [0u8; 16];
            let sealed = encrypt_aead(
                Cipher::aes_128_gcm(),
                &key,
                Some(&iv),
                &[],
                assertion_xml.as_bytes(),
                &mut tag,
            )
            .expect("aes-gcm");
            [iv.as_slice(), &sealed, &tag].concat()
        } else {
            let iv: [u8; 16] = rand::random();
            let sealed = encrypt(
                Cipher::aes_128_cbc(),
                &key,
                Some(&iv),
                assertion_xml.as_bytes(),
            )
            .expect("aes-cbc");
            [iv.as_slice(), &sealed].concat()
        };
        let rsa = Rsa::private_key_from_der(sp_key_der).expect("sp key");
        let mut wrapped = vec![0u8; rsa.size() as usize];
        let padding = if transport.ends_with("rsa-1_5") {
            Padding::PKCS1
        } else {
            Padding::PKCS1_OAEP
        };
        let n = rsa
            .public_encrypt(&key, &mut wrapped, padding)
            .expect("wrap key");
        wrapped.truncate(n);
        let std = &base64::engine::general_purpose::STANDARD;
        let encrypted = format!(
            r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{content}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{transport}"/><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
            std.encode(&wrapped),
            std.encode(&value),
        );
        b64(&self.wrap(shape, &encrypted))
    }
}

pub fn b64(xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(xml)
}

pub fn strip_declaration(xml: &str) -> String {
    let xml = xml.trim();
    match xml.strip_prefix("<?xml") {
        Some(rest) => rest[rest.find("?>").map_or(0, |i| i + 2)..]
            .trim()
            .to_owned(),
        None => xml.to_owned(),
    }
}
