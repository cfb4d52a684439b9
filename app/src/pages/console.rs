//! The console shell: organization switcher, navigation, signed-in user,
//! and the pages later features fill in.

use crate::auth::SignOutForm;
use crate::error::ErrorKind;
use crate::orgs::permissions::Permission;
use crate::orgs::use_org_param;
use crate::orgs::{ConsoleContext, OrgSummary, load_console};
use crate::ui::{ErrorPanel, encode_query_value};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Outlet, Redirect};
use leptos_router::hooks::use_location;

#[component]
pub fn ConsoleLayout() -> impl IntoView {
    let org = use_org_param();
    let ctx = Resource::new(move || org.get(), load_console);
    let location = use_location();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match ctx.await {
                    Ok(ctx) => view! { <Shell ctx/> }.into_any(),
                    // A revoked or expired setup link: say so, not "sign in".
                    Err(e) if e.code.starts_with("setup_link_") => view! {
                        <main class="auth-page">
                            <div class="panel error-panel" role="alert" data-code=e.code.clone()>
                                <h2>"This setup link no longer works"</h2>
                                <p>{e.message}</p>
                            </div>
                        </main>
                    }.into_any(),
                    Err(e) if e.kind == ErrorKind::Unauthorized => {
                        let here = location.pathname.get_untracked();
                        let path = format!("/login?return_to={}", encode_query_value(&here));
                        view! { <Redirect path/> }.into_any()
                    }
                    Err(e) if e.code == "mfa_required" => view! {
                        <main class="auth-page">
                            <div class="panel error-panel" role="alert" data-code="mfa_required">
                                <h2>"Two-factor authentication required"</h2>
                                <p>{e.message}</p>
                                <p><a class="button primary" href="/account/security">"Set up two-factor authentication"</a></p>
                                <p><a href="/">"Back to your organizations"</a></p>
                            </div>
                        </main>
                    }.into_any(),
                    // Another organization's SSO (or a password) does not
                    // count here: say so, and offer a fresh sign-in.
                    Err(e) if e.code == "sso_required" => view! {
                        <main class="auth-page">
                            <div class="panel error-panel" role="alert" data-code="sso_required">
                                <h2>"Single sign-on required"</h2>
                                <p>{e.message}</p>
                                <SignOutForm/>
                                <p><a href="/">"Back to your organizations"</a></p>
                            </div>
                        </main>
                    }.into_any(),
                    Err(e) => view! {
                        <main class="auth-page">
                            <ErrorPanel title="Cannot open this organization" message=e.message/>
                        </main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Shell(ctx: ConsoleContext) -> impl IntoView {
    if let Some(link) = ctx.setup_link.clone() {
        return view! { <SetupLinkShell ctx link/> }.into_any();
    }
    let Some(user) = ctx.user.clone() else {
        return view! { <Redirect path="/login"/> }.into_any();
    };
    let base = format!("/o/{}", ctx.org.slug);
    let can_tokens = ctx.permissions.contains(&Permission::TokensWrite);
    let can_audit = ctx.permissions.contains(&Permission::AuditRead);
    let topbar = view! {
        <a href="/" class="brand">
            <span class="brand-mark" aria-hidden="true">"◆"</span>
            " Latchkey"
        </a>
        <OrgSwitcher current=ctx.org.clone() orgs=ctx.orgs.clone()/>
        {user.is_operator.then(|| view! { <a href="/operator" class="small">"Operator"</a> })}
        <div class="topbar-user">
            <a class="user-email" href="/account/security" title=format!("{}: account security", user.email)>{user.name.clone()}</a>
            <SignOutForm idp=ctx.idp_logout.clone()/>
        </div>
    };
    let nav = view! {
        <A href=base.clone() exact=true>"Overview"</A>
        <A href=format!("{base}/members")>"Members"</A>
        <span class="nav-group">"Settings"</span>
        <A href=format!("{base}/settings/security") attr:class="nav-sub">"Security"</A>
        <A href=format!("{base}/settings/roles") attr:class="nav-sub">"Roles"</A>
        {can_tokens.then(|| view! {
            <A href=format!("{base}/settings/tokens") attr:class="nav-sub">"API tokens"</A>
        })}
        {can_audit.then(|| view! { <A href=format!("{base}/audit")>"Audit log"</A> })}
    };
    frame(ctx, topbar.into_any(), None, nav.into_any())
}

/// The console around every page: top bar, an optional banner, the side
/// navigation and the page. Pages under it read the viewer's permissions
/// from the context provided here.
fn frame(ctx: ConsoleContext, topbar: AnyView, banner: Option<AnyView>, nav: AnyView) -> AnyView {
    provide_context(ctx);
    view! {
        <div class="console">
            <a class="skip-link" href="#content">"Skip to content"</a>
            <header class="topbar">{topbar}</header>
            {banner}
            <div class="console-body">
                <nav class="sidenav" aria-label="Console">{nav}</nav>
                <main id="content" class="content">
                    <Outlet/>
                </main>
            </div>
        </div>
    }
    .into_any()
}

/// The shell of a setup-link session: said so at the top, and only the
/// pages the link covers in the navigation.
#[component]
fn SetupLinkShell(ctx: ConsoleContext, link: crate::setup_links::SetupBanner) -> impl IntoView {
    let base = format!("/o/{}/settings/security", ctx.org.slug);
    let org_name = ctx.org.name.clone();
    let topbar = view! {
        <span class="brand">
            <span class="brand-mark" aria-hidden="true">"◆"</span>
            " Latchkey"
        </span>
        <span class="org-name">{org_name.clone()}</span>
        <div class="topbar-user">
            <SignOutForm/>
        </div>
    };
    let banner = view! {
        <p class="setup-banner" role="note" data-testid="setup-banner">
            {format!("Setting up SSO for {org_name} through a setup link from {}.", link.created_by)}
            <span class="muted small">{format!(" The link works until {}.", crate::ui::format_time(link.expires_at))}</span>
        </p>
    };
    let nav = view! {
        <span class="nav-group">"Set up"</span>
        {link.scopes.into_iter().map(|s| view! {
            <A href=format!("{base}/{}", s.page()) attr:class="nav-sub">{s.label()}</A>
        }).collect_view()}
    };
    frame(
        ctx,
        topbar.into_any(),
        Some(banner.into_any()),
        nav.into_any(),
    )
}

/// A disclosure listing the user's organizations as plain links: keyboard
/// accessible and working without JavaScript.
#[component]
fn OrgSwitcher(current: OrgSummary, orgs: Vec<OrgSummary>) -> impl IntoView {
    view! {
        <details class="org-switcher">
            // The accessible name holds the visible one (WCAG 2.5.3).
            <summary>
                <span class="sr-only">"Switch organization: "</span>
                <span class="org-name">{current.name.clone()}</span>
                <span class="muted small" aria-hidden="true">" ▾"</span>
            </summary>
            <ul role="list">
                {orgs
                    .into_iter()
                    .map(|o| {
                        let is_current = o.id == current.id;
                        view! {
                            <li>
                                <a
                                    href=format!("/o/{}", o.slug)
                                    aria-current=is_current.then_some("true")
                                >
                                    {o.name}
                                    <span class="muted small">" · " {o.role}</span>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
                <li class="switcher-new">
                    <a href="/orgs/new">"+ New organization"</a>
                </li>
            </ul>
        </details>
    }
}

/// The pages of Settings › Security, one concern each, with their own URLs
/// under `settings/security/` (the bare path shows Single sign-on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityTab {
    Domains,
    Sso,
    Provisioning,
    TwoFactor,
    LoginPage,
    SetupLinks,
}

impl SecurityTab {
    const ALL: [Self; 6] = [
        Self::Domains,
        Self::Sso,
        Self::Provisioning,
        Self::TwoFactor,
        Self::LoginPage,
        Self::SetupLinks,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Self::Domains => "domains",
            Self::Sso => "sso",
            Self::Provisioning => "provisioning",
            Self::TwoFactor => "two-factor",
            Self::LoginPage => "login-page",
            Self::SetupLinks => "setup-links",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Domains => "Domains",
            Self::Sso => "Single sign-on",
            Self::Provisioning => "Provisioning",
            Self::TwoFactor => "Two-factor",
            Self::LoginPage => "Login page",
            Self::SetupLinks => "Setup links",
        }
    }

    /// Whether the viewer gets this tab: a setup link only its scopes'
    /// pages; setup links are managed by those who may write SSO settings.
    fn shown_to(self, ctx: Option<&ConsoleContext>) -> bool {
        use crate::setup_links::SetupScope;
        let link = ctx.and_then(|c| c.setup_link.as_ref());
        let scope = match self {
            Self::Domains => Some(SetupScope::Domains),
            Self::Sso => Some(SetupScope::Sso),
            Self::Provisioning => Some(SetupScope::Provisioning),
            Self::TwoFactor | Self::LoginPage | Self::SetupLinks => None,
        };
        match (link, scope) {
            (Some(link), Some(scope)) => link.scopes.contains(&scope),
            (Some(_), None) => false,
            (None, _) if self == Self::SetupLinks => {
                ctx.is_some_and(|c| c.permissions.contains(&Permission::SsoWrite))
            }
            (None, _) => true,
        }
    }
}

#[component]
pub fn SecurityPage(tab: SecurityTab) -> impl IntoView {
    let console = use_context::<ConsoleContext>();
    // A setup link sees only the pages it may change: no notice there.
    let read_only = console
        .as_ref()
        .is_some_and(|c| c.setup_link.is_none() && !c.permissions.contains(&Permission::SsoWrite));
    let slug = use_context::<ConsoleContext>()
        .map(|c| c.org.slug)
        .unwrap_or_default();
    let base = format!("/o/{slug}/settings/security");
    view! {
        <Title text=format!("Settings › Security › {}", tab.label())/>
        <header class="page-header">
            <h1>"Settings › Security"</h1>
            <p class="muted">"Domains, single sign-on and sign-in rules for this organization."</p>
            {read_only.then(|| view! {
                <p class="notice">"You can see these settings but not change them: that needs the sso:write permission."</p>
            })}
        </header>
        // Plain links: each page is a page of its own, with or without wasm.
        <nav class="tabs" aria-label="Security settings">
            {SecurityTab::ALL.into_iter().filter(|t| t.shown_to(console.as_ref())).map(|t| view! {
                <a href=format!("{base}/{}", t.path()) aria-current=(t == tab).then_some("page")>{t.label()}</a>
            }).collect_view()}
        </nav>
        {match tab {
            SecurityTab::Domains => view! { <crate::domains::DomainsSection/> }.into_any(),
            SecurityTab::Sso => view! {
                <crate::sso::SetupChecklist org=slug.clone() base=format!("/o/{slug}")/>
                <crate::sso::SsoSection/>
            }.into_any(),
            SecurityTab::Provisioning => view! { <crate::sso::ProvisioningSection/> }.into_any(),
            SecurityTab::TwoFactor => view! { <crate::mfa::RequireMfaSection/> }.into_any(),
            SecurityTab::LoginPage => view! { <crate::branding::BrandingSection/> }.into_any(),
            SecurityTab::SetupLinks => view! { <crate::setup_links::SetupLinksSection/> }.into_any(),
        }}
    }
}
