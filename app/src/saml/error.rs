//! Why a SAML document was refused. Each refusal has a stable code, shown
//! on the error page and written to the audit log; the message says what
//! an admin should look at without echoing the document.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    #[error("the XML is not well-formed")]
    Malformed,
    #[error("the XML declares a DTD, which is never accepted")]
    Dtd,
    #[error("the metadata has no IdP entity (IDPSSODescriptor with an entityID)")]
    NoIdp,
    #[error("the metadata offers no SingleSignOnService with the HTTP-Redirect binding")]
    NoSsoService,
    #[error("the metadata has no signing certificate, so no response could be verified")]
    NoCertificate,
    #[error("a certificate in the metadata cannot be read")]
    BadCertificate,
    #[error("the response contains a comment inside a signed element")]
    Comment,
    #[error("the document is larger or more deeply nested than any SAML message needs")]
    TooLarge,
    #[error(
        "a signature references something other than the element it signs, or uses a transform, manifest or key retrieval SAML does not need"
    )]
    SignatureShape,
    #[error("the response is signed with an algorithm outside the allowed list")]
    Algorithm,
    #[error(
        "the assertion is encrypted with an algorithm this connection refuses (RSA-OAEP key transport and AES-GCM are accepted; AES-CBC only when allowed)"
    )]
    EncryptionAlgorithm,
    #[error("the response holds more than one assertion; only one, signed, is accepted")]
    Wrapping,
    #[error("the response's signature does not verify with this connection's certificates")]
    Signature,
    #[error("the response is signed with SHA-1, which this connection does not allow")]
    Sha1,
    #[error("the response is addressed to another service provider")]
    Destination,
    #[error("the assertion is for another audience")]
    Audience,
    #[error("the response comes from another issuer")]
    Issuer,
    #[error("the assertion has expired")]
    Expired,
    #[error("the assertion is not valid yet")]
    NotYetValid,
    #[error("the response answers a sign-in Latchkey did not start, or one already finished")]
    InResponseTo,
    #[error("the response was not asked for, and this connection refuses IdP-initiated sign-in")]
    Unsolicited,
    #[error("the identity provider reported a failure ({0})")]
    Status(String),
    #[error("the assertion is encrypted and this connection cannot decrypt it")]
    Encrypted,
    #[error("the assertion has no NameID")]
    NoNameId,
    #[error(
        "the identity provider wants signed AuthnRequests, and this connection has no SP signing key yet"
    )]
    RequestSigning,
    #[error(
        "the identity provider publishes no SingleLogoutService with the HTTP-Redirect binding"
    )]
    NoSloService,
}

impl SamlError {
    /// The stable code for pages, the audit log and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "saml_malformed",
            Self::Dtd => "saml_dtd",
            Self::NoIdp => "saml_no_idp",
            Self::NoSsoService => "saml_no_sso_service",
            Self::NoCertificate => "saml_no_certificate",
            Self::BadCertificate => "saml_bad_certificate",
            Self::Comment => "saml_comment",
            Self::TooLarge => "saml_too_large",
            Self::SignatureShape => "saml_signature_shape",
            Self::Algorithm => "saml_algorithm",
            Self::EncryptionAlgorithm => "saml_encryption_algorithm",
            Self::Wrapping => "saml_wrapping",
            Self::Signature => "saml_signature",
            Self::Sha1 => "saml_sha1",
            Self::Destination => "saml_destination",
            Self::Audience => "saml_audience",
            Self::Issuer => "saml_issuer",
            Self::Expired => "saml_expired",
            Self::NotYetValid => "saml_not_yet_valid",
            Self::InResponseTo => "saml_in_response_to",
            Self::Unsolicited => "saml_unsolicited",
            Self::Status(_) => "saml_status",
            Self::Encrypted => "saml_encrypted",
            Self::NoNameId => "saml_no_name_id",
            Self::RequestSigning => "saml_request_signing",
            Self::NoSloService => "saml_no_slo_service",
        }
    }
}
