//! Who an SSO sign-in lets in, and as what: the identity (`iss`, `sub`),
//! the account, the membership (invitation, just-in-time, or refusal) and
//! the role the mapping rules give. Profile and role are synced at every
//! sign-in and each change is audited with old and new values.

use super::connection::Connection;
use super::link::ssr::{PendingLink, TTL_SECS as LINK_TTL_SECS};
use super::mapping;
use super::outcome::{Finished, Refusal, claim_str, display_name, trusted_email};
use crate::audit::ssr::{self as audit, Event, Target};
use crate::identity::{CurrentUser, SessionAuth};
use crate::orgs::access::Actor;
use crate::ssr::db::{Db, is_unique_violation};
use crate::ssr::state::AppState;
use crate::ssr::{now, random};
use serde_json::{Map, Value, json};
use std::net::IpAddr;

/// Attempts at a first sign-in that loses a race with its twin.
const ATTEMPTS: u64 = 5;

/// What the callback verified, for provisioning.
pub struct Verified<'a> {
    pub issuer: &'a str,
    pub claims: &'a Map<String, Value>,
    /// The OIDC ID token, kept for RP-initiated logout; none for SAML.
    pub id_token: Option<String>,
    pub return_to: Option<String>,
}

/// The role the rules give these claims, and the rule (0-based) that
/// matched, if any.
pub fn mapped_role(conn: &Connection, claims: &Map<String, Value>) -> (String, Option<usize>) {
    match mapping::evaluate(&conn.role_mappings, claims) {
        Some(i) => (conn.role_mappings[i].role.clone(), Some(i)),
        None => (conn.default_role.clone(), None),
    }
}

enum Step {
    Refused(Refusal),
    /// An account with a password has this email: nothing is linked until
    /// its owner confirms with the password.
    Link(PendingLink),
    /// A concurrent sign-in of the same identity wrote first (a unique
    /// constraint fired, or SQLite's snapshot went stale): try again.
    Retry,
}

impl From<Refusal> for Step {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl From<sqlx::Error> for Step {
    fn from(e: sqlx::Error) -> Self {
        if is_unique_violation(&e) || is_busy(&e) {
            Self::Retry
        } else {
            Self::Refused(e.into())
        }
    }
}

impl From<crate::error::AppError> for Step {
    fn from(e: crate::error::AppError) -> Self {
        Self::Refused(e.into())
    }
}

/// SQLite refuses a write from a transaction whose snapshot another writer
/// has moved past (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT); PostgreSQL reports
/// serialization failures and deadlocks. All mean "run it again".
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            Some("5" | "517" | "261" | "40001" | "40P01")
        ),
        _ => false,
    }
}

