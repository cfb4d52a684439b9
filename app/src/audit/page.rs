//! Settings › Audit log: filters (plain GET form), newest first, paging.

use super::{ACTIONS, AuditEvent, AuditFilter, list_audit_events};
use crate::orgs::use_org_param;
use crate::ui::{EmptyState, ErrorPanel, encode_query_value, format_time, parse_date};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

#[component]
pub fn AuditPage() -> impl IntoView {
    let org = use_org_param();
    let query = use_query_map();
    let param = move |k: &str| query.read().get(k).filter(|v| !v.is_empty());
    let filter = Memo::new(move |_| AuditFilter {
        action: param("action"),
        actor: param("actor"),
        since: param("since").and_then(|d| parse_date(&d)),
        // `until` is the last day shown, inclusive.
        until: param("until")
            .and_then(|d| parse_date(&d))
            .map(|t| t + 86_400),
        cursor: param("cursor"),
        limit: None,
    });
    let events = Resource::new(
        move || (org.get(), filter.get()),
        |(org, f)| list_audit_events(org, f.action, f.actor, f.since, f.until, f.cursor),
    );
    let selected_action = move || param("action").unwrap_or_default();
    view! {
        <Title text="Audit log"/>
        <header class="page-header">
            <h1>"Audit log"</h1>
            <p class="muted">"Every change to members, roles, tokens, domains and single sign-on, newest first."</p>
        </header>
        <Form method="GET" action="" attr:class="filters">
            <div class="field">
                <label for="filter-action">"Action"</label>
                <select id="filter-action" name="action">
                    <option value="">"All actions"</option>
                    {ACTIONS.iter().map(|a| {
                        let a = *a;
                        view! { <option value=a selected=move || selected_action() == a>{a}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-actor">"Actor"</label>
                <input id="filter-actor" name="actor" type="text" placeholder="email or token id" value=move || param("actor")/>
            </div>
            <div class="field">
                <label for="filter-since">"From"</label>
                <input id="filter-since" name="since" type="date" value=move || param("since")/>
            </div>
            <div class="field">
                <label for="filter-until">"To"</label>
                <input id="filter-until" name="until" type="date" value=move || param("until")/>
            </div>
            <button type="submit" class="button">"Filter"</button>
        </Form>
        <Suspense fallback=|| view! { <p class="loading">"Loading events…"</p> }>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(page) if page.events.is_empty() => view! {
                        <EmptyState title="No events">
                            <p>"Nothing matches these filters yet."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(page) => {
                        let next = page.next_cursor.map(|c| {
                            let mut q: Vec<String> = ["action", "actor", "since", "until"]
                                .iter()
                                .filter_map(|k| param(k).map(|v| format!("{k}={}", encode_query_value(&v))))
                                .collect();
                            q.push(format!("cursor={}", encode_query_value(&c)));
                            format!("?{}", q.join("&"))
                        });
                        view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Audit events">
                                <table class="table">
                                    <caption class="sr-only">"Audit events"</caption>
                                    <thead><tr>
                                        <th scope="col">"Time"</th>
                                        <th scope="col">"Actor"</th>
                                        <th scope="col">"Action"</th>
                                        <th scope="col">"Target"</th>
                                        <th scope="col">"Details"</th>
                                    </tr></thead>
                                    <tbody>
                                        {page.events.into_iter().map(|e| view! { <EventRow event=e/> }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            {next.map(|href| view! { <p class="pager"><A href=href>"Older events →"</A></p> })}
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorPanel title="Cannot show the audit log" message=e.message/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EventRow(event: AuditEvent) -> impl IntoView {
    let details = match &event.details {
        serde_json::Value::Object(m) if m.is_empty() => String::new(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    view! {
        <tr>
            <td class="nowrap">{format_time(event.created_at)}</td>
            <td>
                <div>{event.actor_label}</div>
                {event.ip.map(|ip| view! { <div class="muted small">{ip}</div> })}
            </td>
            <td><code>{event.action}</code></td>
            <td>{event.target_label.unwrap_or_default()}</td>
            <td class="mono small details">{details}</td>
        </tr>
    }
}
