//! Invitations: an email, a role, and a one-time accept link.

use super::access::{Access, Actor};
use super::members::role_exists;
use super::permissions::Permission;
use super::{Invitation, InvitationView};
use crate::audit::ssr::{Event, Target, record};
use crate::email::normalize_email;
use crate::error::AppError;
use crate::identity::CurrentUser;
use crate::ssr::crypto::sha256_hex as hash;
use crate::ssr::db::Db;
use crate::ssr::{now, random};
use std::net::IpAddr;

pub const LIFETIME_SECS: i64 = 7 * 24 * 3600;
const TOKEN_PREFIX: &str = "inv_";

pub fn accept_url(public_url: &str, token: &str) -> String {
    format!("{public_url}/invite/{token}")
}

type Row = (String, String, String, i64, i64);

fn to_invitation((id, email, role, created_at, expires_at): Row) -> Invitation {
    Invitation {
        id,
        email,
        role,
        created_at,
        expires_at,
        expired: expires_at <= now(),
        accept_url: None,
    }
}

pub async fn list_pending(db: &Db, org_id: &str) -> Result<Vec<Invitation>, AppError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, email, role, created_at, expires_at FROM invitations \
         WHERE org_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY created_at DESC",
    )
    .bind(org_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(to_invitation).collect())
}

