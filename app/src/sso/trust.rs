//! Who decides which identity provider may sign people in. A change of
//! trust (provider or issuer, client ID, client secret, SAML metadata URL,
//! entity ID or certificates, the claim taken as the email) made while a
//! tested configuration serves is staged. Made by an owner or admin, it
//! takes effect when its test passes; made through a setup link, by a
//! narrower role, or by the daily metadata refresh, it also waits for an
//! owner's or admin's approval. An IdP put in place without one (a new
//! connection, or an untested one repointed) provisions nobody just in time
//! until an admin turns JIT on, so whoever set it up cannot mint members.

use crate::audit::ssr::{Event, Target, record};
use crate::error::{AppError, ErrorKind};
use crate::orgs::access::{Access, Actor};
use crate::orgs::permissions::{ADMIN, OWNER};
use crate::ssr::db::Db;
use crate::ssr::now;
use std::net::IpAddr;

/// Owners and admins (in person, or through their API tokens bounded by
/// their current role) decide which IdP is trusted; a setup link never.
pub fn may_approve(access: &Access) -> bool {
    matches!(access.actor, Actor::User(_) | Actor::Token(_))
        && (access.role == OWNER || access.role == ADMIN)
}

fn needs_admin(what: &str) -> AppError {
    AppError::new(
        ErrorKind::Forbidden,
        "approval_needs_admin",
        format!("Only an owner or admin of the organization can {what}."),
    )
}

/// Refuses `carry_over_accounts` from anyone but an owner or admin.
pub(super) fn check_carry_over(access: &Access, asked: Option<bool>) -> Result<(), AppError> {
    if asked == Some(true) && !may_approve(access) {
        return Err(
            needs_admin("carry existing accounts over to a new identity provider")
                .on("carry_over_accounts"),
        );
    }
    Ok(())
}

/// Every staged column cleared, as at the end of a change's life.
const CLEAR_PENDING: &str = "pending_saml_metadata_xml = NULL, pending_discovery_url = NULL, \
     pending_issuer = NULL, pending_client_id = NULL, pending_client_secret_enc = NULL, \
     pending_saved_at = NULL, pending_last_error = NULL, pending_needs_approval = 0, \
     pending_saved_by = NULL, pending_tested_at = NULL, pending_test_claims = NULL, \
     pending_claims = NULL, pending_carry_over = 0";

/// Voids a staged change (a save that applies directly replaces it).
pub(super) fn clear_pending_sql() -> String {
    format!("UPDATE sso_connections SET {CLEAR_PENDING} WHERE org_id = $1")
}

/// After a save staged a change (its own pending_ columns written): who
/// staged it, whether it waits for an approval, the claim names and the
/// carry-over choice that wait with it.
pub(super) async fn staged(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    access: &Access,
    claims: Option<&str>,
    carry_over: Option<bool>,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE sso_connections SET pending_needs_approval = $2, pending_saved_by = $3, \
         pending_tested_at = NULL, pending_test_claims = NULL, pending_claims = $4, \
         pending_carry_over = $5 WHERE org_id = $1",
    )
    .bind(&access.org_id)
    .bind(i64::from(!may_approve(access)))
    .bind(access.actor.audit_identity().2)
    .bind(claims)
    .bind(i64::from(carry_over.unwrap_or(false)))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// After a save put an IdP in effect directly (a new connection, or one
/// not tested yet): by an owner or admin it is approved; by anyone else
/// just-in-time provisioning goes off (audited) until an admin turns it on.
pub(super) async fn applied_directly(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    access: &Access,
    carry_over: Option<bool>,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let approved = may_approve(access);
    let before: Option<(i64,)> =
        sqlx::query_as("SELECT jit_enabled FROM sso_connections WHERE org_id = $1")
            .bind(&access.org_id)
            .fetch_optional(&mut **tx)
            .await?;
    sqlx::query(
        "UPDATE sso_connections SET trust_approved = $2, carry_over_accounts = $3, \
         jit_enabled = CASE WHEN $2 = 1 THEN jit_enabled ELSE 0 END WHERE org_id = $1",
    )
    .bind(&access.org_id)
    .bind(i64::from(approved))
    .bind(i64::from(approved && carry_over.unwrap_or(false)))
    .execute(&mut **tx)
    .await?;
    if !approved && before.is_some_and(|(jit,)| jit != 0) {
        record(
            &mut **tx,
            Event::by(
                access,
                "sso.jit_held",
                Target {
                    kind: "sso",
                    id: &access.org_id,
                    label: "provisioning",
                },
                serde_json::json!({
                    "reason": "the identity provider was set by someone who is not an owner or admin",
                }),
                ip,
            ),
        )
        .await?;
    }
    Ok(())
}

