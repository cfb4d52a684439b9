//! Domain verification rules and queries.

use super::dns::{TxtAnswer, lookup_txt};
use super::name::{challenge_name, challenge_value, normalize_domain};
use super::{Domain, PendingDomain};
use crate::audit::ssr::{Event, Target, record};
use crate::email::domain_of;
use crate::error::AppError;
use crate::identity::CurrentUser;
use crate::orgs::access::{Access, Actor};
use crate::orgs::permissions::Permission;
use crate::setup_links::SetupScope;
use crate::ssr::db::{Db, is_unique_violation};
use crate::ssr::request::RequestCtx;
use crate::ssr::state::Settings;
use crate::ssr::{now, random};
use std::net::IpAddr;

const COLUMNS: &str = "id, domain, status, token, method, created_at, expires_at, verified_at, last_checked_at, last_error";
type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn to_domain(
    (
        id,
        domain,
        status,
        token,
        method,
        created_at,
        expires_at,
        verified_at,
        last_checked_at,
        last_error,
    ): Row,
) -> Domain {
    Domain {
        id,
        txt_record_name: challenge_name(&domain),
        txt_record_value: challenge_value(&token),
        domain,
        status,
        method,
        created_at,
        expires_at,
        verified_at,
        last_checked_at,
        last_error,
    }
}

pub async fn list(db: &Db, org_id: &str) -> Result<Vec<Domain>, AppError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM domains WHERE org_id = $1 ORDER BY domain"
    ))
    .bind(org_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(to_domain).collect())
}

/// One domain of the organization, by name (normalized) or id.
pub async fn get(db: &Db, org_id: &str, domain_ref: &str) -> Result<Domain, AppError> {
    let name = normalize_domain(domain_ref).unwrap_or_else(|_| domain_ref.trim().to_owned());
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM domains WHERE org_id = $1 AND (domain = $2 OR id = $3)"
    ))
    .bind(org_id)
    .bind(&name)
    .bind(domain_ref)
    .fetch_optional(db)
    .await?;
    row.map(to_domain).ok_or_else(|| {
        AppError::not_found(format!("{name} is not one of this organization's domains."))
    })
}

fn taken() -> AppError {
    AppError::conflict(
        "domain_taken",
        "Another organization has already verified this domain. Contact support if you believe it is yours.",
    )
    .on("domain")
}

async fn verified_elsewhere(db: &Db, org_id: &str, domain: &str) -> Result<bool, AppError> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM domains WHERE domain = $1 AND status = 'verified' AND org_id <> $2",
    )
    .bind(domain)
    .bind(org_id)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

fn audit_target(d: &Domain) -> Target<'_> {
    Target {
        kind: "domain",
        id: &d.id,
        label: &d.domain,
    }
}

