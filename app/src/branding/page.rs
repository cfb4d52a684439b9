//! Settings › Security › Login page branding, with a live preview, and the
//! branded card the login page itself shows.

use super::{Branding, RemoveLogo, SaveBranding, accent_style, get_branding};
use crate::error::AppError;
use crate::orgs::permissions::Permission;
use crate::orgs::{ConsoleContext, use_org_param};
use crate::ui::{FormError, SubmitButton};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Where an organization's logo is served.
pub fn logo_url(org_id: &str, version: i64) -> String {
    format!("/branding/{org_id}/logo?v={version}")
}

/// The head of the login card: logo and name, in the accent colour.
#[component]
pub fn LoginPreview(
    #[prop(into)] name: Signal<String>,
    #[prop(into)] accent: Signal<String>,
    logo: Option<String>,
    provider: String,
) -> impl IntoView {
    view! {
        <div class="login-preview" style=move || accent_style(&accent.get())>
            {logo.map(|src| view! { <img class="brand-logo" src=src alt=""/> })}
            <p class="brand">{move || name.get()}</p>
            <p class="preview-title">{move || format!("Sign in to {}", name.get())}</p>
            <span class="button primary wide" aria-hidden="true">{format!("Sign in with {provider}")}</span>
        </div>
    }
}

#[component]
pub fn BrandingSection() -> impl IntoView {
    let org = use_org_param();
    let context = use_context::<ConsoleContext>();
    let writer = context
        .as_ref()
        .is_some_and(|c| c.permissions.contains(&Permission::SsoWrite));
    let org_name = context.map(|c| c.org.name.clone()).unwrap_or_default();
    let save = ServerAction::<SaveBranding>::new();
    let remove = ServerAction::<RemoveLogo>::new();
    let branding = Resource::new(
        move || (org.get(), save.version().get() + remove.version().get()),
        |(org, _)| get_branding(org),
    );
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let query = use_query_map();
    let upload_failed = move || query.read().get("logo_error");
    view! {
        <section class="panel" id="branding" aria-labelledby="branding-heading">
            <h2 id="branding-heading">"Login page branding"</h2>
            <p class="muted">"How your SSO login page looks to your people."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let org_name = org_name.clone();
                    Suspend::new(async move {
                        match branding.await {
                            Ok(b) => view! {
                                <BrandingBody branding=b org=org.get_untracked() org_name writer save remove error/>
                            }.into_any(),
                            Err(e) => view! { <p class="form-error">{e.message}</p> }.into_any(),
                        }
                    })
                }}
            </Suspense>
            {move || upload_failed().map(|code| view! {
                <p class="form-error" role="alert">{super::logo_refusal(&code)}</p>
            })}
        </section>
    }
}

#[component]
fn BrandingBody(
    branding: Branding,
    org: String,
    org_name: String,
    writer: bool,
    save: ServerAction<SaveBranding>,
    remove: ServerAction<RemoveLogo>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let org_id = use_context::<ConsoleContext>()
        .map(|c| c.org.id.clone())
        .unwrap_or_default();
    let logo = branding.logo_version.map(|v| logo_url(&org_id, v));
    let name = branding.display_name.clone().unwrap_or_default();
    let accent = branding.accent_color.clone().unwrap_or_default();
    if !writer {
        let shown = if name.trim().is_empty() {
            org_name
        } else {
            name
        };
        return view! {
            <div class="branding">
                <div class="branding-form">
                    <dl class="facts">
                        <dt>"Display name"</dt><dd>{shown.clone()}</dd>
                        <dt>"Accent colour"</dt><dd class="mono">{branding.accent_color.clone().unwrap_or_else(|| "default".into())}</dd>
                    </dl>
                </div>
                <BrandingPreview name=shown accent logo/>
            </div>
        }
        .into_any();
    }
    let err = move |f: &'static str| error.get_untracked().and_then(|e| e.message_for(f));
    let has_logo = logo.is_some();
    let upload_action = format!("/branding/{org}/logo");
    let remove_org = org.clone();
    view! {
        <BrandingEditor name accent org_name logo name_error=err("display_name") accent_error=err("accent_color")>
            // The two text inputs live in the island (they drive the
            // preview) and join this form through their `form` attribute.
            <ActionForm action=save attr:id="branding-form">
                <input type="hidden" name="org" value=org.clone()/>
                <FormError error fields=&["display_name", "accent_color"]/>
                <SubmitButton label="Apply branding" pending_label="Applying…"/>
            </ActionForm>
            // A plain multipart form: uploads work without wasm.
            <form method="post" enctype="multipart/form-data" action=upload_action class="logo-upload">
                <div class="field">
                    <label for="brand-logo">"Logo"</label>
                    <input id="brand-logo" type="file" name="logo" accept="image/png,image/jpeg,image/webp,image/svg+xml"/>
                    <p class="field-hint">"PNG, JPEG, WebP or SVG, at most 256 KiB."</p>
                </div>
                <button type="submit" class="button">"Upload logo"</button>
            </form>
            {has_logo.then(|| view! {
                <ActionForm action=remove>
                    <input type="hidden" name="org" value=remove_org/>
                    <SubmitButton label="Remove logo" pending_label="Removing…" class="button small"/>
                </ActionForm>
            })}
        </BrandingEditor>
    }
    .into_any()
}

#[component]
fn BrandingPreview(name: String, accent: String, logo: Option<String>) -> impl IntoView {
    view! {
        <div class="branding-preview" aria-label="Preview of the login page">
            <p class="muted small">"Preview"</p>
            <LoginPreview name=name accent=accent logo provider="your provider".to_owned()/>
        </div>
    }
}

/// The name and colour inputs with the preview they update as one types:
/// the one part of the page that runs in the browser.
#[island]
fn BrandingEditor(
    name: String,
    accent: String,
    org_name: String,
    logo: Option<String>,
    name_error: Option<String>,
    accent_error: Option<String>,
    children: Children,
) -> impl IntoView {
    let typed_name = RwSignal::new(name);
    let typed_accent = RwSignal::new(accent);
    let shown_name = Signal::derive({
        let org_name = org_name.clone();
        move || {
            let n = typed_name.get();
            if n.trim().is_empty() {
                org_name.clone()
            } else {
                n
            }
        }
    });
    view! {
        <div class="branding">
            <div class="branding-form">
                <div class="field">
                    <label for="brand-name">"Display name"</label>
                    <input id="brand-name" type="text" name="display_name" maxlength="60" form="branding-form"
                        placeholder=org_name value=typed_name.get_untracked()
                        on:input=move |ev| typed_name.set(event_target_value(&ev))/>
                    <p class="field-hint">"Leave empty to show the organization's name."</p>
                    {name_error.map(|m| view! { <p class="field-error">{m}</p> })}
                </div>
                <div class="field">
                    <label for="brand-accent">"Accent colour"</label>
                    <input id="brand-accent" type="text" name="accent_color" placeholder="#4f46e5" form="branding-form"
                        pattern="#[0-9a-fA-F]{6}" value=typed_accent.get_untracked()
                        on:input=move |ev| typed_accent.set(event_target_value(&ev))/>
                    <p class="field-hint">"As #rrggbb; empty for Latchkey's."</p>
                    {accent_error.map(|m| view! { <p class="field-error">{m}</p> })}
                </div>
                {children()}
            </div>
            <div class="branding-preview" aria-label="Preview of the login page">
                <p class="muted small">"Preview"</p>
                <LoginPreview name=shown_name accent=typed_accent logo provider="your provider".to_owned()/>
            </div>
        </div>
    }
}
