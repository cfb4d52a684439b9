//! The live SSO set-up checklist, on the organization overview and at the
//! top of Settings › Security › Single sign-on: each step's real state
//! from the database, where to act, and why a step waits for another.

use crate::error::AppError;
use crate::ui::format_time;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checklist {
    pub domain_verified: bool,
    /// `oidc` or `saml` once a connection is saved.
    pub protocol: Option<String>,
    /// When a test of the configuration in effect passed.
    pub test_passed_at: Option<i64>,
    /// A saved change (new IdP) waits for its own test.
    pub change_waiting: bool,
    pub enabled: bool,
    pub require_sso: bool,
}

#[server(endpoint = "sso_checklist")]
pub async fn sso_checklist(org: String) -> Result<Checklist, AppError> {
    use crate::orgs::permissions::Permission;
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let access = ctx.access(&org).await?;
    access.require_in(super::SSO_SCOPES, Permission::SsoRead)?;
    ssr::checklist(&ctx.state.db, &access.org_id).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::Checklist;
    use crate::error::AppError;
    use crate::ssr::db::Db;

    pub async fn checklist(db: &Db, org_id: &str) -> Result<Checklist, AppError> {
        let domains = crate::domains::ssr::verified_count(db, org_id).await?;
        type Row = (String, Option<i64>, Option<i64>, i64, i64, Option<i64>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT protocol, last_test_ok, last_test_at, enabled, require_sso, pending_saved_at \
             FROM sso_connections WHERE org_id = $1",
        )
        .bind(org_id)
        .fetch_optional(db)
        .await?;
        let mut list = Checklist {
            domain_verified: domains > 0,
            ..Checklist::default()
        };
        if let Some((protocol, ok, at, enabled, require, pending)) = row {
            list.protocol = Some(protocol);
            list.test_passed_at = at.filter(|_| ok == Some(1));
            list.change_waiting = pending.is_some();
            list.enabled = enabled != 0;
            list.require_sso = require != 0;
        }
        Ok(list)
    }
}

/// One step as shown: done or not, what it says, where to act.
struct Step {
    done: bool,
    title: &'static str,
    detail: String,
    href: String,
    optional: bool,
}

fn steps(c: &Checklist, base: &str) -> Vec<Step> {
    let security = format!("{base}/settings/security");
    let protocol = match c.protocol.as_deref() {
        Some("saml") => "SAML 2.0",
        _ => "OpenID Connect",
    };
    let enable_blocker = if !c.domain_verified {
        "Enable needs a verified domain: only emails in verified domains can sign in."
    } else if c.protocol.is_none() {
        "Enable needs a saved connection."
    } else if c.test_passed_at.is_none() {
        "Enable needs a passed test of the current configuration."
    } else {
        "Ready: turn single sign-on on."
    };
    vec![
        Step {
            done: c.domain_verified,
            title: "A domain verified",
            detail: if c.domain_verified {
                "At least one email domain is verified.".into()
            } else {
                "Verify the email domain your people use, with a DNS TXT record.".into()
            },
            href: format!("{security}/domains"),
            optional: false,
        },
        Step {
            done: c.protocol.is_some(),
            title: "Connection saved",
            detail: match &c.protocol {
                Some(_) => format!("The {protocol} connection is saved."),
                None => "Connect your identity provider (OpenID Connect or SAML 2.0).".into(),
            },
            href: format!("{security}/sso"),
            optional: false,
        },
        Step {
            done: c.test_passed_at.is_some(),
            title: "Test passed",
            detail: match (c.test_passed_at, c.change_waiting, &c.protocol) {
                (_, true, _) => {
                    "A saved change waits for its test; sign-ins use the last tested settings."
                        .into()
                }
                (Some(at), false, _) => format!("Passed {}.", format_time(at)),
                (None, false, Some(_)) => {
                    "Run Test connection: a real sign-in at your provider, nobody signed in here."
                        .into()
                }
                (None, false, None) => "Waits for a saved connection.".into(),
            },
            href: format!("{security}/sso#sso-test"),
            optional: false,
        },
        Step {
            done: c.enabled,
            title: "SSO enabled",
            detail: if c.enabled {
                "People sign in through your provider.".into()
            } else {
                enable_blocker.into()
            },
            href: format!("{security}/sso"),
            optional: false,
        },
        Step {
            done: c.require_sso,
            title: "Require SSO (optional)",
            detail: if c.require_sso {
                "Members in verified domains must use SSO; owners keep break-glass password sign-in."
                    .into()
            } else {
                "Optional: make members in verified domains sign in through SSO only.".into()
            },
            href: format!("{security}/sso"),
            optional: true,
        },
    ]
}

/// The checklist of `org` (slug), linking into `base` (`/o/{slug}`).
/// Hidden from viewers who may not read the SSO settings.
#[component]
pub fn SetupChecklist(org: String, base: String) -> impl IntoView {
    let list = Resource::new(move || org.clone(), sso_checklist);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let base = base.clone();
                Suspend::new(async move {
                    list.await.ok().map(|c| {
                        let all = steps(&c, &base);
                        let done = all.iter().filter(|s| s.done && !s.optional).count();
                        let first_open = all.iter().position(|s| !s.done && !s.optional);
                        view! {
                            <section class="panel checklist-panel" aria-labelledby="checklist-heading">
                                <h2 id="checklist-heading">"Single sign-on set-up"</h2>
                                <p class="muted small" data-checklist-progress>{format!("{done} of 4 steps done")}</p>
                                <ol class="checklist">
                                    {all.into_iter().enumerate().map(|(i, s)| {
                                        let state = if s.done { "done" } else if Some(i) == first_open { "next" } else { "todo" };
                                        view! {
                                            <li data-step=i + 1 data-state=state>
                                                <span class="check" aria-hidden="true">{if s.done { "✓" } else { "○" }}</span>
                                                <span class="sr-only">{if s.done { "Done: " } else { "Not done: " }}</span>
                                                <a href=s.href>{s.title}</a>
                                                <span class="muted small">" — " {s.detail}</span>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                            </section>
                        }
                    })
                })
            }}
        </Suspense>
    }
}
