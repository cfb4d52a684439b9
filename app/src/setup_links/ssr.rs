//! Setup links: creating, listing, revoking, opening, and the caller a
//! setup-link session acts as.

use super::{SetupBanner, SetupLink, SetupLinkView, SetupScope};
use crate::audit::ssr::{Event, Target, record};
use crate::error::{AppError, ErrorKind};
use crate::orgs::access::{Access, Actor};
use crate::orgs::permissions::Permission;
use crate::ssr::crypto::sha256_hex as hash;
use crate::ssr::db::Db;
use crate::ssr::state::AppState;
use crate::ssr::{now, random};
use std::net::IpAddr;
use tower_sessions::Session;

/// The session entry of a setup-link session (it never holds an account).
const SESSION_KEY: &str = "setup_link";
const TOKEN_PREFIX: &str = "lks_";
pub const DEFAULT_DAYS: i64 = 7;
pub const MAX_DAYS: i64 = 30;
const MAX_NOTE: usize = 200;
/// A setup-link session lasts at most this long (or until the link ends).
const SESSION_SECS: i64 = 12 * 3600;
const DAY: i64 = 86_400;

/// Who acts through a setup-link session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupLinkCaller {
    pub link_id: String,
    pub org_id: String,
    pub scopes: Vec<SetupScope>,
    /// The user who created the link (directly or through their API
    /// token), while that user exists: the link never has more than
    /// their current rights.
    pub created_by: Option<String>,
    pub creator_name: String,
    pub expires_at: i64,
    /// The role of the API token the link was made with, if it was: the
    /// link has no more than that token either.
    pub token_role: Option<String>,
}

impl SetupLinkCaller {
    pub fn banner(&self) -> SetupBanner {
        SetupBanner {
            link_id: self.link_id.clone(),
            created_by: self.creator_name.clone(),
            scopes: self.scopes.clone(),
            expires_at: self.expires_at,
        }
    }
}

/// The permissions a set of scopes stands for. Provisioning is part of the
/// SSO settings, so both scopes need `sso:*`; which of the two a call
/// belongs to is checked by [`Access::require_in`].
pub fn scope_permissions(scopes: &[SetupScope]) -> Vec<Permission> {
    use Permission::*;
    let mut perms: Vec<Permission> = scopes
        .iter()
        .flat_map(|s| match s {
            SetupScope::Domains => [DomainsRead, DomainsWrite],
            SetupScope::Sso | SetupScope::Provisioning => [SsoRead, SsoWrite],
        })
        .collect();
    perms.sort();
    perms.dedup();
    perms
}

