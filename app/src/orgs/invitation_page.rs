//! `/invite/:token`: what the invitation is for, and how to accept it.

use super::{AcceptInvitation, AcceptInvitationSignup, InvitationView, invitation_info};
use crate::auth::SignOutForm;
use crate::ui::{ErrorPanel, Field, FormError, SubmitButton, encode_query_value, format_time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn InvitationPage() -> impl IntoView {
    let params = use_params_map();
    let token = Memo::new(move |_| params.read().get("token").unwrap_or_default());
    let info = Resource::new(move || token.get(), invitation_info);
    view! {
        <Title text="Invitation"/>
        <main class="auth-page">
            <div class="auth-card">
                <a href="/" class="brand"><span class="brand-mark" aria-hidden="true">"◆"</span>" Latchkey"</a>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match info.await {
                            Ok(view) => view! { <InvitationBody view token=token.get_untracked()/> }.into_any(),
                            Err(e) => view! { <ErrorPanel title="Invitation not found" message=e.message/> }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

#[component]
fn InvitationBody(view: InvitationView, token: String) -> impl IntoView {
    let accept = ServerAction::<AcceptInvitation>::new();
    let signup = ServerAction::<AcceptInvitationSignup>::new();
    let accept_error = Signal::derive(move || accept.value().get().and_then(Result::err));
    let signup_error = Signal::derive(move || signup.value().get().and_then(Result::err));
    let here = format!("/invite/{token}");
    let heading = view! {
        <h1>{format!("Join {}", view.org_name)}</h1>
        <p>"This invitation is for " <strong>{view.email.clone()}</strong> " as " <span class="badge">{view.role.clone()}</span> "."</p>
    };
    let body = match (view.state.as_str(), view.signed_in_as.clone()) {
        ("pending", Some(me)) if me.eq_ignore_ascii_case(&view.email) => view! {
            <ActionForm action=accept>
                <input type="hidden" name="token" value=token.clone()/>
                <FormError error=accept_error/>
                <SubmitButton label="Accept invitation" pending_label="Joining…"/>
            </ActionForm>
        }.into_any(),
        ("pending", Some(me)) => view! {
            <p class="form-error">{format!("You are signed in as {me}. Sign out, then open this link again to accept as {}.", view.email)}</p>
            <SignOutForm/>
        }.into_any(),
        ("pending", None) if view.account_exists => view! {
            <p>"You already have an account. Sign in to accept."</p>
            <a class="button primary" href=format!("/login?return_to={}", encode_query_value(&here))>"Sign in to accept"</a>
        }.into_any(),
        ("pending", None) => view! {
            <p class="muted">{format!("Create your account to join. The link expires {}.", format_time(view.expires_at))}</p>
            <ActionForm action=signup>
                <input type="hidden" name="token" value=token.clone()/>
                <Field label="Your name" name="name" autocomplete="name"
                    error=Signal::derive(move || signup_error.get().and_then(|e| e.message_for("name")))/>
                <Field label="Password" name="password" input_type="password" autocomplete="new-password"
                    hint="At least 10 characters." required=true
                    error=Signal::derive(move || signup_error.get().and_then(|e| e.message_for("password")))/>
                <FormError error=signup_error fields=&["name", "password"]/>
                <SubmitButton label="Create account and join" pending_label="Joining…"/>
            </ActionForm>
        }.into_any(),
        ("expired", _) => view! { <p class="form-error">"This invitation has expired. Ask an admin to send a new one."</p> }.into_any(),
        ("revoked", _) => view! { <p class="form-error">"This invitation was withdrawn."</p> }.into_any(),
        _ => view! { <p>"This invitation has already been used. " <a href="/">"Go to your organizations"</a></p> }.into_any(),
    };
    view! { {heading} {body} }
}
