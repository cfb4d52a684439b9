//! Permissions and the built-in roles. Shared with the browser so the UI can
//! show or hide controls; the server decides.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Permission {
    #[serde(rename = "sso:read")]
    SsoRead,
    #[serde(rename = "sso:write")]
    SsoWrite,
    #[serde(rename = "domains:read")]
    DomainsRead,
    #[serde(rename = "domains:write")]
    DomainsWrite,
    #[serde(rename = "members:read")]
    MembersRead,
    #[serde(rename = "members:write")]
    MembersWrite,
    #[serde(rename = "roles:write")]
    RolesWrite,
    #[serde(rename = "tokens:write")]
    TokensWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Self::SsoRead,
        Self::SsoWrite,
        Self::DomainsRead,
        Self::DomainsWrite,
        Self::MembersRead,
        Self::MembersWrite,
        Self::RolesWrite,
        Self::TokensWrite,
        Self::AuditRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SsoRead => "sso:read",
            Self::SsoWrite => "sso:write",
            Self::DomainsRead => "domains:read",
            Self::DomainsWrite => "domains:write",
            Self::MembersRead => "members:read",
            Self::MembersWrite => "members:write",
            Self::RolesWrite => "roles:write",
            Self::TokensWrite => "tokens:write",
            Self::AuditRead => "audit:read",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// What the permission allows, for role editors.
    pub fn describe(self) -> &'static str {
        match self {
            Self::SsoRead => "See the single sign-on settings",
            Self::SsoWrite => "Change single sign-on settings",
            Self::DomainsRead => "See domains",
            Self::DomainsWrite => "Add, verify and remove domains",
            Self::MembersRead => "See members and invitations",
            Self::MembersWrite => "Invite, change roles, deactivate and remove members",
            Self::RolesWrite => "Create, edit and delete custom roles",
            Self::TokensWrite => "Create and revoke API tokens",
            Self::AuditRead => "Read the audit log",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const OWNER: &str = "owner";
pub const ADMIN: &str = "admin";
pub const MEMBER: &str = "member";
pub const VIEWER: &str = "viewer";
pub const GUEST: &str = "guest";
pub const BUILTIN_ROLES: [&str; 5] = [OWNER, ADMIN, MEMBER, VIEWER, GUEST];

/// The permissions of a built-in role; `None` for custom roles.
pub fn builtin_permissions(role: &str) -> Option<Vec<Permission>> {
    use Permission::*;
    Some(match role {
        OWNER | ADMIN => Permission::ALL.to_vec(),
        VIEWER => vec![SsoRead, DomainsRead, MembersRead, AuditRead],
        MEMBER => vec![SsoRead, DomainsRead, MembersRead],
        GUEST => vec![],
        _ => return None,
    })
}

pub fn is_builtin(role: &str) -> bool {
    BUILTIN_ROLES.contains(&role)
}

/// Space-separated storage form, e.g. `audit:read members:read`.
pub fn encode(perms: &[Permission]) -> String {
    let mut v: Vec<&str> = perms.iter().map(|p| p.as_str()).collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

/// Reads the storage form; unknown names are dropped (never granted). The
/// result is in the canonical order of [`Permission::ALL`].
pub fn decode(stored: &str) -> Vec<Permission> {
    let named: Vec<&str> = stored.split_whitespace().collect();
    Permission::ALL
        .into_iter()
        .filter(|p| named.contains(&p.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_string(&p).ok(),
                Some(format!("\"{}\"", p.as_str()))
            );
        }
        assert_eq!(Permission::parse("root"), None);
    }

    #[test]
    fn builtin_roles_are_ordered_by_power() {
        let count = |r| builtin_permissions(r).map(|p| p.len());
        assert_eq!(count(OWNER), Some(9));
        assert!(
            !builtin_permissions(MEMBER)
                .unwrap_or_default()
                .contains(&Permission::SsoWrite)
        );
        assert!(
            builtin_permissions(MEMBER)
                .unwrap_or_default()
                .contains(&Permission::SsoRead)
        );
        assert_eq!(count(GUEST), Some(0));
        assert_eq!(builtin_permissions("custom"), None);
    }

    #[test]
    fn storage_form_is_sorted_and_ignores_unknown_names() {
        let s = encode(&[
            Permission::MembersRead,
            Permission::AuditRead,
            Permission::AuditRead,
        ]);
        assert_eq!(s, "audit:read members:read");
        assert_eq!(
            decode("audit:read bogus members:read"),
            vec![Permission::MembersRead, Permission::AuditRead]
        );
    }
}
