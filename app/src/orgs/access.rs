//! The one authorization check: every server function, REST handler and
//! page loader resolves its caller's access to an organization here and
//! asks it for the permission it needs.

use super::permissions::{self, Permission};
use super::tokens::TokenCaller;
use crate::error::AppError;
use crate::identity::CurrentUser;
use crate::setup_links::SetupScope;
use crate::ssr::db::Db;
use std::net::IpAddr;

/// Who is acting: a signed-in user or an API token.
#[derive(Debug, Clone)]
pub enum Actor {
    User(CurrentUser),
    Token(TokenCaller),
    /// Someone without an account, through a setup link.
    SetupLink(crate::setup_links::ssr::SetupLinkCaller),
    /// Latchkey itself (background jobs).
    System,
}

impl Actor {
    /// `(type, id, label)` as written into audit events.
    pub fn audit_identity(&self) -> (&'static str, String, String) {
        match self {
            Self::User(u) => ("user", u.id.clone(), u.email.clone()),
            Self::Token(t) => ("token", t.token_id.clone(), format!("API token {}", t.name)),
            Self::SetupLink(l) => (
                "setup_link",
                l.link_id.clone(),
                format!("Setup link from {}", l.creator_name),
            ),
            Self::System => ("system", "system".into(), "Latchkey".into()),
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::User(u) => Some(&u.id),
            Self::Token(_) | Self::SetupLink(_) | Self::System => None,
        }
    }

    /// The user on whose behalf the actor acts: the user, or a token's
    /// creator (whose rights bound the token's).
    pub fn on_behalf_of(&self) -> Option<&str> {
        match self {
            Self::User(u) => Some(&u.id),
            Self::Token(t) => t.created_by.as_deref(),
            Self::SetupLink(l) => l.created_by.as_deref(),
            Self::System => None,
        }
    }
}

/// Who a browser session acts as: its signed-in user, else the holder of
/// its setup link (an error naming why when that link was revoked or has
/// expired); `None` for neither.
pub async fn session_actor(
    db: &Db,
    session: &tower_sessions::Session,
) -> Result<Option<Actor>, AppError> {
    if let Some(user) = crate::identity::sessions::session_user(db, session).await? {
        return Ok(Some(Actor::User(user)));
    }
    Ok(crate::setup_links::ssr::session_caller(db, session)
        .await?
        .map(Actor::SetupLink))
}

/// An actor's standing in one organization.
#[derive(Debug, Clone)]
pub struct Access {
    pub org_id: String,
    pub org_slug: String,
    pub org_name: String,
    pub role: String,
    pub permissions: Vec<Permission>,
    pub actor: Actor,
}

impl Access {
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// 403 with the missing permission named. A setup link is refused here
    /// whatever it holds: it gets through only the calls of its scopes, by
    /// [`Access::require_in`], so a call that names no scope is closed to
    /// it by default.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if let Actor::SetupLink(l) = &self.actor {
            return Err(outside_link(&format!(
                "A setup link only reaches the pages it was made for. Ask {} to do this.",
                l.creator_name
            )));
        }
        self.require_permission(p)
    }

    fn require_permission(&self, p: Permission) -> Result<(), AppError> {
        if self.can(p) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "You need the {p} permission for this. Ask an owner or admin of {}.",
                self.org_name
            )))
        }
    }

    pub fn is_owner(&self) -> bool {
        self.role == permissions::OWNER
    }

    /// `require` for a call of the setup-link scopes `scopes`: a setup link
    /// covering one of them passes when it holds `p` (its scopes' rights,
    /// bounded by its creator's); every other caller as by `require`.
    pub fn require_in(&self, scopes: &[SetupScope], p: Permission) -> Result<(), AppError> {
        match &self.actor {
            Actor::SetupLink(l) if !scopes.iter().any(|s| l.scopes.contains(s)) => {
                let named: Vec<&str> = scopes.iter().map(|s| s.label()).collect();
                Err(outside_link(&format!(
                    "This setup link does not cover {}. Ask {} for a link that does.",
                    named.join(" or "),
                    l.creator_name
                )))
            }
            Actor::SetupLink(_) => self.require_permission(p),
            _ => self.require(p),
        }
    }
}

fn outside_link(message: &str) -> AppError {
    AppError::new(
        crate::error::ErrorKind::Forbidden,
        "outside_setup_link",
        message,
    )
}

