//! Roles of an organization: the built-in ones and custom ones.

use super::RoleInfo;
use super::access::Access;
use super::permissions::{self, BUILTIN_ROLES, Permission};
use crate::audit::ssr::{Event, Target, record};
use crate::error::AppError;
use crate::ssr::db::{Db, is_unique_violation};
use crate::ssr::now;
use std::net::IpAddr;

async fn holders(db: &Db, org_id: &str, role: &str) -> Result<(i64, i64), AppError> {
    let (members,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = $2")
            .bind(org_id)
            .bind(role)
            .fetch_one(db)
            .await?;
    let (tokens,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM api_tokens WHERE org_id = $1 AND role = $2 AND revoked_at IS NULL",
    )
    .bind(org_id)
    .bind(role)
    .fetch_one(db)
    .await?;
    Ok((members, tokens))
}

/// What will give `role` to someone: a pending invitation, the SSO default
/// role, or a role mapping rule.
async fn future_holder(db: &Db, org_id: &str, role: &str) -> Result<Option<String>, AppError> {
    let (invitations,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM invitations WHERE org_id = $1 AND role = $2 \
         AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(org_id)
    .bind(role)
    .bind(now())
    .fetch_one(db)
    .await?;
    if invitations > 0 {
        return Ok(Some(format!("{invitations} pending invitation(s)")));
    }
    if let Some(p) = crate::sso::ssr::provisioning_of(db, org_id).await? {
        if p.default_role == role {
            return Ok(Some("single sign-on as its default role".into()));
        }
        if let Some(i) = p.role_mappings.iter().position(|r| r.role == role) {
            return Ok(Some(format!("role mapping rule {}", i + 1)));
        }
    }
    Ok(None)
}

/// Needs `members:read`, or a setup link for provisioning (its default role
/// and mapping rules name roles).
pub async fn list(db: &Db, access: &Access) -> Result<Vec<RoleInfo>, AppError> {
    match &access.actor {
        super::access::Actor::SetupLink(_) => access.require_in(
            &[crate::setup_links::SetupScope::Provisioning],
            Permission::SsoWrite,
        )?,
        _ => access.require(Permission::MembersRead)?,
    }
    let org_id = access.org_id.as_str();
    let mut out = Vec::new();
    for name in BUILTIN_ROLES {
        let (members, _) = holders(db, org_id, name).await?;
        out.push(RoleInfo {
            name: name.to_owned(),
            description: builtin_description(name).to_owned(),
            permissions: permissions::builtin_permissions(name).unwrap_or_default(),
            builtin: true,
            members,
        });
    }
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT name, description, permissions FROM roles WHERE org_id = $1 ORDER BY name",
    )
    .bind(org_id)
    .fetch_all(db)
    .await?;
    for (name, description, perms) in rows {
        let (members, _) = holders(db, org_id, &name).await?;
        out.push(RoleInfo {
            name,
            description,
            permissions: permissions::decode(&perms),
            builtin: false,
            members,
        });
    }
    Ok(out)
}

fn builtin_description(name: &str) -> &'static str {
    match name {
        permissions::OWNER => "Everything, including managing owners.",
        permissions::ADMIN => "Everything except managing owners.",
        permissions::VIEWER => "Read-only access to settings, members and the audit log.",
        permissions::MEMBER => "Signs in; sees settings and members read-only.",
        _ => "Signs in; no access to settings.",
    }
}

fn check_name(name: &str) -> Result<String, AppError> {
    let name = name.trim().to_lowercase();
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !ok {
        return Err(AppError::unprocessable(
            "invalid_role_name",
            "Use 1 to 32 lowercase letters, digits, - or _, starting with a letter.",
        )
        .on("name"));
    }
    if permissions::is_builtin(&name) {
        return Err(
            AppError::conflict("role_exists", format!("“{name}” is a built-in role.")).on("name"),
        );
    }
    Ok(name)
}

fn check_permissions(names: &[String]) -> Result<Vec<Permission>, AppError> {
    names
        .iter()
        .map(|n| {
            Permission::parse(n.trim()).ok_or_else(|| {
                AppError::unprocessable(
                    "unknown_permission",
                    format!("There is no permission called “{n}”."),
                )
                .on("permissions")
            })
        })
        .collect()
}

