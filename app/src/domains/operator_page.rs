//! `/operator`: pending domains of every organization, for platform
//! operators to approve ("validated by our team") or reject.

use super::{OperatorApproveDomain, OperatorRejectDomain, operator_pending_domains};
use crate::error::ErrorKind;
use crate::ui::{EmptyState, ErrorPanel, FormError, format_time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn OperatorPage() -> impl IntoView {
    let approve = ServerAction::<OperatorApproveDomain>::new();
    let reject = ServerAction::<OperatorRejectDomain>::new();
    let pending = Resource::new(
        move || approve.version().get() + reject.version().get(),
        |_| operator_pending_domains(),
    );
    let error = Signal::derive(move || {
        approve
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| reject.value().get().and_then(Result::err))
    });
    view! {
        <Title text="Operator"/>
        <main class="content operator">
            <header class="page-header">
                <a href="/" class="brand"><span class="brand-mark" aria-hidden="true">"◆"</span>" Latchkey"</a>
                <h1>"Operator › Pending domains"</h1>
                <p class="muted">"Domains waiting for DNS proof in every organization. Approve the ones our team has validated by other means."</p>
            </header>
            <FormError error/>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match pending.await {
                        Err(e) if e.kind == ErrorKind::Unauthorized => view! { <Redirect path="/login?return_to=/operator"/> }.into_any(),
                        Err(e) => view! { <ErrorPanel title="Not available" message=e.message/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <EmptyState title="Nothing pending"><p>"No organization is waiting for a domain check."</p></EmptyState>
                        }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Domains awaiting review">
                                <table class="table">
                                    <caption class="sr-only">"Pending domains"</caption>
                                    <thead><tr>
                                        <th scope="col">"Domain"</th>
                                        <th scope="col">"Organization"</th>
                                        <th scope="col">"Added"</th>
                                        <th scope="col">"Last check"</th>
                                        <th scope="col">"Decision"</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|p| {
                                            let (id1, id2) = (p.domain.id.clone(), p.domain.id.clone());
                                            let reason_id = format!("reason-{}", p.domain.id);
                                            let reason_for = reason_id.clone();
                                            view! {
                                                <tr>
                                                    <td class="mono">{p.domain.domain.clone()}</td>
                                                    <td>{p.org_name.clone()}<div class="muted small mono">{p.org_id.clone()}</div></td>
                                                    <td class="nowrap">{format_time(p.domain.created_at)}</td>
                                                    <td class="small">{p.domain.last_error.clone().unwrap_or_else(|| "not checked yet".into())}</td>
                                                    <td>
                                                        <div class="row-actions">
                                                            <ActionForm action=approve>
                                                                <input type="hidden" name="id" value=id1/>
                                                                <button type="submit" class="button small primary">"Approve"</button>
                                                            </ActionForm>
                                                            <ActionForm action=reject attr:class="inline-form">
                                                                <input type="hidden" name="id" value=id2/>
                                                                <label for=reason_for class="sr-only">"Reason"</label>
                                                                <input id=reason_id name="reason" type="text" placeholder="Reason" required/>
                                                                <button type="submit" class="button small danger">"Reject"</button>
                                                            </ActionForm>
                                                        </div>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                    }
                })}
            </Suspense>
            <crate::auth::VerificationLinkForm/>
        </main>
    }
}
