//! From a verified assertion to the claims map that provisioning reads, so
//! that email gating, JIT and role mapping work on SAML attributes exactly
//! as on OIDC claims; and the attribute names common IdPs send.

use super::verify::VerifiedAssertion;
use crate::sso::ClaimNames;
use serde_json::{Map, Value};

const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

impl VerifiedAssertion {
    /// `sub` is the NameID, `sid` the SessionIndex, and every attribute
    /// keeps its name: one value as a string, several as an array. When the
    /// IdP sends no attribute named `names.email` but the NameID is an
    /// email address, that address is the email.
    pub fn claims(&self, names: &ClaimNames) -> Map<String, Value> {
        let mut claims = Map::new();
        for (name, values) in &self.attributes {
            let value = match values.as_slice() {
                [one] => Value::String(one.clone()),
                many => Value::Array(many.iter().cloned().map(Value::String).collect()),
            };
            claims.insert(name.clone(), value);
        }
        if !claims.contains_key(&names.email)
            && self.name_id_format.as_deref() == Some(EMAIL_FORMAT)
        {
            claims.insert(names.email.clone(), Value::String(self.name_id.clone()));
        }
        claims.insert("sub".into(), Value::String(self.name_id.clone()));
        if let Some(sid) = &self.session_index {
            claims.insert("sid".into(), Value::String(sid.clone()));
        }
        claims
    }
}

/// Attribute-name defaults an admin starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    EntraId,
    Okta,
    Generic,
}

pub fn preset(p: Preset) -> ClaimNames {
    let (email, name, given_name, family_name, groups) = match p {
        Preset::EntraId => (
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "http://schemas.microsoft.com/identity/claims/displayname",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
        ),
        Preset::Okta => ("email", "displayName", "firstName", "lastName", "groups"),
        Preset::Generic => ("email", "displayName", "givenName", "sn", "groups"),
    };
    ClaimNames {
        email: email.into(),
        name: name.into(),
        given_name: given_name.into(),
        family_name: family_name.into(),
        // SAML has no username claim; the NameID is the subject.
        username: "uid".into(),
        groups: groups.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn assertion(format: &str, attributes: &[(&str, &[&str])]) -> VerifiedAssertion {
        VerifiedAssertion {
            issuer: "https://idp.test".into(),
            name_id: "ada@example.com".into(),
            name_id_format: Some(format.into()),
            assertion_id: "_a".into(),
            not_on_or_after: None,
            in_response_to: None,
            session_index: Some("_s".into()),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn attributes_become_claims_with_groups_as_arrays_and_the_name_id_as_subject() {
        let entra = preset(Preset::EntraId);
        let a = assertion(
            "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            &[
                (&entra.email, &["ada@example.com"]),
                (&entra.groups, &["g1", "g2"]),
            ],
        );
        let claims = Value::Object(a.claims(&entra));
        assert_eq!(claims["sub"], json!("ada@example.com"));
        assert_eq!(claims["sid"], json!("_s"));
        assert_eq!(claims[entra.email.as_str()], json!("ada@example.com"));
        assert_eq!(claims[entra.groups.as_str()], json!(["g1", "g2"]));
    }

    #[test]
    fn an_email_name_id_is_the_email_only_when_no_email_attribute_came() {
        let names = preset(Preset::Generic);
        let from_name_id = assertion(EMAIL_FORMAT, &[]).claims(&names);
        assert_eq!(from_name_id.get("email"), Some(&json!("ada@example.com")));
        let attribute_wins =
            assertion(EMAIL_FORMAT, &[("email", &["other@example.com"])]).claims(&names);
        assert_eq!(
            attribute_wins.get("email"),
            Some(&json!("other@example.com"))
        );
        let opaque =
            assertion("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", &[]).claims(&names);
        assert_eq!(opaque.get("email"), None);
    }
}
