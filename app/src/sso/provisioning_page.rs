//! Settings › Security › Provisioning: just-in-time accounts, the default
//! role and the ordered role mapping rules. A plain form: rows are inputs,
//! a blank row at the end adds a rule, clearing a row's claim and value
//! removes it.

use super::mapping::{Operator, RoleMapping};
use super::{SaveProvisioning, SsoConfig, get_sso};
use crate::error::AppError;
use crate::orgs::permissions::Permission;
use crate::orgs::{ConsoleContext, list_roles, use_org_param};
use crate::ui::{EmptyState, FormError, SubmitButton};
use leptos::prelude::*;

#[component]
pub fn ProvisioningSection() -> impl IntoView {
    let org = use_org_param();
    let writer = use_context::<ConsoleContext>()
        .is_some_and(|c| c.permissions.contains(&Permission::SsoWrite));
    let save = ServerAction::<SaveProvisioning>::new();
    let config = Resource::new(
        move || (org.get(), save.version().get()),
        |(org, _)| get_sso(org),
    );
    // One server function per resource: context does not survive an await
    // between two calls during server rendering.
    let roles = Resource::new(move || org.get(), list_roles);
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    view! {
        <section class="panel" aria-labelledby="provisioning-heading">
            <h2 id="provisioning-heading">"Provisioning"</h2>
            <p class="muted small">
                "People who sign in through single sign-on are never asked for a Latchkey second factor: multi-factor authentication belongs to your identity provider."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    // Without members:read the role list is unavailable; the
                    // form then takes role names as text.
                    let roles: Vec<String> = roles
                        .await
                        .map(|r| r.into_iter().filter(|r| r.name != "owner").map(|r| r.name).collect())
                        .unwrap_or_default();
                    match config.await.map(|c| (c, roles)) {
                        Ok((c, _)) if !c.configured => view! {
                            <EmptyState title="Nothing to provision yet">
                                <p>"Connect an identity provider above; then choose who gets an account at first sign-in, and with which role."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok((c, roles)) if writer => view! {
                            <ProvisioningForm config=c roles org=org.get_untracked() save error/>
                        }.into_any(),
                        Ok((c, _)) => view! { <ProvisioningFacts config=c/> }.into_any(),
                        Err(e) => view! { <p class="form-error">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

const RULES_NOTE: &str = "Rules are checked in order: the first match gives the role, no match gives the default role. \
     While rules exist they set the role of every SSO member at each sign-in, replacing a role set by hand in Members \
     (owners keep theirs). Without rules, roles set by hand stay.";

#[component]
fn RoleChoice(
    name: String,
    selected: String,
    roles: Vec<String>,
    #[prop(into)] label: String,
    #[prop(into, optional)] id: Option<String>,
) -> impl IntoView {
    if roles.is_empty() {
        return view! { <input id=id name=name value=selected aria-label=label/> }.into_any();
    }
    view! {
        <select id=id name=name aria-label=label>
            {roles.into_iter().map(|r| {
                let is = r == selected;
                let text = r.clone();
                view! { <option value=r selected=is>{text}</option> }
            }).collect_view()}
        </select>
    }
    .into_any()
}

#[component]
fn ProvisioningForm(
    config: SsoConfig,
    roles: Vec<String>,
    org: String,
    save: ServerAction<SaveProvisioning>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let mut rows = config.role_mappings.clone();
    // One blank row to add a rule without script.
    rows.push(RoleMapping {
        claim: String::new(),
        operator: Operator::Contains,
        value: String::new(),
        role: config.default_role.clone(),
    });
    let ops = [Operator::Equals, Operator::Contains, Operator::Matches];
    view! {
        <ActionForm action=save attr:id="provisioning-form">
            <input type="hidden" name="org" value=org/>
            {config.jit_held.then(|| view! {
                <p class="notice" role="status" data-jit-held>
                    "Just-in-time provisioning stays off until an owner or admin turns it on: the identity provider in use was set up through a setup link or by a role short of admin, and nobody who decides who may sign in here has approved it yet."
                </p>
            })}
            <label class="checkbox">
                <input type="checkbox" name="form[jit_enabled]" value="on" checked=config.jit_enabled/>
                " Create accounts at first sign-in (just-in-time). When off, only existing members and people with a pending invitation get in."
            </label>
            <div class="field">
                <label for="default-role">"Default role"</label>
                <RoleChoice name="form[default_role]".into() selected=config.default_role.clone() roles=roles.clone() label="Default role" id="default-role"/>
                <p class="field-hint">"Given when no rule matches. Owners are only ever made by hand."</p>
            </div>
            <h3>"Role mapping rules"</h3>
            <p class="muted small">{RULES_NOTE}</p>
            <table class="rules">
                <thead>
                    <tr><th scope="col">"#"</th><th scope="col">"Claim"</th><th scope="col">"Operator"</th><th scope="col">"Value"</th><th scope="col">"Role"</th></tr>
                </thead>
                <tbody>
                    {rows.into_iter().enumerate().map(|(i, r)| {
                        let n = i + 1;
                        let field = move |f: &str| format!("form[rules][{i}][{f}]");
                        view! {
                            <tr data-rule=n>
                                <td>{n}</td>
                                <td><input name=field("claim") value=r.claim placeholder="groups" aria-label=format!("Rule {n} claim")/></td>
                                <td>
                                    <select name=field("operator") aria-label=format!("Rule {n} operator")>
                                        {ops.iter().map(|op| view! {
                                            <option value=op.as_str() selected=*op == r.operator>{op.as_str()}</option>
                                        }).collect_view()}
                                    </select>
                                </td>
                                <td><input name=field("value") value=r.value placeholder="admins" aria-label=format!("Rule {n} value")/></td>
                                <td><RoleChoice name=field("role") selected=r.role roles=roles.clone() label=format!("Rule {n} role")/></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <p class="field-hint">"Fill in the last row to add a rule; empty a row's claim and value to remove it. “contains” is for array claims such as groups; “matches” takes a regular expression that must match the whole value."</p>
            <FormError error/>
            <SubmitButton label="Save provisioning" pending_label="Saving…"/>
        </ActionForm>
    }
}

#[component]
fn ProvisioningFacts(config: SsoConfig) -> impl IntoView {
    let rules = config.role_mappings.clone();
    view! {
        <dl class="facts">
            <dt>"Just-in-time accounts"</dt><dd>{if config.jit_enabled { "on" } else { "off: invitation needed" }}</dd>
            <dt>"Default role"</dt><dd>{config.default_role.clone()}</dd>
        </dl>
        <p class="muted small">{RULES_NOTE}</p>
        {if rules.is_empty() {
            view! { <p class="muted">"No mapping rules: everyone gets the default role."</p> }.into_any()
        } else {
            view! {
                <ol class="rule-list">
                    {rules.iter().map(|r| view! { <li class="mono">{r.describe()}</li> }).collect_view()}
                </ol>
            }.into_any()
        }}
    }
}
