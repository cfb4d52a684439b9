//! Settings › Security › Setup links, and the page a setup link opens.

use super::{
    CreateSetupLink, OpenSetupLink, RevokeSetupLink, SetupLink, SetupLinkView, SetupScope,
    list_setup_links, new_setup_link, setup_link_info,
};
use crate::auth::SignOutForm;
use crate::orgs::use_org_param;
use crate::ui::{
    Confirm, CopyField, EmptyState, ErrorPanel, Field, FormError, SubmitButton, format_time,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

fn scope_list(scopes: &[SetupScope]) -> String {
    scopes
        .iter()
        .map(|s| s.label())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creating, listing and revoking the organization's setup links.
#[component]
pub fn SetupLinksSection() -> impl IntoView {
    let org = use_org_param();
    let create = ServerAction::<CreateSetupLink>::new();
    let revoke = ServerAction::<RevokeSetupLink>::new();
    let links = Resource::new(
        move || (org.get(), create.version().get() + revoke.version().get()),
        |(org, _)| list_setup_links(org),
    );
    // The link just created, with its URL, shown once.
    let created = Resource::new(move || org.get(), new_setup_link);
    let create_error = Signal::derive(move || create.value().get().and_then(Result::err));
    let field_error = move |f: &'static str| {
        Signal::derive(move || create_error.get().and_then(|e| e.message_for(f)))
    };
    view! {
        <section class="panel" id="setup-links">
            <h2>"Invite your IT team with a setup link"</h2>
            <p class="muted">
                "A setup link lets someone without an account here (your identity provider's admin) verify domains and set up single sign-on for this organization. It opens only the pages you choose, never members, tokens or another organization, and everything done with it is in the audit log."
            </p>
            <ActionForm action=create>
                <input type="hidden" name="org" value=move || org.get()/>
                <fieldset class="checkboxes">
                    <legend>"The link may set up"</legend>
                    {SetupScope::ALL.into_iter().map(|s| {
                        let id = format!("scope-{}", s.as_str());
                        let for_id = id.clone();
                        view! {
                            <label class="checkbox" for=for_id>
                                <input type="checkbox" id=id name=s.as_str() value="on" checked=s != SetupScope::Provisioning/>
                                " " {s.label()}
                            </label>
                        }
                    }).collect_view()}
                    {move || field_error("scopes").get().map(|m| view! {
                        <p class="field-error" id="field-scopes-error" role="alert">{m}</p>
                    })}
                </fieldset>
                <Field label="Expires in (days)" name="expires_in_days" input_type="number"
                    value="7" hint="1 to 30 days." error=field_error("expires_in_days")/>
                <Field label="Note (optional)" name="note" hint="Who it is for, e.g. “Okta admin at Acme”."
                    error=field_error("note")/>
                <SubmitButton label="Create setup link" pending_label="Creating…"/>
            </ActionForm>
            <FormError error=create_error fields=&["scopes", "expires_in_days", "note"]/>
            <Suspense>
                {move || Suspend::new(async move {
                    created.await.ok().flatten().and_then(|l| l.url.map(|url| view! {
                        <div class="notice" role="status">
                            <p>{format!("Send this link to the person setting up SSO. It is not shown again, and it works until {}.", format_time(l.expires_at))}</p>
                            <CopyField label="Setup link" value=url id="new-setup-link"/>
                        </div>
                    }))
                })}
            </Suspense>
        </section>
        <FormError error=Signal::derive(move || revoke.value().get().and_then(Result::err))/>
        <Suspense fallback=|| view! { <p class="loading">"Loading setup links…"</p> }>
            {move || Suspend::new(async move {
                match links.await {
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No setup links yet"><p>"Create one above to let your IT team set up SSO without an account."</p></EmptyState>
                    }.into_any(),
                    Ok(list) => view! { <LinkTable list revoke org=org.get_untracked()/> }.into_any(),
                    Err(e) => view! { <ErrorPanel title="Cannot list setup links" message=e.message/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn LinkTable(
    list: Vec<SetupLink>,
    revoke: ServerAction<RevokeSetupLink>,
    org: String,
) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Setup links">
            <table class="table">
                <caption class="sr-only">"Setup links"</caption>
                <thead><tr>
                    <th scope="col">"Note"</th><th scope="col">"Sets up"</th>
                    <th scope="col">"Created by"</th><th scope="col">"Expires"</th>
                    <th scope="col">"Last used"</th><th scope="col">"State"</th>
                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|l| {
                        let active = l.state == "active";
                        let label = if l.note.is_empty() { l.id.clone() } else { l.note.clone() };
                        let (row_id, link_id, org) = (l.id.clone(), l.id.clone(), org.clone());
                        view! {
                            <tr data-link-id=row_id>
                                <td>{label.clone()}</td>
                                <td>{scope_list(&l.scopes)}</td>
                                <td>{l.created_by.clone()} <span class="muted small">{format!(" {}", format_time(l.created_at))}</span></td>
                                <td class="nowrap">{format_time(l.expires_at)}</td>
                                <td class="nowrap">{l.last_used_at.map(format_time).unwrap_or_else(|| "never".into())}</td>
                                <td><span class="badge">{l.state.clone()}</span></td>
                                <td>
                                    {active.then(|| view! {
                                        <Confirm label="Revoke…" question=format!("Revoke “{label}”? Whoever holds it loses access at once.")>
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="org" value=org.clone()/>
                                                <input type="hidden" name="id" value=link_id.clone()/>
                                                <button type="submit" class="button small danger">"Yes, revoke"</button>
                                            </ActionForm>
                                        </Confirm>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// `/setup/{token}`: what the link is for, and a button that opens it (a
/// form post, so scanners fetching the link start nothing). No script.
#[component]
pub fn SetupLinkPage() -> impl IntoView {
    let params = use_params_map();
    let token = Memo::new(move |_| params.read().get("token").unwrap_or_default());
    let info = Resource::new(move || token.get(), setup_link_info);
    view! {
        <Title text="Set up single sign-on"/>
        <main class="auth-page">
            <div class="auth-card">
                <span class="brand"><span class="brand-mark" aria-hidden="true">"◆"</span>" Latchkey"</span>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match info.await {
                            Ok(view) => {
                                // A link that ended is gone for good (410), not a page.
                                #[cfg(feature = "ssr")]
                                if view.state != "active"
                                    && let Some(res) = use_context::<leptos_axum::ResponseOptions>()
                                {
                                    res.set_status(http::StatusCode::GONE);
                                }
                                view! { <SetupLinkBody view token=token.get_untracked()/> }.into_any()
                            }
                            Err(e) => {
                                #[cfg(feature = "ssr")]
                                if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                                    res.set_status(e.kind.status());
                                }
                                view! { <ErrorPanel title="Setup link not found" message=e.message/> }.into_any()
                            }
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

#[component]
fn SetupLinkBody(view: SetupLinkView, token: String) -> impl IntoView {
    let open = ServerAction::<OpenSetupLink>::new();
    let open_error = Signal::derive(move || open.value().get().and_then(Result::err));
    let heading = view! {
        <h1>{format!("Set up single sign-on for {}", view.org_name)}</h1>
        <p>{format!("{} invited you to set up: {}.", view.created_by, scope_list(&view.scopes))}</p>
    };
    let body = match (view.state.as_str(), view.signed_in_as.clone()) {
        ("active", Some(me)) => view! {
            <p class="form-error" role="alert">{format!("You are signed in as {me}. Sign out, or open this link in a private window: a setup link opens a session of its own.")}</p>
            <SignOutForm/>
        }.into_any(),
        ("active", None) => view! {
            <p class="muted">{format!("No account needed. The link works until {}; what you do with it is recorded in {}'s audit log.", format_time(view.expires_at), view.org_name)}</p>
            <ActionForm action=open>
                <input type="hidden" name="token" value=token.clone()/>
                <FormError error=open_error/>
                <SubmitButton label="Start setting up" pending_label="Opening…"/>
            </ActionForm>
        }.into_any(),
        ("expired", _) => view! {
            <p class="form-error" role="alert">{format!("This setup link has expired. Ask {} for a new one.", view.created_by)}</p>
        }.into_any(),
        _ => view! {
            <p class="form-error" role="alert">{format!("This setup link was revoked. Ask {} for a new one.", view.created_by)}</p>
        }.into_any(),
    };
    view! { {heading} {body} }
}
