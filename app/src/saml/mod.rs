//! SAML 2.0 service provider: reading an IdP's metadata, writing
//! Latchkey's own SP metadata, and turning a SAMLResponse into a verified
//! identity (all of it without HTTP or the database), plus what is kept in
//! the database: `store` (outstanding requests, replay records) and `sp`
//! (each organization's SP identity and key pair). The connection
//! lifecycle and provisioning live above it.
//!
//! XML signatures are checked by xmlsec1 through `samael` (never by code of
//! ours); this layer adds what samael leaves open: it refuses IdP metadata
//! without a signing certificate (samael would skip verification), DTDs
//! and comments in the signed document, SHA-1 unless allowed, an audience
//! that is not ours, and an `InResponseTo` we did not issue.

pub mod attributes;
pub mod authn_request;
mod error;
pub mod flow;
pub mod idp_metadata;
pub mod logout;
mod redirect;
pub mod refresh;
pub mod slo;
pub mod sp;
pub mod sp_key;
pub mod sp_metadata;
pub mod store;
pub mod verify;
mod xml_guard;
mod xmlsec_io;

#[cfg(test)]
mod test_idp;

pub use error::SamlError;
pub use xmlsec_io::fetch_nothing as harden_xmlsec;

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// A cookie under `/saml/` that must come back on a request from the IdP's
/// site (its POST to the ACS, its redirect to the SLO): over HTTPS
/// `SameSite=None`; on plain HTTP (development, an IdP on the same host)
/// `Lax`, which browsers send between ports of a host. `value: None`
/// clears it.
fn cross_site_cookie(name: &str, value: Option<&str>, secure: bool) -> String {
    match value {
        Some(v) => format!(
            "{name}={v}; Path=/saml/; Max-Age={}; HttpOnly; {}",
            store::REQUEST_TTL_SECS,
            if secure {
                "SameSite=None; Secure"
            } else {
                "SameSite=Lax"
            }
        ),
        None => format!("{name}=; Path=/saml/; Max-Age=0; HttpOnly"),
    }
}

/// A fresh message ID: 160 random bits, an NCName (it must not start with
/// a digit). Request IDs come back as `InResponseTo`, so they must not be
/// guessable (samael's own are 32 bits).
fn new_message_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("_lk{hex}")
}

/// The top-level StatusCode of a protocol message (`root`), refused unless
/// it is Success; the refusal carries the code's last part.
fn require_success(root: roxmltree::Node<'_, '_>) -> Result<(), SamlError> {
    let status = root
        .children()
        .find(|n| n.has_tag_name((PROTOCOL_NS, "Status")))
        .and_then(|s| {
            s.children()
                .find(|n| n.has_tag_name((PROTOCOL_NS, "StatusCode")))
        })
        .and_then(|c| c.attribute("Value"));
    match status {
        Some(SUCCESS) => Ok(()),
        Some(code) => Err(SamlError::Status(
            code.rsplit(':').next().unwrap_or(code).to_owned(),
        )),
        None => Err(SamlError::Malformed),
    }
}