/// Finds or provisions the member for verified claims and returns the
/// session to open.
pub async fn sign_in(
    state: &AppState,
    conn: &Connection,
    verified: Verified<'_>,
    ip: Option<IpAddr>,
) -> Result<Finished, Refusal> {
    let subject = claim_str(verified.claims, "sub")
        .ok_or_else(|| Refusal::IdToken("it names no subject".into()))?
        .to_owned();
    for attempt in 1..=ATTEMPTS {
        match attempt_sign_in(&state.db, conn, &verified, &subject, ip).await {
            Ok(user_id) => {
                let landing = verified
                    .return_to
                    .clone()
                    .unwrap_or_else(|| format!("/o/{}", conn.org_slug));
                return Ok(Finished::SignedIn {
                    auth: SessionAuth {
                        user_id,
                        org_id: Some(conn.org_id.clone()),
                        method: "sso".into(),
                        created_at: now(),
                        idp_sid: claim_str(verified.claims, "sid").map(str::to_owned),
                        idp_sub: Some(subject),
                        idp_id_token: verified.id_token,
                        mfa: false,
                    },
                    lifetime_secs: conn.session_secs,
                    landing,
                });
            }
            Err(Step::Refused(r)) => return Err(r),
            Err(Step::Link(link)) => {
                audit_link_required(&state.db, conn, &link, ip).await;
                return Ok(Finished::LinkRequired(link));
            }
            Err(Step::Retry) if attempt < ATTEMPTS => {
                tracing::debug!(attempt, "sso sign-in raced another; retrying");
                // Jittered, growing pauses, so two racers do not collide in
                // lockstep again (SQLite refuses a stale snapshot at once).
                let pause = 10 * attempt + rand::random::<u64>() % 40;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            Err(Step::Retry) => break,
        }
    }
    tracing::error!("sso sign-in kept conflicting with concurrent writes");
    Err(Refusal::Internal)
}

/// Profile fields kept beside the identity (the name lives on the user).
fn profile_of(conn: &Connection, claims: &Map<String, Value>) -> Value {
    let names = &conn.claims;
    json!({
        "given_name": claim_str(claims, &names.given_name),
        "family_name": claim_str(claims, &names.family_name),
        "username": claim_str(claims, &names.username),
    })
}

async fn attempt_sign_in(
    db: &Db,
    conn: &Connection,
    v: &Verified<'_>,
    subject: &str,
    ip: Option<IpAddr>,
) -> Result<String, Step> {
    let claims = v.claims;
    let now = now();
    let profile = profile_of(conn, claims);
    let mut tx = crate::ssr::db::begin_write(db).await?;
    // Every sign-in, not only the first, needs the email in one of this
    // organization's verified domains: a removed or transferred domain
    // stops its sign-ins. (Read in the transaction: its own round trip to
    // the pool would cost a second one.)
    let trusted = trusted_email(&mut *tx, conn, claims).await?;
    // Each statement is a round trip to the database's worker, so a
    // returning person's rows are read by the updates that record the
    // sign-in (`RETURNING`); a refusal below rolls them back.
    let known: Option<(String, Option<String>)> = sqlx::query_as(
        "UPDATE sso_identities SET last_login_at = $4 WHERE org_id = $1 AND issuer = $2 AND subject = $3 \
         RETURNING user_id, profile",
    )
    .bind(&conn.org_id)
    .bind(v.issuer)
    .bind(subject)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let (user_id, email, old_profile) = match known {
        Some((user_id, old)) => {
            let old: Value = old
                .and_then(|p| serde_json::from_str(&p).ok())
                .unwrap_or(Value::Null);
            (user_id, Some(trusted), Some(old))
        }
        None => {
            let email = trusted;
            type Existing = (
                String,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<i64>,
            );
            let existing: Option<Existing> = sqlx::query_as(
                "SELECT id, password_hash, sso_origin_org, sso_origin_issuer, email_verified_at \
                 FROM users WHERE email = $1",
            )
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await?;
            let user_id = match existing {
                // Never linked by email alone: whoever set that password
                // must be the one signing in (pre-account takeover).
                Some((id, Some(_), _, _, proven)) => {
                    return Err(Step::Link(PendingLink {
                        user_id: id,
                        email,
                        org_id: conn.org_id.clone(),
                        org_name: conn.org_name.clone(),
                        login_id: conn.login_id.clone(),
                        issuer: v.issuer.to_owned(),
                        subject: subject.to_owned(),
                        return_to: v.return_to.clone(),
                        expires_at: now + LINK_TTL_SECS,
                        releasable: proven.is_none(),
                    }));
                }
                // Made by SSO (no password): it belongs to the IdP that
                // made it. The same IdP (its identity lost to a disconnect,
                // or a new subject) takes it back; another only where an
                // owner or admin chose to carry accounts over.
                Some((id, None, origin_org, origin_issuer, _)) => {
                    let same_idp = origin_org.as_deref() == Some(conn.org_id.as_str())
                        && origin_issuer.as_deref() == Some(v.issuer);
                    if !same_idp {
                        carry_over(&mut tx, conn, &id, origin_org.as_deref(), v.issuer).await?;
                        let details = json!({
                            "from_issuer": origin_issuer, "to_issuer": v.issuer,
                        });
                        let target = Target {
                            kind: "user",
                            id: &id,
                            label: &email,
                        };
                        audit::record(
                            &mut *tx,
                            event(
                                conn,
                                &Actor::System,
                                "sso.account_carried_over",
                                target,
                                details,
                                ip,
                            ),
                        )
                        .await?;
                    }
                    id
                }
                None => {
                    let id = random::id("usr");
                    sqlx::query(
                        "INSERT INTO users (id, email, name, password_hash, is_operator, created_at, email_verified_at, \
                         sso_origin_org, sso_origin_issuer) \
                         VALUES ($1, $2, $3, NULL, 0, $4, $4, $5, $6)",
                    )
                    .bind(&id)
                    .bind(&email)
                    .bind(display_name(conn, claims, &email))
                    .bind(now)
                    .bind(&conn.org_id)
                    .bind(v.issuer)
                    .execute(&mut *tx)
                    .await?;
                    id
                }
            };
            sqlx::query(
                "INSERT INTO sso_identities (issuer, subject, user_id, org_id, email, created_at, profile, last_login_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $6)",
            )
            .bind(v.issuer)
            .bind(subject)
            .bind(&user_id)
            .bind(&conn.org_id)
            .bind(&email)
            .bind(now)
            .bind(profile.to_string())
            .execute(&mut *tx)
            .await?;
            (user_id, Some(email), None)
        }
    };
    let (user_email, old_name, is_operator, email_verified_at): (String, String, i64, Option<i64>) =
        sqlx::query_as(
            "UPDATE users SET last_login_at = $2 WHERE id = $1 \
             RETURNING email, name, is_operator, email_verified_at",
        )
        .bind(&user_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    let new_name = email.as_deref().map(|e| display_name(conn, claims, e));
    let actor = Actor::User(CurrentUser {
        id: user_id.clone(),
        email: user_email.clone(),
        name: new_name.clone().unwrap_or_else(|| old_name.clone()),
        is_operator: is_operator != 0,
        email_verified: email_verified_at.is_some(),
        mfa: false,
        sso_org: Some(conn.org_id.clone()),
    });
    let target = Target {
        kind: "user",
        id: &user_id,
        label: &user_email,
    };
    let (mapped, rule) = mapped_role(conn, claims);
    let membership: Option<(String, String)> = sqlx::query_as(
        "UPDATE memberships SET last_login_at = $3 WHERE org_id = $1 AND user_id = $2 \
             RETURNING status, role",
    )
    .bind(&conn.org_id)
    .bind(&user_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let joined = match membership {
        Some((status, _)) if status != "active" => return Err(Refusal::Deactivated.into()),
        Some((_, role)) => {
            // Rules decide the role of every SSO member but owners; without
            // rules, a role set by hand in the console stays.
            if !conn.role_mappings.is_empty() && role != mapped && role != "owner" {
                sqlx::query("UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2")
                    .bind(&conn.org_id)
                    .bind(&user_id)
                    .bind(&mapped)
                    .execute(&mut *tx)
                    .await?;
                let details = json!({
                    "from": role, "to": mapped, "reason": "sso_role_mapping",
                    "rule": rule.map(|i| conn.role_mappings[i].describe()),
                });
                audit::record(
                    &mut *tx,
                    event(conn, &actor, "member.role_synced", target, details, ip),
                )
                .await?;
            }
            false
        }
        None => {
            let invited: Option<(String, String)> = match &email {
                Some(e) => {
                    sqlx::query_as(
                        "SELECT id, role FROM invitations WHERE org_id = $1 AND email = $2 \
                         AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3 \
                         ORDER BY created_at DESC LIMIT 1",
                    )
                    .bind(&conn.org_id)
                    .bind(e)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?
                }
                None => None,
            };
            let role = match &invited {
                Some((id, invited_role)) => {
                    sqlx::query(
                        "UPDATE invitations SET accepted_at = $2, accepted_by = $3 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(&user_id)
                    .execute(&mut *tx)
                    .await?;
                    if conn.role_mappings.is_empty() {
                        invited_role.clone()
                    } else {
                        mapped.clone()
                    }
                }
                None if conn.jit_enabled => mapped.clone(),
                None => return Err(Refusal::NotProvisioned(conn.org_name.clone()).into()),
            };
            sqlx::query(
                "INSERT INTO memberships (org_id, user_id, role, status, source, created_at, last_login_at) \
                 VALUES ($1, $2, $3, 'active', 'sso', $4, $4)",
            )
            .bind(&conn.org_id)
            .bind(&user_id)
            .bind(&role)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            true
        }
    };
    if let Some(name) = new_name.filter(|n| *n != old_name) {
        sqlx::query("UPDATE users SET name = $2 WHERE id = $1")
            .bind(&user_id)
            .bind(&name)
            .execute(&mut *tx)
            .await?;
        if !joined {
            let details = json!({ "field": "name", "from": old_name, "to": name });
            audit::record(
                &mut *tx,
                event(conn, &actor, "user.profile_synced", target, details, ip),
            )
            .await?;
        }
    }
    if let Some(old) = old_profile.filter(|old| *old != profile) {
        sqlx::query(
            "UPDATE sso_identities SET profile = $3 WHERE org_id = $4 AND issuer = $1 AND subject = $2",
        )
        .bind(v.issuer)
        .bind(subject)
        .bind(profile.to_string())
        .bind(&conn.org_id)
            .execute(&mut *tx)
            .await?;
        let details = json!({ "field": "profile", "from": old, "to": profile });
        audit::record(
            &mut *tx,
            event(conn, &actor, "user.profile_synced", target, details, ip),
        )
        .await?;
    }
    let details = json!({
        "issuer": v.issuer, "subject": subject, "joined": joined,
        "rule": rule.map(|i| conn.role_mappings[i].describe()),
    });
    audit::record(
        &mut *tx,
        event(conn, &actor, "sso.login", target, details, ip),
    )
    .await?;
    tx.commit().await?;
    Ok(user_id)
}

/// An account another IdP made is taken over by this one only where an
/// owner or admin chose an IdP migration for this organization, and only
/// an account this organization's IdP made (one made before the origin
/// was recorded counts when it is a member here). It then belongs to this
/// IdP.
async fn carry_over(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    conn: &Connection,
    user_id: &str,
    origin_org: Option<&str>,
    issuer: &str,
) -> Result<(), Step> {
    let ours = match origin_org {
        Some(org) => org == conn.org_id,
        None => {
            let member: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM memberships WHERE org_id = $1 AND user_id = $2")
                    .bind(&conn.org_id)
                    .bind(user_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            member.is_some()
        }
    };
    if !(conn.carry_over_accounts && ours) {
        return Err(Refusal::AccountOfAnotherIdp(conn.org_name.clone()).into());
    }
    sqlx::query("UPDATE users SET sso_origin_org = $2, sso_origin_issuer = $3 WHERE id = $1")
        .bind(user_id)
        .bind(&conn.org_id)
        .bind(issuer)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn event<'a>(
    conn: &'a Connection,
    actor: &'a Actor,
    action: &'a str,
    target: Target<'a>,
    details: Value,
    ip: Option<IpAddr>,
) -> Event<'a> {
    Event {
        org_id: &conn.org_id,
        actor,
        action,
        target: Some(target),
        details,
        ip,
    }
}

/// A link waiting for the account's password is on the record, so an admin
/// can see a pre-created account meet its SSO identity.
async fn audit_link_required(db: &Db, conn: &Connection, link: &PendingLink, ip: Option<IpAddr>) {
    let recorded = audit::record(
        db,
        Event {
            org_id: &conn.org_id,
            actor: &Actor::System,
            action: "sso.link_required",
            target: Some(Target {
                kind: "user",
                id: &link.user_id,
                label: &link.email,
            }),
            details: json!({ "issuer": link.issuer, "subject": link.subject }),
            ip,
        },
    )
    .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e.message, "could not audit a pending account link");
    }
}
