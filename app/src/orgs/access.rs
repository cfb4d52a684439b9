//! The one authorization check: every server function, REST handler and
//! page loader resolves its caller's access to an organization here and
//! asks it for the permission it needs.

use super::permissions::{self, Permission};
use super::tokens::TokenCaller;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::ssr::db::Db;

/// Who is acting: a signed-in user or an API token.
#[derive(Debug, Clone)]
pub enum Actor {
    User(CurrentUser),
    Token(TokenCaller),
    /// Latchkey itself (background jobs).
    System,
}

impl Actor {
    /// `(type, id, label)` as written into audit events.
    pub fn audit_identity(&self) -> (&'static str, String, String) {
        match self {
            Self::User(u) => ("user", u.id.clone(), u.email.clone()),
            Self::Token(t) => ("token", t.token_id.clone(), format!("API token {}", t.name)),
            Self::System => ("system", "system".into(), "Latchkey".into()),
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::User(u) => Some(&u.id),
            Self::Token(_) | Self::System => None,
        }
    }
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

    /// 403 with the missing permission named.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
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
}

/// The permissions `role` grants in `org_id`: built-in, custom, or none for
/// a role that no longer exists.
pub async fn role_permissions(
    db: &Db,
    org_id: &str,
    role: &str,
) -> Result<Vec<Permission>, AppError> {
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

fn no_such_org() -> AppError {
    AppError::not_found("There is no such organization, or you are not a member of it.")
}

/// Resolves `org_ref` (id or slug) for `actor`. Non-members, deactivated
/// members and tokens of other organizations get 404, so organizations
/// cannot be probed.
pub async fn resolve(db: &Db, actor: Actor, org_ref: &str) -> Result<Access, AppError> {
    type Row = (String, String, String, String, i64);
    let row: Option<Row> = match &actor {
        Actor::User(user) => {
            sqlx::query_as(
                "SELECT o.id, o.slug, o.name, m.role, o.require_mfa FROM organizations o \
                 JOIN memberships m ON m.org_id = o.id \
                 WHERE (o.id = $1 OR o.slug = $1) AND m.user_id = $2 AND m.status = 'active'",
            )
            .bind(org_ref)
            .bind(&user.id)
            .fetch_optional(db)
            .await?
        }
        Actor::Token(token) => sqlx::query_as(
            "SELECT id, slug, name, $3, CAST(0 AS BIGINT) FROM organizations WHERE (id = $1 OR slug = $1) AND id = $2",
        )
        .bind(org_ref)
        .bind(&token.org_id)
        .bind(&token.role)
        .fetch_optional(db)
        .await?,
        // The system acts through jobs, never through an organization's API.
        Actor::System => None,
    };
    let (org_id, org_slug, org_name, role, require_mfa) = row.ok_or_else(no_such_org)?;
    if let Actor::User(user) = &actor
        && require_mfa != 0
        && !user.strong_auth
    {
        return Err(AppError::new(
            crate::error::ErrorKind::Forbidden,
            "mfa_required",
            format!(
                "{org_name} requires two-factor authentication for password sign-ins. Set it up under Account › Security, or sign in through your organization's single sign-on."
            ),
        ));
    }
    let permissions = role_permissions(db, &org_id, &role).await?;
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
