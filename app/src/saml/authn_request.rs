//! The AuthnRequest of an SP-initiated sign-in, sent with the HTTP-Redirect
//! binding. Its ID is what the response's `InResponseTo` must echo.

use super::SamlError;
use super::idp_metadata::IdpMetadata;
use samael::service_provider::ServiceProvider;

pub struct AuthnRedirect {
    /// Kept with the browser's sign-in state until the response comes.
    pub request_id: String,
    /// Where to send the browser.
    pub url: String,
}

/// The redirect to `idp`'s sign-on endpoint for an AuthnRequest from
/// `sp_entity_id`, answered at `acs_url` (HTTP-POST), carrying
/// `relay_state` back. With `sp_key` (PKCS#1 DER) the request is signed
/// over the query string, as the Redirect binding signs; without one, an
/// IdP that wants signed requests is refused here rather than there.
pub fn authn_request_redirect(
    idp: &IdpMetadata,
    sp_entity_id: &str,
    acs_url: &str,
    relay_state: &str,
    sp_key: Option<&[u8]>,
) -> Result<AuthnRedirect, SamlError> {
    if idp.want_authn_requests_signed && sp_key.is_none() {
        return Err(SamlError::RequestSigning);
    }
    let sp = ServiceProvider {
        entity_id: Some(sp_entity_id.to_owned()),
        acs_url: Some(acs_url.to_owned()),
        authn_name_id_format: Some(
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".to_owned(),
        ),
        ..Default::default()
    };
    let mut request = sp
        .make_authentication_request(&idp.sso_url)
        .map_err(|_| SamlError::Malformed)?;
    request.id = super::new_message_id();
    request.force_authn = None;
    let url = match sp_key {
        Some(key) => {
            use samael::traits::ToXml;
            let xml = request.to_string().map_err(|_| SamlError::Malformed)?;
            let relay = Some(relay_state).filter(|r| !r.is_empty());
            super::redirect::signed_url(&idp.sso_url, "SAMLRequest", &xml, relay, key)?
        }
        None => request
            .redirect(relay_state)
            .ok()
            .flatten()
            .ok_or(SamlError::NoSsoService)?
            .to_string(),
    };
    Ok(AuthnRedirect {
        request_id: request.id,
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_idp::{ACS, SP_ENTITY, TestIdp};
    use super::*;

    #[test]
    fn the_redirect_carries_a_fresh_long_request_id_and_the_relay_state() {
        let idp = IdpMetadata::parse(&TestIdp::new("https://idp.example.test").metadata())
            .expect("test fixture");
        let a =
            authn_request_redirect(&idp, SP_ENTITY, ACS, "/o/acme", None).expect("test fixture");
        let b = authn_request_redirect(&idp, SP_ENTITY, ACS, "", None).expect("test fixture");
        assert_ne!(a.request_id, b.request_id);
        assert_eq!(a.request_id.len(), 43);
        let url = url::Url::parse(&a.url).expect("test fixture");
        assert_eq!(
            url.as_str().split('?').next(),
            Some("https://idp.example.test/sso")
        );
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query.get("RelayState").map(String::as_str), Some("/o/acme"));
        assert!(query.get("SAMLRequest").is_some_and(|r| r.len() > 100));
        assert!(!b.url.contains("RelayState"));
    }

    #[test]
    fn with_a_key_the_request_is_signed_over_the_query_string() {
        let idp = IdpMetadata::parse(&TestIdp::new("https://idp.example.test").metadata())
            .expect("test fixture");
        let key = super::super::sp_key::SpKey::generate("sp", 2).expect("test fixture");
        let a = authn_request_redirect(&idp, SP_ENTITY, ACS, "/o/acme", Some(&key.key_der))
            .expect("test fixture");
        let query = a.url.split_once('?').map(|(_, q)| q).unwrap_or("");
        let sent = super::super::redirect::read_signed(
            query,
            "SAMLRequest",
            std::slice::from_ref(&key.cert_der),
            false,
        )
        .expect("test fixture");
        assert!(sent.xml.contains(&format!("ID=\"{}\"", a.request_id)));
        assert!(sent.xml.contains(ACS));
        assert_eq!(sent.relay_state.as_deref(), Some("/o/acme"));
    }

    #[test]
    fn an_idp_that_wants_signed_requests_is_refused_until_there_is_an_sp_key() {
        let xml = TestIdp::new("https://idp.example.test").metadata().replace(
            "<md:IDPSSODescriptor ",
            "<md:IDPSSODescriptor WantAuthnRequestsSigned=\"true\" ",
        );
        let idp = IdpMetadata::parse(&xml).expect("test fixture");
        assert!(idp.want_authn_requests_signed);
        assert_eq!(
            authn_request_redirect(&idp, SP_ENTITY, ACS, "", None).err(),
            Some(SamlError::RequestSigning)
        );
    }
}
