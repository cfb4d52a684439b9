//! Latchkey's web application: pages, components and server functions,
//! shared by the server (feature `ssr`) and the browser (feature `hydrate`).

#![recursion_limit = "256"]

pub mod audit;
pub mod auth;
pub mod branding;
pub mod domains;
#[cfg(feature = "ssr")]
pub mod email;
pub mod error;
pub mod identity;
pub mod mfa;
pub mod orgs;
pub mod pages;
pub mod return_to;
pub mod sso;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: tests and styles
    // can tell a hydrated page from a server-rendered one.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(el) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = el.set_attribute("data-hydrated", "true");
        }
    });
    // Pages wait for their data before the first byte is sent (SsrMode::Async),
    // so they are complete without JavaScript and redirects stay real 302s.
    let ssr = SsrMode::Async;
    view! {
        <Stylesheet id="leptos" href="/pkg/latchkey.css"/>
        <Title formatter=|text: String| format!("{text} · Latchkey")/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/") view=pages::HomePage ssr=ssr.clone()/>
                <Route path=path!("/login") view=auth::SignInPage ssr=ssr.clone()/>
                <Route path=path!("/login/mfa") view=mfa::MfaSignInPage ssr=ssr.clone()/>
                <Route path=path!("/login/sso-link") view=sso::SsoLinkPage ssr=ssr.clone()/>
                <Route path=path!("/account/security") view=mfa::AccountSecurityPage ssr=ssr.clone()/>
                <Route path=path!("/signup") view=auth::SignUpPage ssr=ssr.clone()/>
                <Route path=path!("/verify-email/:token") view=auth::VerifyEmailPage ssr=ssr.clone()/>
                <Route path=path!("/orgs/new") view=orgs::NewOrgPage ssr=ssr.clone()/>
                <Route path=path!("/invite/:token") view=orgs::InvitationPage ssr=ssr.clone()/>
                <Route path=path!("/sso/:login_id") view=sso::SsoLoginPage ssr=ssr.clone()/>
                <Route path=path!("/operator") view=domains::OperatorPage ssr=ssr.clone()/>
                <ParentRoute path=path!("/o/:org") view=pages::ConsoleLayout ssr=ssr.clone()>
                    <Route path=path!("") view=orgs::OverviewPage ssr=ssr.clone()/>
                    <Route path=path!("members") view=orgs::MembersPage ssr=ssr.clone()/>
                    <Route path=path!("settings/security") view=pages::SecurityPage ssr=ssr.clone()/>
                    <Route path=path!("settings/roles") view=orgs::RolesPage ssr=ssr.clone()/>
                    <Route path=path!("settings/tokens") view=orgs::TokensPage ssr=ssr.clone()/>
                    <Route path=path!("audit") view=audit::AuditPage ssr=ssr.clone()/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
