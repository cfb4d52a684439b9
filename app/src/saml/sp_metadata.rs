//! Latchkey's SP metadata for one connection: what an IdP admin imports (or
//! what the IdP fetches from `GET /saml/{org_id}/metadata`).

use super::xml_guard::escape;

/// The values the metadata states.
pub struct SpDescription<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    pub slo_url: &'a str,
    /// Base64 DER of the SP certificate (signing requests, and decrypting
    /// assertions), when the connection has one.
    pub certificate_b64: Option<&'a str>,
}

pub fn sp_metadata_xml(sp: &SpDescription<'_>) -> String {
    let keys = sp
        .certificate_b64
        .map(|c| {
            ["signing", "encryption"]
                .iter()
                .map(|usage| {
                    format!(
                        "    <md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n",
                        escape(c)
                    )
                })
                .collect::<String>()
        })
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="{signed}" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
{keys}    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{slo}"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = escape(sp.entity_id),
        signed = sp.certificate_b64.is_some(),
        slo = escape(sp.slo_url),
        acs = escape(sp.acs_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sp_metadata_names_the_acs_and_slo_endpoints_and_escapes_values() {
        let xml = sp_metadata_xml(&SpDescription {
            entity_id: "https://sso.example.test/saml/org_1/metadata?a=1&b=2",
            acs_url: "https://sso.example.test/saml/org_1/acs",
            slo_url: "https://sso.example.test/saml/org_1/slo",
            certificate_b64: None,
        });
        let doc = roxmltree::Document::parse(&xml).expect("test fixture");
        let root = doc.root_element();
        assert_eq!(
            root.attribute("entityID"),
            Some("https://sso.example.test/saml/org_1/metadata?a=1&b=2")
        );
        let acs = doc
            .descendants()
            .find(|n| n.has_tag_name("AssertionConsumerService"))
            .expect("test fixture");
        assert_eq!(
            acs.attribute("Location"),
            Some("https://sso.example.test/saml/org_1/acs")
        );
        assert!(
            acs.attribute("Binding")
                .expect("test fixture")
                .ends_with("HTTP-POST")
        );
        let slo = doc
            .descendants()
            .find(|n| n.has_tag_name("SingleLogoutService"))
            .expect("test fixture");
        assert_eq!(
            slo.attribute("Location"),
            Some("https://sso.example.test/saml/org_1/slo")
        );
        assert!(!doc.descendants().any(|n| n.has_tag_name("KeyDescriptor")));
        // And samael, as an IdP would, reads it back.
        let parsed: samael::metadata::EntityDescriptor = xml.parse().expect("test fixture");
        assert!(parsed.sp_sso_descriptors.is_some_and(|d| d.len() == 1));
    }
}
