//! `/sso/{login_id}`: the organization's sign-in page. A plain GET form to
//! `/sso/{login_id}/start`, so it works before and without wasm.

use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// What the public login page shows; nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginPageInfo {
    pub login_id: String,
    pub org_name: String,
    pub provider_label: String,
    pub enabled: bool,
    pub branding: crate::branding::Branding,
    pub org_id: String,
}

/// Public: anyone holding the login URL may see the organization's name.
#[server(endpoint = "sso_login_page")]
pub async fn sso_login_page(login_id: String) -> Result<LoginPageInfo, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let conn = super::connection::connection_by_login_id(&ctx.state.db, &login_id)
        .await?
        .ok_or_else(|| AppError::not_found("There is no sign-in page at this address."))?;
    let branding = crate::branding::ssr::get(&ctx.state.db, &conn.org_id).await?;
    Ok(LoginPageInfo {
        branding,
        org_id: conn.org_id,
        login_id: conn.login_id,
        org_name: conn.org_name,
        provider_label: conn.provider_label,
        enabled: conn.enabled,
    })
}

#[component]
pub fn SsoLoginPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let login_id = move || params.read().get("login_id").unwrap_or_default();
    let info = Resource::new(login_id, sso_login_page);
    let return_to = move || query.read().get("return_to").unwrap_or_default();
    view! {
        <main class="auth-page">
            <div class="auth-card">
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match info.await {
                            Ok(page) => {
                                let action = format!("/sso/{}/start", page.login_id);
                                let name = page
                                    .branding
                                    .display_name
                                    .clone()
                                    .unwrap_or_else(|| page.org_name.clone());
                                let title = format!("Sign in to {name}");
                                let logo = page
                                    .branding
                                    .logo_version
                                    .map(|v| crate::branding::logo_url(&page.org_id, v));
                                view! {
                                    <Title text=title.clone()/>
                                    <div class="branded" style=page.branding.style()>
                                    {logo.map(|src| view! { <img class="brand-logo" src=src alt=""/> })}
                                    <p class="brand">{name}</p>
                                    <h1>{title}</h1>
                                    {if page.enabled {
                                        view! {
                                            <form method="get" action=action class="stack">
                                                <input type="hidden" name="return_to" value=return_to/>
                                                <button type="submit" class="button primary wide">
                                                    {format!("Sign in with {}", page.provider_label)}
                                                </button>
                                            </form>
                                        }
                                            .into_any()
                                    } else {
                                        view! {
                                            <p class="notice">
                                                "Single sign-on is not enabled for this organization yet. Ask its admin."
                                            </p>
                                        }
                                            .into_any()
                                    }}
                                    <p class="muted">
                                        <a href="/login">"Sign in with a password instead"</a>
                                    </p>
                                    </div>
                                }
                                    .into_any()
                            }
                            Err(e) => {
                                #[cfg(feature = "ssr")]
                                if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                                    res.set_status(e.kind.status());
                                }
                                view! {
                                    <Title text="Sign-in page not found"/>
                                    <h1>"Sign-in page not found"</h1>
                                    <p class="form-error" role="alert">{e.message}</p>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}