/// A save that leaves the IdP as it is may still turn carrying accounts
/// over on (an owner or admin: checked by [`check_carry_over`]) or off.
pub(super) async fn set_carry_over(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    access: &Access,
    carry_over: Option<bool>,
) -> Result<(), AppError> {
    if let Some(on) = carry_over {
        sqlx::query("UPDATE sso_connections SET carry_over_accounts = $2 WHERE org_id = $1")
            .bind(&access.org_id)
            .bind(i64::from(on))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Whether `access` may turn just-in-time provisioning on: always for an
/// owner or admin (which approves the IdP for it), otherwise only while
/// the IdP in effect is approved.
pub(super) async fn check_jit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    access: &Access,
    jit_enabled: bool,
) -> Result<(), AppError> {
    if !jit_enabled {
        return Ok(());
    }
    if may_approve(access) {
        sqlx::query("UPDATE sso_connections SET trust_approved = 1 WHERE org_id = $1")
            .bind(&access.org_id)
            .execute(&mut **tx)
            .await?;
        return Ok(());
    }
    let approved: Option<(i64,)> =
        sqlx::query_as("SELECT trust_approved FROM sso_connections WHERE org_id = $1")
            .bind(&access.org_id)
            .fetch_optional(&mut **tx)
            .await?;
    if approved.is_some_and(|(a,)| a == 0) {
        return Err(needs_admin(
            "turn just-in-time provisioning on for an identity provider that was set up through a setup link or by a role short of admin",
        )
        .on("jit_enabled"));
    }
    Ok(())
}

/// Puts the staged change into effect, in one statement so no sign-in
/// sees half of it: it becomes the configuration, its test the last test.
/// `carry_over` replaces the choice staged with it when given.
pub(super) async fn apply_staged(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    tested_at: i64,
    summary: Option<&str>,
    carry_over: Option<bool>,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "UPDATE sso_connections SET discovery_url = pending_discovery_url, issuer = pending_issuer, \
         client_id = pending_client_id, client_secret_enc = COALESCE(pending_client_secret_enc, client_secret_enc), \
         saml_metadata_xml = COALESCE(pending_saml_metadata_xml, saml_metadata_xml), \
         claims = COALESCE(pending_claims, claims), \
         carry_over_accounts = COALESCE($4, pending_carry_over), trust_approved = 1, \
         last_test_ok = 1, last_test_at = $2, last_test_error = NULL, last_test_claims = $3, \
         {CLEAR_PENDING} WHERE org_id = $1 AND pending_issuer IS NOT NULL"
    );
    Ok(sqlx::query(&sql)
        .bind(org_id)
        .bind(tested_at)
        .bind(summary)
        .bind(carry_over.map(i64::from))
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// A staged change that passed its test and waits for an admin.
pub(super) async fn tested_waiting(
    db: &Db,
    org_id: &str,
    summary: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sso_connections SET pending_tested_at = $2, pending_test_claims = $3, \
         pending_last_error = NULL WHERE org_id = $1 AND pending_issuer IS NOT NULL",
    )
    .bind(org_id)
    .bind(now())
    .bind(summary)
    .execute(db)
    .await?;
    Ok(())
}

/// An owner or admin approves the staged change that waits for them, once
/// a test of it has passed since it was saved; `carry_over` says whether
/// accounts made by the previous IdP move to the new one when their email
/// matches (an IdP migration). Audited with who decided.
pub async fn approve(
    db: &Db,
    access: &Access,
    carry_over: bool,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    use crate::orgs::permissions::Permission;
    access.require(Permission::SsoWrite)?;
    if !may_approve(access) {
        return Err(needs_admin("approve a change of identity provider"));
    }
    type Row = (
        Option<String>,
        i64,
        Option<i64>,
        Option<i64>,
        Option<String>,
        String,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT pending_issuer, pending_needs_approval, pending_saved_at, pending_tested_at, \
         pending_test_claims, issuer, pending_saved_by FROM sso_connections WHERE org_id = $1",
    )
    .bind(&access.org_id)
    .fetch_optional(db)
    .await?;
    let Some((Some(to), needs, Some(saved_at), tested_at, summary, from, saved_by)) = row else {
        return Err(AppError::not_found(
            "No change of identity provider is waiting for approval.",
        ));
    };
    if needs == 0 {
        return Err(AppError::conflict(
            "approval_not_needed",
            "This change was made by an owner or admin: it takes effect when its test passes.",
        ));
    }
    let Some(tested_at) = tested_at.filter(|t| *t >= saved_at) else {
        return Err(AppError::conflict(
            "change_not_tested",
            "Run Test connection on the waiting change first: only a change whose test passed can be approved.",
        ));
    };
    let mut tx = crate::ssr::db::begin_write(db).await?;
    apply_staged(
        &mut tx,
        &access.org_id,
        tested_at,
        summary.as_deref(),
        Some(carry_over),
    )
    .await?;
    record(
        &mut *tx,
        Event::by(
            access,
            "sso.change_approved",
            Target {
                kind: "sso",
                id: &access.org_id,
                label: "single sign-on",
            },
            serde_json::json!({
                "from": from, "to": to, "staged_by": saved_by,
                "carry_over_accounts": carry_over,
            }),
            ip,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