/// Invites `email` with `role`. A pending invitation for the same email is
/// replaced. Returns the invitation with its accept link (shown once).
pub async fn create(
    db: &Db,
    access: &Access,
    public_url: &str,
    email: &str,
    role: &str,
    ip: Option<IpAddr>,
) -> Result<Invitation, AppError> {
    access.require(Permission::MembersWrite)?;
    let email = normalize_email(email)?;
    let role = role.trim();
    if !role_exists(db, &access.org_id, role).await? {
        return Err(AppError::unprocessable(
            "unknown_role",
            format!("There is no role called “{role}”."),
        )
        .on("role"));
    }
    super::access::may_grant(db, access, role, ip).await?;
    let member: Option<(String,)> = sqlx::query_as(
        "SELECT m.status FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND u.email = $2",
    )
    .bind(&access.org_id)
    .bind(&email)
    .fetch_optional(db)
    .await?;
    if member.is_some() {
        return Err(AppError::conflict(
            "already_member",
            format!("{email} is already a member of {}.", access.org_name),
        )
        .on("email"));
    }
    let token = format!("{TOKEN_PREFIX}{}", random::alnum(40));
    let id = random::id("inv");
    let created_at = now();
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query(
        "UPDATE invitations SET revoked_at = $3 WHERE org_id = $1 AND email = $2 \
         AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(&access.org_id)
    .bind(&email)
    .bind(created_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&access.org_id)
    .bind(&email)
    .bind(role)
    .bind(hash(&token))
    .bind(access.actor.user_id())
    .bind(created_at)
    .bind(created_at + LIFETIME_SECS)
    .execute(&mut *tx)
    .await?;
    record(
        &mut *tx,
        Event::by(
            access,
            "invitation.created",
            Target {
                kind: "invitation",
                id: &id,
                label: &email,
            },
            serde_json::json!({ "role": role }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Invitation {
        id,
        email,
        role: role.to_owned(),
        created_at,
        expires_at: created_at + LIFETIME_SECS,
        expired: false,
        accept_url: Some(accept_url(public_url, &token)),
    })
}

async fn pending(db: &Db, org_id: &str, id: &str) -> Result<Invitation, AppError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, email, role, created_at, expires_at FROM invitations \
         WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(db)
    .await?;
    row.map(to_invitation)
        .ok_or_else(|| AppError::not_found("There is no pending invitation with this id."))
}

pub async fn revoke(
    db: &Db,
    access: &Access,
    id: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    access.require(Permission::MembersWrite)?;
    let inv = pending(db, &access.org_id, id).await?;
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query("UPDATE invitations SET revoked_at = $3 WHERE org_id = $1 AND id = $2")
        .bind(&access.org_id)
        .bind(id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    record(
        &mut *tx,
        Event::by(
            access,
            "invitation.revoked",
            Target {
                kind: "invitation",
                id,
                label: &inv.email,
            },
            serde_json::json!({}),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A new link and a new expiry for a pending invitation; the old link stops working.
pub async fn resend(
    db: &Db,
    access: &Access,
    public_url: &str,
    id: &str,
    ip: Option<IpAddr>,
) -> Result<Invitation, AppError> {
    access.require(Permission::MembersWrite)?;
    let mut inv = pending(db, &access.org_id, id).await?;
    let token = format!("{TOKEN_PREFIX}{}", random::alnum(40));
    let expires_at = now() + LIFETIME_SECS;
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query(
        "UPDATE invitations SET token_hash = $3, expires_at = $4 WHERE org_id = $1 AND id = $2",
    )
    .bind(&access.org_id)
    .bind(id)
    .bind(hash(&token))
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    record(
        &mut *tx,
        Event::by(
            access,
            "invitation.resent",
            Target {
                kind: "invitation",
                id,
                label: &inv.email,
            },
            serde_json::json!({}),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    inv.expires_at = expires_at;
    inv.expired = false;
    inv.accept_url = Some(accept_url(public_url, &token));
    Ok(inv)
}

struct Found {
    id: String,
    org_id: String,
    org_slug: String,
    org_name: String,
    email: String,
    role: String,
    expires_at: i64,
    accepted: bool,
    revoked: bool,
}

async fn find(db: &Db, token: &str) -> Result<Option<Found>, AppError> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 100 {
        return Ok(None);
    }
    type R = (
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
        Option<i64>,
        Option<i64>,
    );
    let row: Option<R> = sqlx::query_as(
        "SELECT i.id, i.org_id, o.slug, o.name, i.email, i.role, i.expires_at, i.accepted_at, i.revoked_at \
         FROM invitations i JOIN organizations o ON o.id = i.org_id WHERE i.token_hash = $1",
    )
    .bind(hash(token))
    .fetch_optional(db)
    .await?;
    Ok(row.map(
        |(id, org_id, org_slug, org_name, email, role, expires_at, accepted, revoked)| Found {
            id,
            org_id,
            org_slug,
            org_name,
            email,
            role,
            expires_at,
            accepted: accepted.is_some(),
            revoked: revoked.is_some(),
        },
    ))
}

fn state_of(f: &Found) -> &'static str {
    if f.accepted {
        "accepted"
    } else if f.revoked {
        "revoked"
    } else if f.expires_at <= now() {
        "expired"
    } else {
        "pending"
    }
}

/// What the accept page shows to whoever holds the link.
pub async fn view(
    db: &Db,
    token: &str,
    viewer: Option<&CurrentUser>,
) -> Result<InvitationView, AppError> {
    let f = find(db, token)
        .await?
        .ok_or_else(|| AppError::not_found("This invitation link is not valid."))?;
    let account_exists = crate::identity::accounts::find_user_by_email(db, &f.email)
        .await?
        .is_some();
    Ok(InvitationView {
        org_name: f.org_name.clone(),
        org_slug: f.org_slug.clone(),
        email: f.email.clone(),
        role: f.role.clone(),
        expires_at: f.expires_at,
        state: state_of(&f).to_owned(),
        signed_in_as: viewer.map(|u| u.email.clone()),
        account_exists,
    })
}

/// Adds `user` to the invitation's organization. The invitation must be
/// pending and addressed to the user's email. Returns the organization slug.
pub async fn accept(
    db: &Db,
    token: &str,
    user: &CurrentUser,
    ip: Option<IpAddr>,
) -> Result<String, AppError> {
    let f = find(db, token)
        .await?
        .ok_or_else(|| AppError::not_found("This invitation link is not valid."))?;
    match state_of(&f) {
        "pending" => {}
        "expired" => {
            return Err(AppError::conflict(
                "invitation_expired",
                "This invitation has expired. Ask for a new one.",
            ));
        }
        "revoked" => {
            return Err(AppError::conflict(
                "invitation_revoked",
                "This invitation was withdrawn.",
            ));
        }
        _ => {
            return Err(AppError::conflict(
                "invitation_used",
                "This invitation has already been used.",
            ));
        }
    }
    if !f.email.eq_ignore_ascii_case(&user.email) {
        return Err(AppError::forbidden(format!(
            "This invitation is for {}, but you are signed in as {}.",
            f.email, user.email
        )));
    }
    let mut tx = crate::ssr::db::begin_write(db).await?;
    // Single use: only the request that flips accepted_at goes on.
    let claimed = sqlx::query(
        "UPDATE invitations SET accepted_at = $2, accepted_by = $3 \
         WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(&f.id)
    .bind(now())
    .bind(&user.id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(AppError::conflict(
            "invitation_used",
            "This invitation has already been used.",
        ));
    }
    // Accepting proves nothing about the address: the inviter reads the
    // accept link too (it is in their answer), so they could use it.
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT status FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(&f.org_id)
            .bind(&user.id)
            .fetch_optional(&mut *tx)
            .await?;
    match existing.as_ref().map(|(s,)| s.as_str()) {
        Some("deactivated") => {
            return Err(AppError::forbidden(
                "Your membership of this organization is deactivated. Ask an admin to reactivate it.",
            ));
        }
        Some(_) => {}
        None => {
            sqlx::query(
                "INSERT INTO memberships (org_id, user_id, role, status, source, created_at) \
                 VALUES ($1, $2, $3, 'active', 'invite', $4)",
            )
            .bind(&f.org_id)
            .bind(&user.id)
            .bind(&f.role)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
    }
    record(
        &mut *tx,
        Event {
            org_id: &f.org_id,
            actor: &Actor::User(user.clone()),
            action: "invitation.accepted",
            target: Some(Target {
                kind: "invitation",
                id: &f.id,
                label: &f.email,
            }),
            details: serde_json::json!({ "role": f.role }),
            ip,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(f.org_slug)
}

/// Emails a freshly created or re-sent invitation when SMTP is configured.
pub fn notify(mailer: Option<&crate::ssr::mail::Mailer>, org_name: &str, inv: &Invitation) {
    if let (Some(mailer), Some(url)) = (mailer, inv.accept_url.as_deref()) {
        mailer.send_invitation(&inv.email, org_name, &inv.role, url);
    }
}