fn encode_scopes(scopes: &[SetupScope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_scopes(stored: &str) -> Vec<SetupScope> {
    SetupScope::ALL
        .into_iter()
        .filter(|s| stored.split_whitespace().any(|n| n == s.as_str()))
        .collect()
}

fn state_of(revoked_at: Option<i64>, expires_at: i64, at: i64) -> &'static str {
    if revoked_at.is_some() {
        "revoked"
    } else if expires_at <= at {
        "expired"
    } else {
        "active"
    }
}

/// Only people (or their API tokens) with `sso:write` manage setup links:
/// a setup link cannot make or extend one.
pub fn require_manager(access: &Access) -> Result<(), AppError> {
    access.require(Permission::SsoWrite)
}

pub struct NewSetupLink {
    pub scopes: Vec<SetupScope>,
    pub expires_in_days: Option<i64>,
    pub note: String,
}

/// The creator's name as the link's holder sees it ("from Ada Admin").
async fn creator_name(db: &Db, access: &Access) -> Result<String, AppError> {
    let user = match &access.actor {
        Actor::User(u) => Some(u.clone()),
        other => match other.on_behalf_of() {
            Some(id) => crate::identity::accounts::find_user(db, id).await?,
            None => None,
        },
    };
    Ok(match user {
        Some(u) if !u.name.trim().is_empty() => u.name,
        Some(u) => u.email,
        None => access.actor.audit_identity().2,
    })
}

/// Creates a link; its URL (holding the token) is in the result and
/// nowhere else.
pub async fn create(
    state: &AppState,
    access: &Access,
    input: NewSetupLink,
    ip: Option<IpAddr>,
) -> Result<SetupLink, AppError> {
    require_manager(access)?;
    let mut scopes = input.scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(AppError::unprocessable(
            "invalid_scopes",
            "Choose what the link may set up: domains, sso and/or provisioning.",
        )
        .on("scopes"));
    }
    let days = input.expires_in_days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AppError::unprocessable(
            "invalid_expiry",
            format!("A setup link lasts 1 to {MAX_DAYS} days."),
        )
        .on("expires_in_days"));
    }
    let note = input.note.trim().to_owned();
    if note.chars().count() > MAX_NOTE || note.chars().any(char::is_control) {
        return Err(AppError::unprocessable(
            "invalid_note",
            format!("Keep the note to {MAX_NOTE} characters on one line."),
        )
        .on("note"));
    }
    let db = &state.db;
    let created_by_name = creator_name(db, access).await?;
    let id = random::id("sl");
    let token = format!("{TOKEN_PREFIX}{}", random::alnum(40));
    let created_at = now();
    let expires_at = created_at + days * DAY;
    let by_token = match &access.actor {
        Actor::Token(t) => Some(t.token_id.clone()),
        _ => None,
    };
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query(
        "INSERT INTO setup_links (id, org_id, token_hash, scopes, note, created_by, creator_name, created_at, expires_at, created_by_token) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(&access.org_id)
    .bind(hash(&token))
    .bind(encode_scopes(&scopes))
    .bind(&note)
    .bind(access.actor.on_behalf_of())
    .bind(&created_by_name)
    .bind(created_at)
    .bind(expires_at)
    .bind(&by_token)
    .execute(&mut *tx)
    .await?;
    record(
        &mut *tx,
        Event::by(
            access,
            "setup_link.created",
            Target {
                kind: "setup_link",
                id: &id,
                label: &note,
            },
            serde_json::json!({ "scopes": encode_scopes(&scopes), "expires_at": expires_at }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(SetupLink {
        id,
        scopes,
        note,
        created_by: created_by_name,
        created_at,
        expires_at,
        last_used_at: None,
        state: "active".into(),
        url: Some(format!("{}/setup/{token}", state.settings.public_url)),
    })
}

/// The organization's links, newest first, without their tokens.
pub async fn list(db: &Db, access: &Access) -> Result<Vec<SetupLink>, AppError> {
    require_manager(access)?;
    type Row = (
        String,
        String,
        String,
        String,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, scopes, note, creator_name, created_at, expires_at, last_used_at, revoked_at \
         FROM setup_links WHERE org_id = $1 ORDER BY created_at DESC, id LIMIT 200",
    )
    .bind(&access.org_id)
    .fetch_all(db)
    .await?;
    let at = now();
    Ok(rows
        .into_iter()
        .map(
            |(id, scopes, note, created_by, created_at, expires_at, last_used_at, revoked_at)| {
                SetupLink {
                    id,
                    scopes: decode_scopes(&scopes),
                    note,
                    created_by,
                    created_at,
                    expires_at,
                    last_used_at,
                    state: state_of(revoked_at, expires_at, at).into(),
                    url: None,
                }
            },
        )
        .collect())
}

/// Revokes a link: sessions opened through it stop working at their next
/// request.
pub async fn revoke(
    db: &Db,
    access: &Access,
    id: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    require_manager(access)?;
    let mut tx = crate::ssr::db::begin_write(db).await?;
    if !revoke_in(&mut tx, access, id, serde_json::json!({}), ip).await? {
        return Err(AppError::not_found(
            "There is no setup link with this id that is still active.",
        ));
    }
    tx.commit().await?;
    Ok(())
}

/// Revokes link `id` of the organization of `access` in the caller's
/// transaction, with its test tickets and test flows, and audits it;
/// false when no active link has that id.
async fn revoke_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    access: &Access,
    id: &str,
    details: serde_json::Value,
    ip: Option<IpAddr>,
) -> Result<bool, AppError> {
    let done = sqlx::query(
        "UPDATE setup_links SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(&access.org_id)
    .bind(id)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    for table in ["sso_states", "saml_requests"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE org_id = $1 AND setup_link_id = $2"
        ))
        .bind(&access.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    record(
        &mut **tx,
        Event::by(
            access,
            "setup_link.revoked",
            Target {
                kind: "setup_link",
                id,
                label: id,
            },
            details,
            ip,
        ),
    )
    .await?;
    Ok(true)
}

/// Revokes every active link that `column` (`created_by` for a user,
/// `created_by_token` for an API token) names `value` as having made, in
/// the transaction that removes, deactivates or revokes that maker; each
/// revocation is audited with `reason`.
pub async fn revoke_all_made_by(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    access: &Access,
    maker: Maker<'_>,
    reason: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let (column, value) = match maker {
        Maker::User(id) => ("created_by", id),
        Maker::Token(id) => ("created_by_token", id),
    };
    let ids: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM setup_links WHERE org_id = $1 AND {column} = $2 AND revoked_at IS NULL"
    ))
    .bind(&access.org_id)
    .bind(value)
    .fetch_all(&mut **tx)
    .await?;
    for id in ids {
        let details = serde_json::json!({ "reason": reason });
        revoke_in(tx, access, &id, details, ip).await?;
    }
    Ok(())
}

/// Who made a setup link.
#[derive(Debug, Clone, Copy)]
pub enum Maker<'a> {
    User(&'a str),
    Token(&'a str),
}

fn unknown_link() -> AppError {
    AppError::not_found(
        "This setup link is not valid. Check that you copied all of it, or ask for a new one.",
    )
}

struct Found {
    id: String,
    org_id: String,
    org_slug: String,
    org_name: String,
    scopes: Vec<SetupScope>,
    created_by: Option<String>,
    creator_name: String,
    expires_at: i64,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    /// The API token the link was made with: `Some(role)` while it is
    /// active, `None` inside when it was revoked or deleted.
    token: Option<Option<String>>,
}

/// Looks a link up by token or by id (exactly one of them).
async fn find(db: &Db, token: Option<&str>, id: Option<&str>) -> Result<Option<Found>, AppError> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        i64,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
    );
    let select = "SELECT l.id, l.org_id, o.slug, o.name, l.scopes, l.created_by, l.creator_name, l.expires_at, l.revoked_at, l.last_used_at, \
                  l.created_by_token, t.role \
                  FROM setup_links l JOIN organizations o ON o.id = l.org_id \
                  LEFT JOIN api_tokens t ON t.id = l.created_by_token AND t.revoked_at IS NULL";
    let row: Option<Row> = match (token, id) {
        (Some(token), _) => {
            if !token.starts_with(TOKEN_PREFIX) || token.len() > 100 {
                return Ok(None);
            }
            sqlx::query_as(&format!("{select} WHERE l.token_hash = $1"))
                .bind(hash(token))
                .fetch_optional(db)
                .await?
        }
        (None, Some(id)) => {
            sqlx::query_as(&format!("{select} WHERE l.id = $1"))
                .bind(id)
                .fetch_optional(db)
                .await?
        }
        (None, None) => None,
    };
    Ok(row.map(
        |(
            id,
            org_id,
            org_slug,
            org_name,
            scopes,
            created_by,
            creator_name,
            expires_at,
            revoked_at,
            last_used_at,
            by_token,
            token_role,
        )| {
            Found {
                token: by_token.map(|_| token_role),
                id,
                org_id,
                org_slug,
                org_name,
                scopes: decode_scopes(&scopes),
                created_by,
                creator_name,
                expires_at,
                revoked_at,
                last_used_at,
            }
        },
    ))
}

