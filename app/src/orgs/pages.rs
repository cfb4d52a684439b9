//! Organization pages: create one, its overview, its members.

use super::{CreateOrg, load_console, my_orgs};
use crate::ui::{CopyField, ErrorPanel, Field, FormError, SubmitButton, format_time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::use_params_map;

/// The `:org` segment of the current console URL.
pub fn use_org_param() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("org").unwrap_or_default())
}

#[component]
pub fn NewOrgPage() -> impl IntoView {
    let action = ServerAction::<CreateOrg>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let orgs = Resource::new(|| (), |_| my_orgs());
    view! {
        <Title text="New organization"/>
        <main class="auth-page">
            <div class="auth-card">
                <a href="/" class="brand">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    " Latchkey"
                </a>
                <h1>"Create an organization"</h1>
                <p class="muted">
                    "An organization holds your team's members, verified domains and single sign-on settings. You will be its owner."
                </p>
                <Suspense>
                    {move || Suspend::new(async move {
                        match orgs.await {
                            Err(e) if e.kind == crate::error::ErrorKind::Unauthorized => {
                                view! { <Redirect path="/login?return_to=/orgs/new"/> }.into_any()
                            }
                            Ok(list) if !list.is_empty() => view! {
                                <p class="muted">
                                    "Or go back to "
                                    {list.into_iter().map(|o| view! {
                                        <A href=format!("/o/{}", o.slug)>{o.name}</A>
                                    }).collect_view()}
                                </p>
                            }.into_any(),
                            _ => ().into_any(),
                        }
                    })}
                </Suspense>
                <ActionForm action>
                    <Field
                        label="Organization name"
                        name="name"
                        autocomplete="organization"
                        required=true
                        error=Signal::derive(move || error.get().and_then(|e| e.message_for("name")))
                    />
                    <FormError error fields=&["name"]/>
                    <SubmitButton
                        label="Create organization"
                        pending_label="Creating…"
                    />
                </ActionForm>
            </div>
        </main>
    }
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let org = use_org_param();
    let ctx = Resource::new(move || org.get(), load_console);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match ctx.await {
                    Ok(ctx) => {
                        let base = format!("/o/{}", ctx.org.slug);
                        view! {
                            <Title text=format!("{} · Overview", ctx.org.name)/>
                            <header class="page-header">
                                <h1>{ctx.org.name.clone()}</h1>
                                <p class="muted">"Your role: " <span class="badge">{ctx.org.role.clone()}</span></p>
                            </header>
                            <section class="panel">
                                <h2>"Organization"</h2>
                                <CopyField label="Organization ID" value=ctx.org.id.clone() id="org-id"/>
                                <dl class="facts">
                                    <dt>"Slug"</dt>
                                    <dd class="mono">{ctx.org.slug.clone()}</dd>
                                    <dt>"Created"</dt>
                                    <dd>{format_time(ctx.org.created_at)}</dd>
                                    // A setup link sees no members, not even their number.
                                    {ctx.setup_link.is_none().then(|| view! {
                                        <dt>"Members"</dt>
                                        <dd>
                                            <A href=format!("{base}/members")>
                                                {ctx.member_count}
                                                {if ctx.member_count == 1 { " member" } else { " members" }}
                                            </A>
                                        </dd>
                                    })}
                                </dl>
                            </section>
                            <crate::sso::SetupChecklist org=ctx.org.slug.clone() base=base.clone()/>
                        }
                        .into_any()
                    }
                    Err(e) => view! { <ErrorPanel title="Cannot show this organization" message=e.message/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
