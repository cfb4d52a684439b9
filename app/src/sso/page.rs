//! Settings › Security › Single sign-on: the URIs to give the IdP, and the
//! connection form.

use super::guide::ProviderGuide;
use super::saml_page::{SamlForm, SamlIdpFacts, SamlSetup};
use super::{ApproveSsoChange, DisableSso, DisconnectSso, EnableSso, SaveSso, SsoConfig, get_sso};
use crate::error::AppError;
use crate::orgs::permissions::Permission;
use crate::orgs::{ConsoleContext, use_org_param};
use crate::ui::{Confirm, CopyField, Field, FormError, SubmitButton, format_time};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SsoSection() -> impl IntoView {
    let org = use_org_param();
    let writer = use_context::<ConsoleContext>()
        .is_some_and(|c| c.permissions.contains(&Permission::SsoWrite));
    let approver = use_context::<ConsoleContext>().is_some_and(|c| is_approver(&c));
    let save = ServerAction::<SaveSso>::new();
    let approve = ServerAction::<ApproveSsoChange>::new();
    let enable = ServerAction::<EnableSso>::new();
    let disable = ServerAction::<DisableSso>::new();
    let disconnect = ServerAction::<DisconnectSso>::new();
    let config = Resource::new(
        move || {
            (
                org.get(),
                save.version().get()
                    + enable.version().get()
                    + disable.version().get()
                    + disconnect.version().get()
                    + approve.version().get(),
            )
        },
        |(org, _)| get_sso(org),
    );
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let toggle_error = Signal::derive(move || {
        enable
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| disable.value().get().and_then(Result::err))
            .or_else(|| disconnect.value().get().and_then(Result::err))
            .or_else(|| approve.value().get().and_then(Result::err))
    });
    view! {
        <section class="panel" aria-labelledby="sso-heading">
            <h2 id="sso-heading">"Single sign-on"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match config.await {
                        Ok(c) => view! {
                            <SsoBody config=c org=org.get_untracked() writer approver save error enable disable disconnect approve toggle_error/>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Owners and admins (signed in, not through a setup link) decide which
/// identity provider is trusted; the server checks again.
pub(super) fn is_approver(c: &ConsoleContext) -> bool {
    c.user.is_some() && (c.org.role == "owner" || c.org.role == "admin")
}

#[component]
#[expect(clippy::too_many_arguments, reason = "one action per form on the page")]
fn SsoBody(
    config: SsoConfig,
    org: String,
    writer: bool,
    approver: bool,
    save: ServerAction<SaveSso>,
    error: Signal<Option<AppError>>,
    enable: ServerAction<EnableSso>,
    disable: ServerAction<DisableSso>,
    disconnect: ServerAction<DisconnectSso>,
    approve: ServerAction<ApproveSsoChange>,
    toggle_error: Signal<Option<AppError>>,
) -> impl IntoView {
    let err =
        move |f: &'static str| Signal::derive(move || error.get().and_then(|e| e.message_for(f)));
    let status = match (config.configured, config.enabled) {
        (false, _) => "Not connected",
        (true, false) => "Configured, not enabled",
        (true, true) => "Enabled",
    };
    let org_for_disconnect = org.clone();
    let claims = config.claims.clone();
    // One protocol per connection; before one is saved, the admin picks
    // (plain links, so the choice works without wasm).
    let query = use_query_map().get_untracked();
    let picked = query.get("protocol");
    let guide = query.get("guide");
    let saml = if config.configured {
        config.protocol == "saml"
    } else {
        picked.as_deref() == Some("saml")
    };
    let chooser = (writer && !config.configured).then(|| {
        view! {
            <nav class="protocol-choice" aria-label="Protocol">
                <a href="?protocol=oidc#sso-heading" class="button small"
                    aria-current=(!saml).then_some("true")>"OpenID Connect"</a>
                <a href="?protocol=saml#sso-heading" class="button small"
                    aria-current=saml.then_some("true")>"SAML 2.0"</a>
            </nav>
        }
    });
    let pending_what = if saml {
        "A new IdP (entity ID or signing certificates)"
    } else {
        "A new provider, client ID or secret"
    };
    view! {
        <div class="sso-status">
            <span class="badge" data-sso-status=status>{status}</span>
            {(writer && config.configured).then(|| {
                let org = org.clone();
                if config.enabled {
                    view! {
                        <ActionForm action=disable>
                            <input type="hidden" name="org" value=org/>
                            <SubmitButton label="Disable" pending_label="Disabling…" class="button small"/>
                        </ActionForm>
                    }.into_any()
                } else {
                    view! {
                        <ActionForm action=enable>
                            <input type="hidden" name="org" value=org/>
                            <SubmitButton label="Enable" pending_label="Enabling…" class="button small primary"/>
                        </ActionForm>
                    }.into_any()
                }
            })}
        </div>
        <FormError error=toggle_error/>
        {config.pending_change.clone().map(|p| {
            let org = org.clone();
            let what = view! {
                " " {pending_what} " (" {(!saml).then(|| view! { <code>{p.client_id.clone()}</code> " at " })}
                <code>{p.issuer.clone()}</code> ")"
            };
            if !p.waits_for_approval {
                return view! {
                    <div class="notice" role="status" data-pending-change>
                        <strong>"Saved, not yet tested."</strong>
                        {what}
                        " takes effect when a test of it passes; until then sign-ins keep using the last tested settings."
                        {p.last_error.map(|e| view! { <p class="form-error">"Its last test failed: " {e}</p> })}
                    </div>
                }.into_any();
            }
            let by = p.saved_by.clone().unwrap_or_else(|| "someone".into());
            let tested = p.tested_at.is_some();
            view! {
                <div class="notice" role="status" data-pending-change data-waits-for-approval>
                    <strong>{if tested { "Tested, waiting for approval." } else { "Saved, waiting for a test and an approval." }}</strong>
                    {what}
                    {format!(" was saved by {by}. Who may sign in as whom is an owner's or admin's decision: it takes effect only when one approves it, after its test passed. Until then sign-ins keep using the settings in effect.")}
                    {p.last_error.map(|e| view! { <p class="form-error">"Its last test failed: " {e}</p> })}
                    {(approver && tested).then(|| view! {
                        <ActionForm action=approve>
                            <input type="hidden" name="org" value=org/>
                            <label class="checkbox">
                                <input type="checkbox" name="carry_over_accounts" value="on" checked=p.carry_over_accounts/>
                                " Carry existing accounts over to this identity provider when their email matches (a move from one IdP to another). Leave it off unless you are migrating: otherwise the new IdP cannot sign in as people the current one made."
                            </label>
                            <SubmitButton label="Approve change" pending_label="Approving…" class="button small primary"/>
                        </ActionForm>
                    })}
                    {(approver && !tested).then(|| view! {
                        <p class="muted small">"Run Test connection first: only a change whose test passed can be approved."</p>
                    })}
                    {(!approver).then(|| view! {
                        <p class="muted small">"Ask an owner or admin of this organization to approve it."</p>
                    })}
                </div>
            }.into_any()
        })}
        {config.carry_over_accounts.then(|| view! {
            <p class="notice" data-carry-over>
                "Carrying accounts over: a person whose account this organization's previous identity provider made signs in to it through this one when their email matches."
            </p>
        })}
        {chooser}
        <ProviderGuide config=config.clone() picked=guide/>
        {if saml {
            view! { <SamlSetup config=config.clone() org=org.clone() writer/> }.into_any()
        } else {
            view! { <OidcSetup config=config.clone()/> }.into_any()
        }}
        <SsoTest config=config.clone() org=org.clone() writer/>
        <h3>"2. Connect your identity provider"</h3>
        {if saml {
            view! { <SamlIdpFacts config=config.clone()/> }.into_any()
        } else {
            ().into_any()
        }}
        {if writer && saml {
            view! { <SamlForm config=config.clone() org=org.clone() save error/> }.into_any()
        } else if writer {
            view! {
                <ActionForm action=save>
                    <input type="hidden" name="org" value=org/>
                    <input type="hidden" name="form[protocol]" value="oidc"/>
                    <Field label="Provider label" name="form[provider_label]" value=config.provider_label.clone()
                        hint="The text on the sign-in button, e.g. Okta." required=true error=err("provider_label")/>
                    <Field label="Discovery URL" name="form[discovery_url]" input_type="url" value=config.discovery_url.clone()
                        hint="Your issuer URL, or its full /.well-known/openid-configuration URL." required=true error=err("discovery_url")/>
                    <Field label="Client ID" name="form[client_id]" value=config.client_id.clone() required=true error=err("client_id")/>
                    <Field label="Client secret" name="form[client_secret]" input_type="password" autocomplete="off"
                        hint=if config.client_secret_set { "A secret is stored. Leave empty to keep it, or enter a new one to rotate it." } else { "Stored encrypted; never shown again." }
                        error=err("client_secret")/>
                    <Field label="Scopes" name="form[scopes]" value=config.scopes.join(" ") error=err("scopes")/>
                    <SessionLifetimeField secs=config.session_max_age_secs error=err("session_max_age_hours")/>
                    <RequireSsoCheckbox checked=config.require_sso/>
                    {approver.then(|| view! { <CarryOverCheckbox checked=config.carry_over_accounts/> })}
                    <details class="advanced">
                        <summary>"Advanced: claim names"</summary>
                        <Field label="Email claim" name="form[claim_email]" value=claims.email error=err("claim_email")/>
                        <Field label="Name claim" name="form[claim_name]" value=claims.name error=err("claim_name")/>
                        <Field label="Given name claim" name="form[claim_given_name]" value=claims.given_name error=err("claim_given_name")/>
                        <Field label="Family name claim" name="form[claim_family_name]" value=claims.family_name error=err("claim_family_name")/>
                        <Field label="Username claim" name="form[claim_username]" value=claims.username error=err("claim_username")/>
                        <Field label="Groups claim" name="form[claim_groups]" value=claims.groups error=err("claim_groups")/>
                    </details>
                    <FormError error fields=&["provider_label", "discovery_url", "client_id", "client_secret", "scopes", "session_max_age_hours"]/>
                    <SubmitButton label="Save" pending_label="Checking your provider…"/>
                </ActionForm>
            }.into_any()
        } else if saml {
            view! {
                <dl class="facts">
                    <dt>"Provider"</dt><dd>{if config.configured { config.provider_label.clone() } else { "—".into() }}</dd>
                </dl>
            }.into_any()
        } else {
            view! {
                <dl class="facts">
                    <dt>"Provider"</dt><dd>{if config.configured { config.provider_label.clone() } else { "—".into() }}</dd>
                    <dt>"Discovery URL"</dt><dd class="mono">{config.discovery_url.clone()}</dd>
                    <dt>"Client ID"</dt><dd class="mono">{config.client_id.clone()}</dd>
                </dl>
            }.into_any()
        }}
        {(writer && config.configured).then(|| view! {
            <div class="danger-zone">
                <h3>"Disconnect"</h3>
                <Confirm label="Disconnect…" question=DISCONNECT_QUESTION>
                    <ActionForm action=disconnect>
                        <input type="hidden" name="org" value=org_for_disconnect/>
                        <SubmitButton label="Yes, disconnect" pending_label="Disconnecting…" class="button small danger"/>
                    </ActionForm>
                </Confirm>
            </div>
        })}
    }
}

/// Step 1 for OpenID Connect: the addresses to register.
#[component]
fn OidcSetup(config: SsoConfig) -> impl IntoView {
    view! {
        <div class="idp-setup">
            <h3>"1. Register Latchkey at your identity provider"</h3>
            <p class="muted small">
                "Create an OpenID Connect web application with the authorization code grant (" <code>"authorization_code"</code>
                ") and the scopes " <code>{config.scopes.join(" ")}</code> ", using these addresses:"
            </p>
            <CopyField label="Redirect URI" value=config.redirect_uri.clone() id="sso-redirect-uri"/>
            <CopyField label="Back-channel logout URI" value=config.backchannel_logout_uri.clone() id="sso-backchannel-uri"/>
            <CopyField label="Initiate login URI" value=config.initiate_login_uri.clone() id="sso-initiate-uri"/>
            <CopyField label="Post-logout redirect URI" value=config.post_logout_redirect_uri.clone() id="sso-post-logout-uri"/>
            {config.login_url.clone().map(|url| view! {
                <CopyField label="Login URL to share with your people" value=url id="sso-login-url"/>
            })}
        </div>
    }
}

/// Test connection, and what the last test brought back.
#[component]
fn SsoTest(config: SsoConfig, org: String, writer: bool) -> impl IntoView {
    view! {
        <div id="sso-test" class="sso-test">
            {(writer && config.configured).then(|| view! {
                // A plain form: the answer is a redirect to the IdP, which a
                // full page navigation follows with or without wasm.
                <form method="post" action="/api/test_sso">
                    <input type="hidden" name="org" value=org.clone()/>
                    <button type="submit" class="button small">"Test connection"</button>
                    <span class="muted small">" Signs you in at your provider in test mode; nobody is signed in here."</span>
                </form>
            })}
            {config.last_test.clone().map(|t| view! {
                <p class=if t.ok { "notice" } else { "form-error" } data-last-test=if t.ok { "ok" } else { "failed" }>
                    {if t.ok { "Last test passed " } else { "Last test failed " }} {format_time(t.at)}
                    {t.error.map(|e| format!(": {e}"))}
                </p>
                {t.result.map(|r| view! { <TestResult result=r/> })}
            })}
        </div>
    }
}

/// The session lifetime field of both protocols' forms (in hours).
#[component]
pub(super) fn SessionLifetimeField(secs: i64, error: Signal<Option<String>>) -> impl IntoView {
    view! {
        <Field label="Session lifetime (hours)" name="form[session_max_age_hours]" value=(secs / 3600).to_string()
            hint="From 1 hour to 30 days (720 hours)." error/>
    }
}

/// The IdP-migration checkbox of both protocols' forms (owners and admins).
#[component]
pub(super) fn CarryOverCheckbox(checked: bool) -> impl IntoView {
    view! {
        <input type="hidden" name="form[carry_over_shown]" value="1"/>
        <label class="checkbox">
            <input type="checkbox" name="form[carry_over_accounts]" value="on" checked=checked/>
            " Moving to a new identity provider: carry existing accounts over to it when their email matches. Off, an account the previous IdP made cannot be signed into through another one."
        </label>
    }
}

/// The Require SSO checkbox of both protocols' forms.
#[component]
pub(super) fn RequireSsoCheckbox(checked: bool) -> impl IntoView {
    view! {
        <label class="checkbox">
            <input type="checkbox" name="form[require_sso]" value="on" checked=checked/>
            " Require SSO: members whose email is in a verified domain must sign in through SSO. Guests are exempt; owners keep password sign-in as break-glass access, recorded in the audit log."
        </label>
    }
}

const DISCONNECT_QUESTION: &str = "Disconnecting signs out everyone who signed in through single sign-on, at once. \
     Members who joined through SSO become viewers (owners keep their role) and, having no password, cannot sign in \
     until you connect again. The configuration and the links to your provider's accounts are deleted; a new \
     connection gets a new login URL.";

/// What the last passed test brought back.
#[component]
fn TestResult(result: serde_json::Value) -> impl IntoView {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    };
    let email = text(&result["email"]);
    let verified = match result["email_domain_verified"].as_bool() {
        Some(true) => "yes",
        _ => "no: this person could not sign in",
    };
    let role = text(&result["role"]);
    let rule = match (&result["rule_number"], &result["rule"]) {
        (serde_json::Value::Number(n), serde_json::Value::String(r)) => format!("rule {n}: {r}"),
        _ => "no rule matched: the default role".into(),
    };
    let claims: Vec<(String, String)> = result["claims"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default();
    view! {
        <dl class="facts test-result">
            <dt>"Email"</dt><dd data-test-email>{email}</dd>
            <dt>"Domain verified here"</dt><dd>{verified}</dd>
            <dt>"Role they would get"</dt><dd data-test-role>{role}</dd>
            <dt>"Why"</dt><dd data-test-rule>{rule}</dd>
        </dl>
        <details class="advanced" open>
            <summary>"Claims"</summary>
            <table class="claims">
                <tbody>
                    {claims.into_iter().map(|(k, v)| view! {
                        <tr><th scope="row" class="mono">{k}</th><td class="mono">{v}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </details>
    }
}