/// The permissions `role` grants in `org_id`: built-in, custom, or none for
/// a role that no longer exists.
pub async fn role_permissions(
    db: &Db,
    org_id: &str,
    role: &str,
) -> Result<Vec<Permission>, AppError> {
    role_permissions_in(db, org_id, role).await
}

/// [`role_permissions`] on any executor (a transaction).
pub async fn role_permissions_in<'e, E>(
    db: E,
    org_id: &str,
    role: &str,
) -> Result<Vec<Permission>, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    if let Some(p) = permissions::builtin_permissions(role) {
        return Ok(p);
    }
    let row: Option<(String,)> =
        sqlx::query_as("SELECT permissions FROM roles WHERE org_id = $1 AND name = $2")
            .bind(org_id)
            .bind(role)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(p,)| permissions::decode(&p)).unwrap_or_default())
}

/// The role and permissions of a token or link creator's active
/// membership; no role and no permissions without one.
async fn creator_standing(
    db: &Db,
    org_id: &str,
    creator: Option<&str>,
) -> Result<(Option<String>, Vec<Permission>), AppError> {
    let Some(creator) = creator else {
        return Ok((None, Vec::new()));
    };
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2 AND status = 'active'",
    )
    .bind(org_id)
    .bind(creator)
    .fetch_optional(db)
    .await?;
    match row {
        Some((role,)) => {
            let perms = role_permissions(db, org_id, &role).await?;
            Ok((Some(role), perms))
        }
        None => Ok((None, Vec::new())),
    }
}

fn no_such_org() -> AppError {
    AppError::not_found("There is no such organization, or you are not a member of it.")
}

/// Resolves `org_ref` (id or slug) for `actor`. Non-members, deactivated
/// members and tokens of other organizations get 404, so organizations
/// cannot be probed.
pub async fn resolve(db: &Db, actor: Actor, org_ref: &str) -> Result<Access, AppError> {
    type Row = (String, String, String, String, i64, i64);
    let row: Option<Row> = match &actor {
        // The last column: whether this organization requires SSO of this
        // user (SSO on and required, and the email in a verified domain).
        Actor::User(user) => {
            sqlx::query_as(
                "SELECT o.id, o.slug, o.name, m.role, o.require_mfa, \
                 CAST(CASE WHEN EXISTS (SELECT 1 FROM sso_connections c WHERE c.org_id = o.id AND c.enabled = 1 AND c.require_sso = 1) \
                 AND EXISTS (SELECT 1 FROM domains d WHERE d.org_id = o.id AND d.domain = $3 AND d.status = 'verified') \
                 THEN 1 ELSE 0 END AS BIGINT) \
                 FROM organizations o JOIN memberships m ON m.org_id = o.id \
                 WHERE (o.id = $1 OR o.slug = $1) AND m.user_id = $2 AND m.status = 'active'",
            )
            .bind(org_ref)
            .bind(&user.id)
            .bind(crate::email::domain_of(&user.email))
            .fetch_optional(db)
            .await?
        }
        Actor::Token(token) => sqlx::query_as(
            "SELECT id, slug, name, $3, CAST(0 AS BIGINT), CAST(0 AS BIGINT) FROM organizations WHERE (id = $1 OR slug = $1) AND id = $2",
        )
        .bind(org_ref)
        .bind(&token.org_id)
        .bind(&token.role)
        .fetch_optional(db)
        .await?,
        Actor::SetupLink(link) => sqlx::query_as(
            "SELECT id, slug, name, 'setup link', CAST(0 AS BIGINT), CAST(0 AS BIGINT) FROM organizations WHERE (id = $1 OR slug = $1) AND id = $2",
        )
        .bind(org_ref)
        .bind(&link.org_id)
        .fetch_optional(db)
        .await?,
        // The system acts through jobs, never through an organization's API.
        Actor::System => None,
    };
    let (org_id, org_slug, org_name, mut role, require_mfa, require_sso) =
        row.ok_or_else(no_such_org)?;
    // Checked on every request, so turning Require SSO on takes effect on
    // sessions that already exist, and another organization's IdP does not
    // count. Owners (break-glass) and guests are exempt, as at sign-in.
    if let Actor::User(user) = &actor
        && require_sso != 0
        && role != permissions::OWNER
        && role != permissions::GUEST
        && !user.signed_in_through(&org_id)
    {
        return Err(AppError::new(
            crate::error::ErrorKind::Forbidden,
            "sso_required",
            format!(
                "{org_name} requires single sign-on. Sign out, then sign in through {org_name}'s login page."
            ),
        ));
    }
    if let Actor::User(user) = &actor
        && require_mfa != 0
        && !user.strong_auth_in(&org_id)
    {
        return Err(AppError::new(
            crate::error::ErrorKind::Forbidden,
            "mfa_required",
            format!(
                "{org_name} requires two-factor authentication for password sign-ins. Set it up under Account › Security, or sign in through your organization's single sign-on."
            ),
        ));
    }
    let mut permissions = match &actor {
        Actor::SetupLink(link) => crate::setup_links::ssr::scope_permissions(&link.scopes),
        _ => role_permissions(db, &org_id, &role).await?,
    };
    if let Actor::Token(_) | Actor::SetupLink(_) = &actor {
        // A token or setup link never outlives its creator's rights: it
        // acts with what it grants and its creator's current role grants
        // (nothing once the creator is gone, deactivated or removed).
        let (creator_role, creator) = creator_standing(db, &org_id, actor.on_behalf_of()).await?;
        permissions.retain(|p| creator.contains(p));
        // Owner-only powers too: an owner token of someone who is no
        // longer an owner acts as their current role (none once they are
        // gone), so a demoted owner cannot re-promote themselves with it.
        if role == permissions::OWNER && creator_role.as_deref() != Some(permissions::OWNER) {
            role = creator_role.unwrap_or_else(|| permissions::GUEST.to_owned());
        }
    }
    if let Actor::SetupLink(link) = &actor
        && let Some(token_role) = &link.token_role
    {
        // A link made with an API token has no more than that token.
        let token = role_permissions(db, &org_id, token_role).await?;
        permissions.retain(|p| token.contains(p));
    }
    Ok(Access {
        org_id,
        org_slug,
        org_name,
        role,
        permissions,
        actor,
    })
}