/// `active`, `expired` or `revoked` (also once the API token that made it
/// is revoked).
fn link_state(link: &Found) -> &'static str {
    let revoked = link.revoked_at.or(match link.token {
        Some(None) => Some(0),
        _ => None,
    });
    state_of(revoked, link.expires_at, now())
}

/// Why a link no longer opens anything, or `Ok` while it is active. A link
/// made with an API token ends with that token (it is revoked with it; a
/// token deleted some other way ends it too).
fn check_active(link: &Found) -> Result<(), AppError> {
    match link_state(link) {
        "revoked" => Err(AppError::new(
            ErrorKind::Unauthorized,
            "setup_link_revoked",
            format!(
                "This setup link was revoked. Ask {} at {} for a new one.",
                link.creator_name, link.org_name
            ),
        )),
        "expired" => Err(AppError::new(
            ErrorKind::Unauthorized,
            "setup_link_expired",
            format!(
                "This setup link has expired. Ask {} at {} for a new one.",
                link.creator_name, link.org_name
            ),
        )),
        _ => Ok(()),
    }
}

/// What the landing page shows about a link.
pub async fn info(db: &Db, token: &str) -> Result<SetupLinkView, AppError> {
    let link = find(db, Some(token), None)
        .await?
        .ok_or_else(unknown_link)?;
    Ok(SetupLinkView {
        state: link_state(&link).into(),
        org_name: link.org_name,
        created_by: link.creator_name,
        scopes: link.scopes,
        expires_at: link.expires_at,
        signed_in_as: None,
    })
}

