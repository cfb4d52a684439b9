//! Sign-in, sign-up and sign-out UI. Every form is an `ActionForm`: it
//! posts like a plain HTML form before (or without) wasm, and without a page
//! reload once hydrated.

use super::{ContinueSignIn, SignIn, SignOut, SignUp};
use crate::error::AppError;
use crate::ui::{AuthCard, Field, FormError, SubmitButton};
use leptos::prelude::*;

use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

fn field_error(error: Signal<Option<AppError>>, field: &'static str) -> Signal<Option<String>> {
    Signal::derive(move || error.get().and_then(|e| e.message_for(field)))
}

/// `/login`, email first: an address whose domain signs in through SSO
/// goes to its IdP; any other comes back here (`?email=`) for the password.
#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let return_to = move || query.read().get("return_to").unwrap_or_default();
    let email = move || query.read().get("email");
    // Where the identity provider sends the browser after RP-initiated logout.
    let signed_out = move || query.read().get("signed_out").is_some();
    view! {
        <AuthCard title="Sign in">
            {move || signed_out().then(|| view! {
                <p class="notice" role="status">"You are signed out of Latchkey and of your identity provider."</p>
            })}
            {move || match email() {
                None => view! { <EmailStep return_to=return_to()/> }.into_any(),
                Some(email) => view! { <PasswordStep email return_to=return_to()/> }.into_any(),
            }}
            <p class="auth-alt">"New to Latchkey? " <A href="/signup">"Create an account"</A></p>
        </AuthCard>
    }
}

#[component]
fn EmailStep(return_to: String) -> impl IntoView {
    let action = ServerAction::<ContinueSignIn>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    view! {
        <ActionForm action>
            <input type="hidden" name="return_to" value=return_to/>
            <Field
                label="Email"
                name="email"
                input_type="email"
                autocomplete="username"
                required=true
                error=field_error(error, "email")
            />
            <FormError error fields=&["email"]/>
            <SubmitButton label="Continue" pending_label="Checking…"/>
        </ActionForm>
    }
}

#[component]
fn PasswordStep(email: String, return_to: String) -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    view! {
        <ActionForm action>
            <input type="hidden" name="return_to" value=return_to/>
            <Field
                label="Email"
                name="email"
                input_type="email"
                autocomplete="username"
                value=email
                required=true
                error=field_error(error, "email")
            />
            <Field
                label="Password"
                name="password"
                input_type="password"
                autocomplete="current-password"
                required=true
                error=field_error(error, "password")
            />
            <FormError error fields=&["email", "password"]/>
            <SubmitButton label="Sign in" pending_label="Signing in…"/>
        </ActionForm>
        <p class="auth-alt"><A href="/login">"Use another email"</A></p>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    view! {
        <AuthCard title="Create your account">
            <ActionForm action>
                <Field
                    label="Work email"
                    name="email"
                    input_type="email"
                    autocomplete="email"
                    required=true
                    error=field_error(error, "email")
                />
                <Field
                    label="Your name"
                    name="name"
                    autocomplete="name"
                    error=field_error(error, "name")
                />
                <Field
                    label="Password"
                    name="password"
                    input_type="password"
                    autocomplete="new-password"
                    hint="At least 10 characters."
                    required=true
                    error=field_error(error, "password")
                />
                <FormError error fields=&["email", "name", "password"]/>
                {move || {
                    error
                        .get()
                        .filter(|e| e.code == "sso_required")
                        .map(|_| view! { <p><A href="/login">"Continue with single sign-on"</A></p> })
                }}
                <SubmitButton
                    label="Create account"
                    pending_label="Creating account…"
                />
            </ActionForm>
            <p class="auth-alt">"Already have an account? " <A href="/login">"Sign in"</A></p>
        </AuthCard>
    }
}

/// The sign-out button: a form, so it works without JavaScript. With
/// `idp` (the provider label of an SSO session whose IdP supports it), a
/// second button also signs out at the identity provider.
#[component]
pub fn SignOutForm(#[prop(default = None)] idp: Option<String>) -> impl IntoView {
    let action = ServerAction::<SignOut>::new();
    view! {
        <ActionForm action>
            <SubmitButton
                label="Sign out"
                pending_label="Signing out…"
                class="button link-button"
            />
        </ActionForm>
        {idp.map(|label| view! {
            <ActionForm action attr:class="idp-sign-out">
                <input type="hidden" name="idp" value="1"/>
                <button type="submit" class="button link-button small">
                    {format!("Sign out of {label} too")}
                </button>
            </ActionForm>
        })}
    }
}

/// `/verify-email/{token}`: one button, so a link scanner that only fetches
/// the page does not use the link up.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let action = ServerAction::<super::VerifyEmail>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let params = leptos_router::hooks::use_params_map();
    let query = use_query_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let done =
        move || query.read().get("done").is_some() || matches!(action.value().get(), Some(Ok(())));
    view! {
        <AuthCard title="Verify your email">
            <Show
                when=done
                fallback=move || view! {
                    <p class="muted">"Confirm that this address is yours."</p>
                    <ActionForm action>
                        <input type="hidden" name="token" value=token/>
                        <FormError error fields=&[]/>
                        <SubmitButton label="Confirm my email" pending_label="Confirming…"/>
                    </ActionForm>
                }
            >
                <p role="status" data-email-verified>"Your email address is verified."</p>
                <p><A href="/">"Continue"</A></p>
            </Show>
        </AuthCard>
    }
}

/// On the operator page: a verification link for an account, to pass on
/// where no SMTP server sends it.
#[component]
pub fn VerificationLinkForm() -> impl IntoView {
    let action = ServerAction::<super::OperatorVerificationLink>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    // The link just made, shown once.
    let link = Resource::new(|| (), |_| super::new_verification_link());
    view! {
        <section class="panel" aria-labelledby="verify-heading">
            <h2 id="verify-heading">"Email verification links"</h2>
            <p class="muted small">"Without SMTP, Latchkey cannot email the link that proves an account's address. Make one here and give it to the person; it works once, for 3 days."</p>
            <ActionForm action>
                <Field label="Account email" name="email" input_type="email" required=true error=field_error(error, "email")/>
                <FormError error fields=&["email"]/>
                <SubmitButton label="Make a link" pending_label="Making…"/>
            </ActionForm>
            <Suspense>
                {move || Suspend::new(async move {
                    link.await.ok().flatten().map(|url| view! { <p class="mono" data-verification-link>{url}</p> })
                })}
            </Suspense>
        </section>
    }
}
