//! Pages without a feature home: the landing redirect, the console shell,
//! placeholders that later features fill, and the 404 page.

mod console;

pub use console::{ConsoleLayout, SecurityPage, SecurityTab};

use crate::orgs::home_target;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

/// `/`: sends the visitor to sign-in, to create an organization, or to their
/// first organization's console.
#[component]
pub fn HomePage() -> impl IntoView {
    let target = Resource::new(|| (), |_| home_target());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let path = target.await.unwrap_or_else(|_| "/login".into());
                view! { <Redirect path=path/> }
            })}
        </Suspense>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <main class="auth-page">
            <div class="auth-card">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <p><a href="/">"Go to your organizations"</a></p>
            </div>
        </main>
    }
}
