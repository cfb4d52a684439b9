//! Member management: roles, deactivation, removal, with the rule that an
//! organization always keeps at least one active owner.

use super::access::{Access, may_grant};
use super::permissions::{self, Permission};
use super::{Member, MemberPage, MemberQuery};
use crate::audit::ssr::{Event, Target, record};
use crate::error::AppError;
use crate::ssr::db::Db;
use std::net::IpAddr;

const PER_PAGE_DEFAULT: u32 = 25;
const PER_PAGE_MAX: u32 = 100;

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
);

fn to_member(
    (user_id, email, name, role, status, source, joined_at, last_login_at): Row,
) -> Member {
    Member {
        user_id,
        email,
        name,
        role,
        status,
        source,
        joined_at,
        last_login_at,
    }
}

const SELECT: &str = "SELECT u.id, u.email, u.name, m.role, m.status, m.source, m.created_at, u.last_login_at \
     FROM memberships m JOIN users u ON u.id = m.user_id";

/// Members matching `q` (name or email, case-insensitive), by name, paged.
pub async fn list(db: &Db, org_id: &str, query: &MemberQuery) -> Result<MemberPage, AppError> {
    let per_page = query
        .per_page
        .unwrap_or(PER_PAGE_DEFAULT)
        .clamp(1, PER_PAGE_MAX);
    let page = query.page.unwrap_or(1).max(1);
    let pattern = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| format!("%{}%", q.to_lowercase().replace(['%', '_'], "")));
    let filter =
        "WHERE m.org_id = $1 AND ($2 IS NULL OR LOWER(u.email) LIKE $2 OR LOWER(u.name) LIKE $2)";
    let (total,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id {filter}"
    ))
    .bind(org_id)
    .bind(&pattern)
    .fetch_one(db)
    .await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} {filter} ORDER BY LOWER(u.name), u.email LIMIT $3 OFFSET $4"
    ))
    .bind(org_id)
    .bind(&pattern)
    .bind(i64::from(per_page))
    // In i64: a huge page number is an empty page, not an overflow.
    .bind(i64::from(page - 1) * i64::from(per_page))
    .fetch_all(db)
    .await?;
    Ok(MemberPage {
        members: rows.into_iter().map(to_member).collect(),
        total,
        page,
        per_page,
    })
}

pub async fn get(db: &Db, org_id: &str, user_id: &str) -> Result<Member, AppError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("{SELECT} WHERE m.org_id = $1 AND m.user_id = $2"))
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    row.map(to_member)
        .ok_or_else(|| AppError::not_found("This person is not a member of the organization."))
}

/// Whether `role` exists in the organization (built-in or custom).
pub async fn role_exists(db: &Db, org_id: &str, role: &str) -> Result<bool, AppError> {
    if permissions::is_builtin(role) {
        return Ok(true);
    }
    let row: Option<(String,)> =
        sqlx::query_as("SELECT name FROM roles WHERE org_id = $1 AND name = $2")
            .bind(org_id)
            .bind(role)
            .fetch_optional(db)
            .await?;
    Ok(row.is_some())
}

fn owners_only(access: &Access) -> Result<(), AppError> {
    if access.is_owner() {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "Only an owner can change, deactivate or remove owners, or make someone an owner.",
        ))
    }
}

fn last_owner() -> AppError {
    AppError::conflict(
        "last_owner",
        "An organization must keep at least one active owner. Make someone else an owner first.",
    )
}

/// Counts active owners other than `user_id`, inside `tx`.
async fn other_active_owners(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    user_id: &str,
) -> Result<i64, AppError> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner' AND status = 'active' AND user_id <> $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n)
}

/// Opens the transaction for a change to `member`. Changes that touch an
/// owner need the caller to be an owner; the organization row is locked (a
/// row lock on PostgreSQL; SQLite already has a single writer) so two admins
/// demoting the last two owners at once cannot both succeed; and a change
/// that `drops_owner` is refused when `member` is the last active owner.
async fn begin_member_change<'a>(
    db: &'a Db,
    access: &Access,
    member: &Member,
    touches_owner: bool,
    drops_owner: bool,
) -> Result<sqlx::Transaction<'a, sqlx::Any>, AppError> {
    if touches_owner {
        owners_only(access)?;
    }
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query("UPDATE organizations SET slug = slug WHERE id = $1")
        .bind(&access.org_id)
        .execute(&mut *tx)
        .await?;
    if drops_owner && other_active_owners(&mut tx, &access.org_id, &member.user_id).await? == 0 {
        return Err(last_owner());
    }
    Ok(tx)
}

