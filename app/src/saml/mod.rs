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
pub mod idp_metadata;
pub mod logout;
mod redirect;
pub mod sp;
pub mod sp_key;
pub mod sp_metadata;
pub mod store;
pub mod verify;
mod xml_guard;

#[cfg(test)]
mod test_idp;

pub use error::SamlError;