/// `resolve` then `require`.
pub async fn authorize(
    db: &Db,
    actor: Actor,
    org_ref: &str,
    needed: Permission,
) -> Result<Access, AppError> {
    let access = resolve(db, actor, org_ref).await?;
    access.require(needed)?;
    Ok(access)
}

/// The first of `perms` the caller of `access` lacks.
pub fn first_missing(access: &Access, perms: &[Permission]) -> Option<Permission> {
    perms.iter().copied().find(|p| !access.can(*p))
}

/// The one rule for handing out a role, used by every path that assigns
/// one (a member's role, an invitation, an API token, the SSO default role
/// and mapping targets) and for changing a member who holds it: `owner`
/// only by owners, and any other role only by a caller who holds all of its
/// permissions. A refusal is audited (`role.grant_refused`).
pub async fn may_grant(
    db: &Db,
    access: &Access,
    role: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let missing = if role == permissions::OWNER {
        (!access.is_owner()).then(|| "the owner role".to_owned())
    } else {
        let perms = role_permissions(db, &access.org_id, role).await?;
        first_missing(access, &perms).map(|p| p.to_string())
    };
    match missing {
        None => Ok(()),
        Some(missing) => Err(refuse_grant(db, access, role, &missing, ip).await?),
    }
}

/// `may_grant` for a set of permissions (a custom role being written).
pub async fn may_grant_permissions(
    db: &Db,
    access: &Access,
    role: &str,
    perms: &[Permission],
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    match first_missing(access, perms) {
        None => Ok(()),
        Some(p) => Err(refuse_grant(db, access, role, p.as_str(), ip)
            .await?
            .on("permissions")),
    }
}

async fn refuse_grant(
    db: &Db,
    access: &Access,
    role: &str,
    missing: &str,
    ip: Option<IpAddr>,
) -> Result<AppError, AppError> {
    use crate::audit::ssr::{Event, Target, record};
    tracing::warn!(org = %access.org_id, role, missing, "refused to grant a role beyond the caller's own");
    record(
        db,
        Event::by(
            access,
            "role.grant_refused",
            Target {
                kind: "role",
                id: role,
                label: role,
            },
            serde_json::json!({ "missing": missing }),
            ip,
        ),
    )
    .await?;
    Ok(AppError::forbidden(format!(
        "You cannot give, or change someone who holds, the role “{role}”: it includes {missing}, which you do not have."
    ))
    .on("role"))
}
