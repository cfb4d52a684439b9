//! The identity layer, beneath every sign-in method: accounts, email
//! ownership, passwords as a credential of the account, sessions and their
//! index, and the failed-attempt limits. A method (password, MFA, SSO)
//! authenticates someone and hands this layer the result; whether that
//! session may act in an organization is decided in one place,
//! [`crate::orgs::access::resolve`], from what the session records here.
//! Nothing in this layer knows about the methods above it.

#[cfg(feature = "ssr")]
pub mod accounts;
#[cfg(feature = "ssr")]
pub mod email_ownership;
#[cfg(feature = "ssr")]
pub mod limits;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod sessions;

use serde::{Deserialize, Serialize};

/// The signed-in user, as the UI and API see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub is_operator: bool,
    /// The account's email address is proven (as loaded with the user, so
    /// `/api/v1/me` needs no query of its own).
    #[serde(default)]
    pub email_verified: bool,
    /// This session's password sign-in was confirmed with a second factor.
    #[serde(default)]
    pub mfa: bool,
    /// This session came from the SSO of this organization (and of no
    /// other): only there does it stand in for MFA and satisfy Require SSO.
    #[serde(default)]
    pub sso_org: Option<String>,
}

impl CurrentUser {
    /// What an organization that requires MFA accepts from this session: a
    /// second factor, or a sign-in through that organization's own IdP.
    /// Another organization's IdP vouches for nothing here.
    pub fn strong_auth_in(&self, org_id: &str) -> bool {
        self.mfa || self.signed_in_through(org_id)
    }

    /// Whether this session came from `org_id`'s single sign-on.
    pub fn signed_in_through(&self, org_id: &str) -> bool {
        self.sso_org.as_deref() == Some(org_id)
    }
}

/// What the session remembers about how its user signed in. The session
/// store copies these fields into its index columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAuth {
    pub user_id: String,
    /// The organization the session was opened through (SSO), if any.
    pub org_id: Option<String>,
    /// `password` or `sso`.
    pub method: String,
    pub created_at: i64,
    #[serde(default)]
    pub idp_sid: Option<String>,
    #[serde(default)]
    pub idp_sub: Option<String>,
    /// The ID token of an SSO sign-in, kept server-side as the
    /// `id_token_hint` of RP-initiated logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_id_token: Option<String>,
    /// A password sign-in confirmed with a TOTP or recovery code (or a
    /// session that enrolled one).
    #[serde(default)]
    pub mfa: bool,
}