pub async fn add(
    db: &Db,
    access: &Access,
    settings: &Settings,
    input: &str,
    ip: Option<IpAddr>,
) -> Result<Domain, AppError> {
    access.require_in(&[SetupScope::Domains], Permission::DomainsWrite)?;
    let domain = normalize_domain(input)?;
    if verified_elsewhere(db, &access.org_id, &domain).await? {
        return Err(taken());
    }
    let id = random::id("dom");
    let created_at = now();
    let mut tx = crate::ssr::db::begin_write(db).await?;
    let inserted = sqlx::query(
        "INSERT INTO domains (id, org_id, domain, status, token, created_at, expires_at) \
         VALUES ($1, $2, $3, 'pending', $4, $5, $6)",
    )
    .bind(&id)
    .bind(&access.org_id)
    .bind(&domain)
    .bind(random::alnum(32))
    .bind(created_at)
    .bind(created_at + settings.domain_pending_secs)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "domain_exists",
                format!("{domain} is already listed for this organization."),
            )
            .on("domain"));
        }
        Err(e) => return Err(e.into()),
    }
    let added = sqlx::query_as::<_, Row>(&format!("SELECT {COLUMNS} FROM domains WHERE id = $1"))
        .bind(&id)
        .fetch_one(&mut *tx)
        .await
        .map(to_domain)?;
    record(
        &mut *tx,
        Event::by(
            access,
            "domain.added",
            audit_target(&added),
            serde_json::json!({}),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(added)
}

/// The readable outcome of one DNS check.
fn explain(answer: &TxtAnswer, name: &str, expected: &str) -> Result<(), String> {
    match answer {
        TxtAnswer::Records(values) if values.iter().any(|v| v.trim() == expected) => Ok(()),
        TxtAnswer::Records(values)
            if values
                .iter()
                .any(|v| v.trim().starts_with("latchkey-verification=")) =>
        {
            Err(format!(
                "Found a TXT record at {name}, but its token differs from this domain's. Publish {expected}."
            ))
        }
        TxtAnswer::Records(_) => Err(format!(
            "Found TXT records at {name}, but none is the Latchkey record. Publish {expected}."
        )),
        TxtAnswer::NoRecords => Err(format!(
            "No TXT record found at {name}. DNS changes can take a few minutes to appear."
        )),
        TxtAnswer::TimedOut => {
            Err("The DNS server did not answer in time. Try again in a moment.".into())
        }
        TxtAnswer::Failed(why) => Err(format!("The DNS lookup for {name} failed: {why}")),
    }
}

/// Checks the TXT record now. A failed check is not an error: the domain
/// comes back pending with `last_error` saying why.
pub async fn verify_now(
    db: &Db,
    access: &Access,
    settings: &Settings,
    domain_ref: &str,
    ip: Option<IpAddr>,
) -> Result<Domain, AppError> {
    access.require_in(&[SetupScope::Domains], Permission::DomainsWrite)?;
    let domain = get(db, &access.org_id, domain_ref).await?;
    match domain.status.as_str() {
        "verified" => return Ok(domain),
        "expired" => {
            return Err(AppError::conflict(
                "domain_expired",
                format!(
                    "The check for {} expired. Restart it to get a new record to publish.",
                    domain.domain
                ),
            ));
        }
        _ => {}
    }
    check(db, &access.org_id, &access.actor, settings, domain, ip).await
}

/// One DNS check of a pending domain, recorded on the row; verifies it on
/// success. Shared by "Verify now" and the background job.
async fn check(
    db: &Db,
    org_id: &str,
    actor: &Actor,
    settings: &Settings,
    domain: Domain,
    ip: Option<IpAddr>,
) -> Result<Domain, AppError> {
    let answer = lookup_txt(&settings.dns, &domain.txt_record_name).await;
    let checked_at = now();
    match explain(&answer, &domain.txt_record_name, &domain.txt_record_value) {
        Err(why) => {
            sqlx::query("UPDATE domains SET last_checked_at = $2, last_error = $3 WHERE id = $1 AND status = 'pending'")
                .bind(&domain.id)
                .bind(checked_at)
                .bind(&why)
                .execute(db)
                .await?;
        }
        Ok(()) => {
            if verified_elsewhere(db, org_id, &domain.domain).await? {
                sqlx::query(
                    "UPDATE domains SET last_checked_at = $2, last_error = $3 WHERE id = $1",
                )
                .bind(&domain.id)
                .bind(checked_at)
                .bind("Another organization has already verified this domain.")
                .execute(db)
                .await?;
                return Err(taken());
            }
            mark_verified(db, org_id, actor, &domain, "dns", ip).await?;
        }
    }
    get(db, org_id, &domain.id).await
}

async fn mark_verified(
    db: &Db,
    org_id: &str,
    actor: &Actor,
    domain: &Domain,
    method: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let at = now();
    let mut tx = crate::ssr::db::begin_write(db).await?;
    let done = sqlx::query(
        "UPDATE domains SET status = 'verified', method = $2, verified_at = $3, last_checked_at = $3, last_error = NULL \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(&domain.id)
    .bind(method)
    .bind(at)
    .execute(&mut *tx)
    .await;
    match done {
        Ok(r) if r.rows_affected() == 0 => return Ok(()),
        Ok(_) => {}
        // The unique index on verified domains: another org won a race.
        Err(e) if is_unique_violation(&e) => return Err(taken()),
        Err(e) => return Err(e.into()),
    }
    record(
        &mut *tx,
        Event {
            org_id,
            actor,
            action: "domain.verified",
            target: Some(audit_target(domain)),
            details: serde_json::json!({ "method": method }),
            ip,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A new token and a new deadline for an expired domain.
pub async fn restart(
    db: &Db,
    access: &Access,
    settings: &Settings,
    domain_ref: &str,
    ip: Option<IpAddr>,
) -> Result<Domain, AppError> {
    access.require_in(&[SetupScope::Domains], Permission::DomainsWrite)?;
    let domain = get(db, &access.org_id, domain_ref).await?;
    if domain.status != "expired" {
        return Err(AppError::conflict(
            "not_expired",
            format!("{} is {}, not expired.", domain.domain, domain.status),
        ));
    }
    let at = now();
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query(
        "UPDATE domains SET status = 'pending', token = $2, created_at = $3, expires_at = $4, \
         last_checked_at = NULL, last_error = NULL, method = NULL WHERE id = $1",
    )
    .bind(&domain.id)
    .bind(random::alnum(32))
    .bind(at)
    .bind(at + settings.domain_pending_secs)
    .execute(&mut *tx)
    .await?;
    record(
        &mut *tx,
        Event::by(
            access,
            "domain.restarted",
            audit_target(&domain),
            serde_json::json!({}),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    get(db, &access.org_id, &domain.id).await
}

pub async fn remove(
    db: &Db,
    access: &Access,
    domain_ref: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    access.require_in(&[SetupScope::Domains], Permission::DomainsWrite)?;
    let domain = get(db, &access.org_id, domain_ref).await?;
    if domain.status == "verified"
        && verified_count(db, &access.org_id).await? == 1
        && crate::sso::ssr::is_enabled(db, &access.org_id).await?
    {
        return Err(AppError::conflict(
            "last_verified_domain",
            format!(
                "{} is the last verified domain and single sign-on is enabled: without it nobody could sign in through SSO. Disable single sign-on first, or verify another domain.",
                domain.domain
            ),
        ));
    }
    let mut tx = crate::ssr::db::begin_write(db).await?;
    sqlx::query("DELETE FROM domains WHERE id = $1")
        .bind(&domain.id)
        .execute(&mut *tx)
        .await?;
    record(
        &mut *tx,
        Event::by(
            access,
            "domain.removed",
            audit_target(&domain),
            serde_json::json!({ "status": domain.status }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How many domains `org_id` has verified.
pub async fn verified_count(db: &Db, org_id: &str) -> Result<i64, AppError> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM domains WHERE org_id = $1 AND status = 'verified'")
            .bind(org_id)
            .fetch_one(db)
            .await?;
    Ok(n)
}

/// The gate for SSO: is `email`'s domain verified by `org_id`? Exactly that
/// domain: a verified `example.com` does not cover `eu.example.com`.
pub async fn org_owns_email_domain<'e, E>(
    db: E,
    org_id: &str,
    email: &str,
) -> Result<bool, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let Ok(email) = crate::email::normalize_email(email) else {
        return Ok(false);
    };
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM domains WHERE org_id = $1 AND domain = $2 AND status = 'verified'",
    )
    .bind(org_id)
    .bind(domain_of(&email))
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

// ---- platform operators ---------------------------------------------------

pub async fn require_operator(ctx: &RequestCtx) -> Result<CurrentUser, AppError> {
    let user = ctx.require_user().await?;
    if user.is_operator {
        Ok(user)
    } else {
        Err(AppError::forbidden("Only platform operators can do this."))
    }
}

/// Pending domains with their organization: all of them, or the one `id`.
async fn pending(db: &Db, id: Option<&str>) -> Result<Vec<PendingDomain>, AppError> {
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("d.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    type R = (
        String,
        String,
        String,
        String,
        Option<String>,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        Option<String>,
        String,
        String,
    );
    let filter = if id.is_some() { "AND d.id = $1" } else { "" };
    let sql = format!(
        "SELECT {columns}, o.id, o.name FROM domains d JOIN organizations o ON o.id = d.org_id \
         WHERE d.status = 'pending' {filter} ORDER BY d.created_at"
    );
    let mut query = sqlx::query_as::<_, R>(&sql);
    if let Some(id) = id {
        query = query.bind(id);
    }
    let rows = query.fetch_all(db).await?;
    Ok(rows
        .into_iter()
        .map(
            |(a, b, c, d, e, f, g, h, i, j, org_id, org_name)| PendingDomain {
                domain: to_domain((a, b, c, d, e, f, g, h, i, j)),
                org_id,
                org_name,
            },
        )
        .collect())
}

pub async fn pending_everywhere(db: &Db) -> Result<Vec<PendingDomain>, AppError> {
    pending(db, None).await
}

async fn pending_by_id(db: &Db, id: &str) -> Result<(String, Domain), AppError> {
    pending(db, Some(id))
        .await?
        .into_iter()
        .next()
        .map(|p| (p.org_id, p.domain))
        .ok_or_else(|| AppError::not_found("There is no pending domain with this id."))
}

/// "Validated by our team": verified by hand, method `manual`.
pub async fn approve(
    db: &Db,
    operator: &CurrentUser,
    id: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let (org_id, domain) = pending_by_id(db, id).await?;
    if verified_elsewhere(db, &org_id, &domain.domain).await? {
        return Err(taken());
    }
    mark_verified(
        db,
        &org_id,
        &Actor::User(operator.clone()),
        &domain,
        "manual",
        ip,
    )
    .await
}

pub async fn reject(
    db: &Db,
    operator: &CurrentUser,
    id: &str,
    reason: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(AppError::unprocessable(
            "invalid_reason",
            "Give the organization a reason (up to 300 characters).",
        )
        .on("reason"));
    }
    let (org_id, domain) = pending_by_id(db, id).await?;
    let mut tx = crate::ssr::db::begin_write(db).await?;
    // A rejected check ends like an expired one: the organization may restart it.
    sqlx::query("UPDATE domains SET status = 'expired', last_error = $2, last_checked_at = $3 WHERE id = $1")
        .bind(&domain.id)
        .bind(format!("Rejected by a platform operator: {reason}"))
        .bind(now())
        .execute(&mut *tx)
        .await?;
    record(
        &mut *tx,
        Event {
            org_id: &org_id,
            actor: &Actor::User(operator.clone()),
            action: "domain.rejected",
            target: Some(audit_target(&domain)),
            details: serde_json::json!({ "reason": reason }),
            ip,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---- background job -------------------------------------------------------

/// Expires overdue pending domains and re-checks the others. Returns
/// `(expired, verified)` counts.
pub async fn recheck_pending(db: &Db, settings: &Settings) -> Result<(usize, usize), AppError> {
    let at = now();
    let system = Actor::System;
    let overdue: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, org_id, domain FROM domains WHERE status = 'pending' AND expires_at <= $1",
    )
    .bind(at)
    .fetch_all(db)
    .await?;
    for (id, org_id, domain) in &overdue {
        let mut tx = crate::ssr::db::begin_write(db).await?;
        sqlx::query("UPDATE domains SET status = 'expired' WHERE id = $1 AND status = 'pending'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut *tx,
            Event {
                org_id,
                actor: &system,
                action: "domain.expired",
                target: Some(Target {
                    kind: "domain",
                    id,
                    label: domain,
                }),
                details: serde_json::json!({}),
                ip: None,
            },
        )
        .await?;
        tx.commit().await?;
    }
    let pending: Vec<(String, String)> = sqlx::query_as(
        "SELECT org_id, id FROM domains WHERE status = 'pending' AND expires_at > $1",
    )
    .bind(at)
    .fetch_all(db)
    .await?;
    let mut verified = 0;
    for (org_id, id) in pending {
        let domain = get(db, &org_id, &id).await?;
        if let Ok(d) = check(db, &org_id, &system, settings, domain, None).await
            && d.status == "verified"
        {
            verified += 1;
        }
    }
    Ok((overdue.len(), verified))
}