pub async fn create(
    db: &Db,
    access: &Access,
    name: &str,
    description: &str,
    perms: &[String],
    ip: Option<IpAddr>,
) -> Result<RoleInfo, AppError> {
    access.require(Permission::RolesWrite)?;
    let name = check_name(name)?;
    let perms = check_permissions(perms)?;
    super::access::may_grant_permissions(db, access, &name, &perms, ip).await?;
    let description: String = description.trim().chars().take(200).collect();
    let mut tx = crate::ssr::db::begin_write(db).await?;
    let inserted = sqlx::query("INSERT INTO roles (org_id, name, description, permissions, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&access.org_id)
        .bind(&name)
        .bind(&description)
        .bind(permissions::encode(&perms))
        .bind(now())
        .execute(&mut *tx)
        .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "role_exists",
                format!("A role called “{name}” already exists."),
            )
            .on("name"));
        }
        Err(e) => return Err(e.into()),
    }
    record(
        &mut *tx,
        Event::by(
            access,
            "role.created",
            Target {
                kind: "role",
                id: &name,
                label: &name,
            },
            serde_json::json!({ "permissions": perms }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(RoleInfo {
        name,
        description,
        permissions: perms,
        builtin: false,
        members: 0,
    })
}

/// Custom roles change only while nobody holds them, so a role never
/// shifts under its members' or tokens' feet.
async fn ensure_editable(db: &Db, access: &Access, name: &str, verb: &str) -> Result<(), AppError> {
    access.require(Permission::RolesWrite)?;
    if permissions::is_builtin(name) {
        return Err(AppError::unprocessable(
            "builtin_role",
            format!("Built-in roles cannot be {verb}."),
        ));
    }
    let (members, tokens) = holders(db, &access.org_id, name).await?;
    if members > 0 || tokens > 0 {
        return Err(AppError::conflict(
            "role_in_use",
            format!(
                "“{name}” is still held by {members} member(s) and {tokens} API token(s), so it cannot be {verb}. Change their role first."
            ),
        ));
    }
    // Whatever will hand the role out holds it too: a role widened after
    // it was checked there would give its next holder rights nobody
    // granted (an invitation, a mapping rule, the SSO default role).
    if let Some(what) = future_holder(db, &access.org_id, name).await? {
        return Err(AppError::conflict(
            "role_in_use",
            format!(
                "“{name}” is still given by {what}, so it cannot be {verb}. Change that first."
            ),
        ));
    }
    Ok(())
}

pub async fn update(
    db: &Db,
    access: &Access,
    name: &str,
    perms: &[String],
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    ensure_editable(db, access, name, "edited").await?;
    let perms = check_permissions(perms)?;
    super::access::may_grant_permissions(db, access, name, &perms, ip).await?;
    let mut tx = crate::ssr::db::begin_write(db).await?;
    let done = sqlx::query("UPDATE roles SET permissions = $3 WHERE org_id = $1 AND name = $2")
        .bind(&access.org_id)
        .bind(name)
        .bind(permissions::encode(&perms))
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found(format!(
            "There is no role called “{name}”."
        )));
    }
    record(
        &mut *tx,
        Event::by(
            access,
            "role.updated",
            Target {
                kind: "role",
                id: name,
                label: name,
            },
            serde_json::json!({ "permissions": perms }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete(
    db: &Db,
    access: &Access,
    name: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    ensure_editable(db, access, name, "deleted").await?;
    // Provisioning would otherwise hand out a role that no longer exists.
    if let Some(p) = crate::sso::ssr::provisioning_of(db, &access.org_id).await?
        && (p.default_role == name || p.role_mappings.iter().any(|r| r.role == name))
    {
        return Err(AppError::conflict(
            "role_in_use",
            format!(
                "“{name}” is used by single sign-on provisioning (default role or a mapping rule). Change that first."
            ),
        ));
    }
    let mut tx = crate::ssr::db::begin_write(db).await?;
    let done = sqlx::query("DELETE FROM roles WHERE org_id = $1 AND name = $2")
        .bind(&access.org_id)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found(format!(
            "There is no role called “{name}”."
        )));
    }
    record(
        &mut *tx,
        Event::by(
            access,
            "role.deleted",
            Target {
                kind: "role",
                id: name,
                label: name,
            },
            serde_json::json!({}),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
