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
#[cfg(feature = "ssr")]
pub mod saml;
pub mod setup_links;
pub mod sso;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The HTML document around the app, rendered on the server. Console pages
/// load the islands' wasm; sign-in pages get no script at all: they are
/// plain HTML forms.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let scripts = !on_sign_in_page();
    if !scripts {
        // Nothing will hydrate: leave no serialized resource data either.
        if let Some(sc) = Owner::current_shared_context() {
            sc.set_is_hydrating(false);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                {scripts.then(|| view! {
                    <AutoReload options=options.clone()/>
                    <HydrationScripts options islands=true/>
                })}
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The pages everyone in every organization passes through to sign in:
/// they work as plain forms, so they load nothing but HTML and CSS.
pub fn is_sign_in_path(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/login/mfa" | "/login/sso-link" | "/login/switch" | "/signup"
    ) || ["/verify-email/", "/invite/", "/sso/", "/setup/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

#[cfg(feature = "ssr")]
fn on_sign_in_page() -> bool {
    use_context::<http::request::Parts>().is_some_and(|req| is_sign_in_path(req.uri.path()))
}

#[cfg(not(feature = "ssr"))]
fn on_sign_in_page() -> bool {
    false
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Pages wait for their data before the first byte is sent (SsrMode::Async),
    // so they are complete without JavaScript and redirects stay real 302s.
    let ssr = SsrMode::Async;
    view! {
        <Title formatter=|text: String| format!("{text} · Latchkey")/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/") view=pages::HomePage ssr=ssr.clone()/>
                <Route path=path!("/login") view=auth::SignInPage ssr=ssr.clone()/>
                <Route path=path!("/login/mfa") view=mfa::MfaSignInPage ssr=ssr.clone()/>
                <Route path=path!("/login/sso-link") view=auth::SsoLinkPage ssr=ssr.clone()/>
                <Route path=path!("/login/switch") view=auth::SwitchPage ssr=ssr.clone()/>
                <Route path=path!("/account/security") view=mfa::AccountSecurityPage ssr=ssr.clone()/>
                <Route path=path!("/signup") view=auth::SignUpPage ssr=ssr.clone()/>
                <Route path=path!("/verify-email/:token") view=auth::VerifyEmailPage ssr=ssr.clone()/>
                <Route path=path!("/orgs/new") view=orgs::NewOrgPage ssr=ssr.clone()/>
                <Route path=path!("/invite/:token") view=orgs::InvitationPage ssr=ssr.clone()/>
                <Route path=path!("/sso/:login_id") view=sso::SsoLoginPage ssr=ssr.clone()/>
                <Route path=path!("/setup/:token") view=setup_links::SetupLinkPage ssr=ssr.clone()/>
                <Route path=path!("/operator") view=domains::OperatorPage ssr=ssr.clone()/>
                <ParentRoute path=path!("/o/:org") view=pages::ConsoleLayout ssr=ssr.clone()>
                    <Route path=path!("") view=orgs::OverviewPage ssr=ssr.clone()/>
                    <Route path=path!("members") view=orgs::MembersPage ssr=ssr.clone()/>
                    <Route path=path!("settings/security") view=|| view! { <pages::SecurityPage tab=pages::SecurityTab::Sso/> } ssr=ssr.clone()/>
                    <Route path=path!("settings/security/domains") view=|| view! { <pages::SecurityPage tab=pages::SecurityTab::Domains/> } ssr=ssr.clone()/>
                    <Route path=path!("settings/security/sso") view=|| view! { <pages::SecurityPage tab=pages::SecurityTab::Sso/> } ssr=ssr.clone()/>
                    <Route path=path!("settings/security/provisioning") view=|| view! { <pages::SecurityPage tab=pages::SecurityTab::Provisioning/> } ssr=ssr.clone()/>
                    <Route path=path!("settings/security/two-factor") view=|| view! { <pages::SecurityPage tab=pages::SecurityTab::TwoFactor/> } ssr=ssr.clone()/>
                    <Route path=path!("settings/security/login-page") view=|| view! { <pages::SecurityPage tab=pages::SecurityTab::LoginPage/> } ssr=ssr.clone()/>
                    <Route path=path!("settings/security/setup-links") view=|| view! { <pages::SecurityPage tab=pages::SecurityTab::SetupLinks/> } ssr=ssr.clone()/>
                    <Route path=path!("settings/roles") view=orgs::RolesPage ssr=ssr.clone()/>
                    <Route path=path!("settings/tokens") view=orgs::TokensPage ssr=ssr.clone()/>
                    <Route path=path!("audit") view=audit::AuditPage ssr=ssr.clone()/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
