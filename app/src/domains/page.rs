//! Settings › Security › Domains.

use super::{AddDomain, Domain, RemoveDomain, RestartDomain, VerifyDomain, list_domains};
use crate::orgs::permissions::Permission;
use crate::orgs::{ConsoleContext, use_org_param};
use crate::ui::{Confirm, CopyField, EmptyState, Field, FormError, SubmitButton, format_time};
use leptos::prelude::*;

#[component]
pub fn DomainsSection() -> impl IntoView {
    let org = use_org_param();
    let writer = use_context::<ConsoleContext>()
        .is_some_and(|c| c.permissions.contains(&Permission::DomainsWrite));
    let add = ServerAction::<AddDomain>::new();
    let verify = ServerAction::<VerifyDomain>::new();
    let restart = ServerAction::<RestartDomain>::new();
    let remove = ServerAction::<RemoveDomain>::new();
    let domains = Resource::new(
        move || {
            (
                org.get(),
                add.version().get()
                    + verify.version().get()
                    + restart.version().get()
                    + remove.version().get(),
            )
        },
        |(org, _)| list_domains(org),
    );
    let add_error = Signal::derive(move || add.value().get().and_then(Result::err));
    let row_error = Signal::derive(move || {
        verify
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| restart.value().get().and_then(Result::err))
            .or_else(|| remove.value().get().and_then(Result::err))
    });
    view! {
        <section class="panel" aria-labelledby="domains-heading">
            <h2 id="domains-heading">"Domains"</h2>
            <p class="muted">
                "Prove that your organization owns an email domain by publishing a DNS TXT record. Only people whose email is in a verified domain can sign in through your identity provider."
            </p>
            <Show when=move || writer>
                <ActionForm action=add attr:class="inline-form">
                    <input type="hidden" name="org" value=move || org.get()/>
                    <Field
                        label="Domain"
                        name="domain"
                        hint="For example acme.com"
                        required=true
                        error=Signal::derive(move || add_error.get().and_then(|e| e.message_for("domain")))
                    />
                    <SubmitButton label="Add domain" pending_label="Adding…"/>
                </ActionForm>
                <FormError error=add_error fields=&["domain"]/>
            </Show>
            <FormError error=row_error/>
            <Suspense fallback=|| view! { <p class="loading">"Loading domains…"</p> }>
                {move || Suspend::new(async move {
                    match domains.await {
                        Ok(list) if list.is_empty() => view! {
                            <EmptyState title="No domains yet">
                                <p>"Add the email domains your people use, then publish the TXT record we show you."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="list domain-list" role="list">
                                {list.into_iter().map(|d| view! {
                                    <DomainRow domain=d org=org.get_untracked() writer verify restart remove/>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn StatusBadge(domain: Domain) -> impl IntoView {
    let (class, text) = match (domain.status.as_str(), domain.last_error.is_some()) {
        ("verified", _) => (
            "badge badge-ok",
            format!(
                "verified{}{}",
                domain
                    .method
                    .as_deref()
                    .map(|m| if m == "manual" {
                        " by our team"
                    } else {
                        " by DNS"
                    })
                    .unwrap_or(""),
                domain
                    .verified_at
                    .map(|t| format!(" · {}", format_time(t)))
                    .unwrap_or_default()
            ),
        ),
        ("expired", _) => ("badge badge-muted", "expired".to_owned()),
        (_, true) => ("badge badge-warn", "pending · check failed".to_owned()),
        _ => ("badge", "pending".to_owned()),
    };
    view! { <span class=class data-status=domain.status.clone()>{text}</span> }
}

#[component]
fn DomainRow(
    domain: Domain,
    org: String,
    writer: bool,
    verify: ServerAction<VerifyDomain>,
    restart: ServerAction<RestartDomain>,
    remove: ServerAction<RemoveDomain>,
) -> impl IntoView {
    let name = domain.domain.clone();
    let pending = domain.status == "pending";
    let expired = domain.status == "expired";
    let slug = name.replace('.', "-");
    let (org1, org2, org3) = (org.clone(), org.clone(), org);
    let (n1, n2, n3) = (name.clone(), name.clone(), name.clone());
    let question = format!(
        "Remove {name}? People with this email domain can no longer be matched to your organization."
    );
    let checked = domain
        .last_checked_at
        .map(|t| format!("Last checked {}.", format_time(t)));
    let error = domain.last_error.clone();
    view! {
        <li class="domain-row" data-domain=name.clone()>
            <div class="domain-head">
                <strong class="mono">{name.clone()}</strong>
                <StatusBadge domain=domain.clone()/>
            </div>
            {pending.then(|| view! {
                <div class="domain-proof">
                    <p class="small">"Publish this TXT record at your DNS provider, then click Verify now. We also re-check pending domains every few minutes until "
                        {format_time(domain.expires_at)} "."</p>
                    <CopyField label="TXT record name" value=domain.txt_record_name.clone() id=format!("txt-name-{slug}")/>
                    <CopyField label="TXT record value" value=domain.txt_record_value.clone() id=format!("txt-value-{slug}")/>
                </div>
            })}
            {error.map(|e| view! { <p class="field-error" role="status">{e}</p> })}
            {checked.map(|c| view! { <p class="muted small">{c}</p> })}
            {writer.then(move || view! {
                <div class="row-actions">
                    {pending.then(|| view! {
                        <ActionForm action=verify>
                            <input type="hidden" name="org" value=org1/>
                            <input type="hidden" name="domain" value=n1/>
                            <SubmitButton label="Verify now" pending_label="Checking DNS…" class="button small primary"/>
                        </ActionForm>
                    })}
                    {expired.then(|| view! {
                        <ActionForm action=restart>
                            <input type="hidden" name="org" value=org2/>
                            <input type="hidden" name="domain" value=n2/>
                            <button type="submit" class="button small">"Restart with a new record"</button>
                        </ActionForm>
                    })}
                    <Confirm label="Remove…" question=question>
                        <ActionForm action=remove>
                            <input type="hidden" name="org" value=org3/>
                            <input type="hidden" name="domain" value=n3/>
                            <button type="submit" class="button small danger">"Yes, remove"</button>
                        </ActionForm>
                    </Confirm>
                </div>
            })}
        </li>
    }
}