pub async fn change_role(
    db: &Db,
    access: &Access,
    user_id: &str,
    new_role: &str,
    ip: Option<IpAddr>,
) -> Result<Member, AppError> {
    access.require(Permission::MembersWrite)?;
    let new_role = new_role.trim();
    if !role_exists(db, &access.org_id, new_role).await? {
        return Err(AppError::unprocessable(
            "unknown_role",
            format!("There is no role called “{new_role}”."),
        )
        .on("role"));
    }
    let before = get(db, &access.org_id, user_id).await?;
    if before.role == new_role {
        return Ok(before);
    }
    may_grant(db, access, new_role, ip).await?;
    may_grant(db, access, &before.role, ip).await?;
    let was_owner = before.role == permissions::OWNER;
    let touches_owner = was_owner || new_role == permissions::OWNER;
    let mut tx = begin_member_change(db, access, &before, touches_owner, was_owner).await?;
    sqlx::query("UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2")
        .bind(&access.org_id)
        .bind(user_id)
        .bind(new_role)
        .execute(&mut *tx)
        .await?;
    // Their tokens never hold more than they do now.
    super::tokens::manage::revoke_beyond(&mut tx, access, user_id, new_role, ip).await?;
    record(
        &mut *tx,
        Event::by(
            access,
            "member.role_changed",
            Target {
                kind: "user",
                id: user_id,
                label: &before.email,
            },
            serde_json::json!({ "from": before.role, "to": new_role }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    get(db, &access.org_id, user_id).await
}

/// Deactivates or reactivates. Deactivation ends the member's sessions at
/// once: their SSO sessions of this organization and their password
/// sessions, which are not tied to one organization.
pub async fn set_active(
    db: &Db,
    access: &Access,
    user_id: &str,
    active: bool,
    ip: Option<IpAddr>,
) -> Result<Member, AppError> {
    access.require(Permission::MembersWrite)?;
    let before = get(db, &access.org_id, user_id).await?;
    let status = if active { "active" } else { "deactivated" };
    if before.status == status {
        return Ok(before);
    }
    may_grant(db, access, &before.role, ip).await?;
    let is_owner = before.role == permissions::OWNER;
    let mut tx = begin_member_change(db, access, &before, is_owner, is_owner && !active).await?;
    sqlx::query("UPDATE memberships SET status = $3 WHERE org_id = $1 AND user_id = $2")
        .bind(&access.org_id)
        .bind(user_id)
        .bind(status)
        .execute(&mut *tx)
        .await?;
    if !active {
        end_sessions_in_org(&mut tx, &access.org_id, user_id).await?;
        super::tokens::manage::revoke_all_of(&mut tx, access, user_id, "creator deactivated", ip)
            .await?;
    }
    record(
        &mut *tx,
        Event::by(
            access,
            if active {
                "member.reactivated"
            } else {
                "member.deactivated"
            },
            Target {
                kind: "user",
                id: user_id,
                label: &before.email,
            },
            serde_json::json!({}),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    get(db, &access.org_id, user_id).await
}

pub async fn remove(
    db: &Db,
    access: &Access,
    user_id: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    access.require(Permission::MembersWrite)?;
    let before = get(db, &access.org_id, user_id).await?;
    may_grant(db, access, &before.role, ip).await?;
    let is_owner = before.role == permissions::OWNER;
    let mut tx = begin_member_change(db, access, &before, is_owner, is_owner).await?;
    sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(&access.org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    end_sessions_in_org(&mut tx, &access.org_id, user_id).await?;
    super::tokens::manage::revoke_all_of(&mut tx, access, user_id, "creator removed", ip).await?;
    record(
        &mut *tx,
        Event::by(
            access,
            "member.removed",
            Target {
                kind: "user",
                id: user_id,
                label: &before.email,
            },
            serde_json::json!({ "role": before.role }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn end_sessions_in_org(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    user_id: &str,
) -> Result<u64, AppError> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND (org_id = $2 OR org_id IS NULL)")
            .bind(user_id)
            .bind(org_id)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}