/// Opens a setup-link session in `session` and answers the page to go to.
/// A browser signed in with an account keeps that session: the holder of a
/// setup link is someone else, and the two must not mix.
pub async fn open(
    db: &Db,
    session: &Session,
    token: &str,
    ip: Option<IpAddr>,
) -> Result<String, AppError> {
    let link = find(db, Some(token), None)
        .await?
        .ok_or_else(unknown_link)?;
    check_active(&link)?;
    if let Some(user) = crate::identity::sessions::session_user(db, session).await? {
        return Err(AppError::conflict(
            "signed_in",
            format!(
                "You are signed in as {}. Sign out, or open this link in a private window: a setup link opens a session of its own.",
                user.email
            ),
        ));
    }
    crate::identity::sessions::renew_id(session).await?;
    session
        .insert(SESSION_KEY, &link.id)
        .await
        .map_err(crate::identity::sessions::session_error)?;
    let ends = link.expires_at.min(now() + SESSION_SECS);
    session.set_expiry(Some(tower_sessions::Expiry::AtDateTime(
        time::OffsetDateTime::from_unix_timestamp(ends).map_err(|_| AppError::internal())?,
    )));
    let caller = caller_of(&link);
    touch(db, &link, true).await?;
    record(
        db,
        Event {
            org_id: &link.org_id,
            actor: &Actor::SetupLink(caller),
            action: "setup_link.opened",
            target: Some(Target {
                kind: "setup_link",
                id: &link.id,
                label: &link.id,
            }),
            details: serde_json::json!({}),
            ip,
        },
    )
    .await?;
    tracing::info!(link_id = %link.id, org_id = %link.org_id, "setup link opened");
    let first = link.scopes.first().copied().unwrap_or(SetupScope::Sso);
    Ok(format!(
        "/o/{}/settings/security/{}",
        link.org_slug,
        first.page()
    ))
}

fn caller_of(link: &Found) -> SetupLinkCaller {
    SetupLinkCaller {
        link_id: link.id.clone(),
        org_id: link.org_id.clone(),
        scopes: link.scopes.clone(),
        created_by: link.created_by.clone(),
        creator_name: link.creator_name.clone(),
        expires_at: link.expires_at,
        token_role: link.token.clone().flatten(),
    }
}

/// Records the link's use, at most once a minute (`force`: now): most
/// requests of a link session write nothing.
async fn touch(db: &Db, link: &Found, force: bool) -> Result<(), AppError> {
    let at = now();
    if !force && !crate::ssr::last_use_due(link.last_used_at, at) {
        return Ok(());
    }
    sqlx::query("UPDATE setup_links SET last_used_at = $2 WHERE id = $1")
        .bind(&link.id)
        .bind(at)
        .execute(db)
        .await?;
    Ok(())
}

/// The setup link this session was opened through, if any (whether or not
/// it is still active).
pub async fn session_link_id(session: &Session) -> Result<Option<String>, AppError> {
    session
        .get::<String>(SESSION_KEY)
        .await
        .map_err(crate::identity::sessions::session_error)
}

/// Drops the setup link from this session (an account signs in instead).
pub async fn leave(session: &Session) -> Result<(), AppError> {
    session
        .remove::<String>(SESSION_KEY)
        .await
        .map(|_| ())
        .map_err(crate::identity::sessions::session_error)
}

/// The caller of a setup-link session: `None` when the session holds no
/// link, an error naming why when its link was revoked or has expired.
pub async fn session_caller(
    db: &Db,
    session: &Session,
) -> Result<Option<SetupLinkCaller>, AppError> {
    let id = session
        .get::<String>(SESSION_KEY)
        .await
        .map_err(crate::identity::sessions::session_error)?;
    let Some(id) = id else {
        return Ok(None);
    };
    let link = find(db, None, Some(&id)).await?.ok_or_else(|| {
        AppError::new(
            ErrorKind::Unauthorized,
            "setup_link_revoked",
            "This setup link no longer exists.",
        )
    })?;
    check_active(&link)?;
    touch(db, &link, false).await?;
    Ok(Some(caller_of(&link)))
}
