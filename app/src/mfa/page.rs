//! `/account/security` (enrol, recovery codes, turn off), `/login/mfa` (the
//! code after the password) and the organization's "require MFA" switch.
//! Plain forms throughout: they work before and without wasm.

use super::{ConfirmMfa, DisableMfa, RegenerateRecoveryCodes, SetRequireMfa, StartMfa, VerifyMfa};
use super::{MfaStatus, get_mfa_status, get_require_mfa};
use crate::error::{AppError, ErrorKind};
use crate::orgs::permissions::Permission;
use crate::orgs::{ConsoleContext, use_org_param};
use crate::ui::{Confirm, ErrorPanel, Field, FormError, SubmitButton};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

fn code_error(error: Signal<Option<AppError>>) -> Signal<Option<String>> {
    Signal::derive(move || error.get().and_then(|e| e.message_for("code")))
}

#[component]
pub fn AccountSecurityPage() -> impl IntoView {
    let start = ServerAction::<StartMfa>::new();
    let confirm = ServerAction::<ConfirmMfa>::new();
    let disable = ServerAction::<DisableMfa>::new();
    let regenerate = ServerAction::<RegenerateRecoveryCodes>::new();
    let status = Resource::new(
        move || {
            start.version().get()
                + confirm.version().get()
                + disable.version().get()
                + regenerate.version().get()
        },
        |_| get_mfa_status(),
    );
    view! {
        <Title text="Account › Security"/>
        <main class="content account">
            <header class="page-header">
                <a href="/" class="brand"><span class="brand-mark" aria-hidden="true">"◆"</span>" Latchkey"</a>
                <h1>"Account › Security"</h1>
                <p class="muted">"A second factor protects password sign-ins. Sign-ins through your organization's single sign-on never ask for it: there, your identity provider handles MFA."</p>
            </header>
            <section class="panel" aria-labelledby="mfa-heading">
                <h2 id="mfa-heading">"Two-factor authentication"</h2>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match status.await {
                            Err(e) if e.kind == ErrorKind::Unauthorized => view! { <Redirect path="/login?return_to=/account/security"/> }.into_any(),
                            Err(e) => view! { <ErrorPanel title="Not available" message=e.message/> }.into_any(),
                            Ok(s) => view! { <MfaBody status=s start confirm disable regenerate/> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
            <p><a href="/">"Back to your organizations"</a></p>
        </main>
    }
}

#[component]
fn MfaBody(
    status: MfaStatus,
    start: ServerAction<StartMfa>,
    confirm: ServerAction<ConfirmMfa>,
    disable: ServerAction<DisableMfa>,
    regenerate: ServerAction<RegenerateRecoveryCodes>,
) -> impl IntoView {
    let regenerate_error = Signal::derive(move || regenerate.value().get().and_then(Result::err));
    let confirm_error = Signal::derive(move || confirm.value().get().and_then(Result::err));
    let disable_error = Signal::derive(move || disable.value().get().and_then(Result::err));
    let start_error = Signal::derive(move || start.value().get().and_then(Result::err));
    let codes = status.new_recovery_codes.clone().map(|codes| {
        view! {
            <div class="notice recovery-codes" role="status">
                <h3>"Your recovery codes"</h3>
                <p>"Each works once, when your authenticator is not at hand. Store them somewhere safe now: they are not shown again."</p>
                <ul class="mono" data-recovery-codes>
                    {codes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
                </ul>
            </div>
        }
    });
    let body = match (status.enabled, status.setup) {
        (true, _) => view! {
            <p><span class="badge" data-mfa-status="on">"On"</span>" " {format!("{} recovery codes left.", status.recovery_codes_left)}</p>
            <details class="advanced">
                <summary>"New recovery codes"</summary>
                <p class="small muted">"The current ones stop working. Confirm with a code from your app or a recovery code."</p>
                <ActionForm action=regenerate>
                    <Field label="Code for new recovery codes" name="code" autocomplete="one-time-code" required=true error=code_error(regenerate_error)/>
                    <FormError error=regenerate_error fields=&["code"]/>
                    <SubmitButton label="Make new recovery codes" pending_label="Making…" class="button small"/>
                </ActionForm>
            </details>
            <Confirm label="Turn off…" question="Turning it off leaves only your password protecting password sign-ins. Confirm with a current code or a recovery code.">
                <ActionForm action=disable>
                    <Field label="Code" name="code" autocomplete="one-time-code" required=true error=code_error(disable_error)/>
                    <FormError error=disable_error fields=&["code"]/>
                    <SubmitButton label="Turn off two-factor authentication" pending_label="Turning off…" class="button small danger"/>
                </ActionForm>
            </Confirm>
        }.into_any(),
        (false, Some(setup)) => view! {
            <ol class="steps">
                <li>
                    "Scan this code with an authenticator app (1Password, Google Authenticator, Authy…)."
                    <div class="qr" inner_html=setup.qr_svg role="img" aria-label="QR code to scan"></div>
                </li>
                <li>
                    "Or type this key into the app: "
                    <crate::ui::CopyField label="Setup key" value=setup.key id="mfa-key"/>
                </li>
                <li>"Enter the six-digit code the app shows."</li>
            </ol>
            <ActionForm action=confirm>
                <Field label="Code from the app" name="code" autocomplete="one-time-code" required=true error=code_error(confirm_error)/>
                <FormError error=confirm_error fields=&["code"]/>
                <SubmitButton label="Confirm and turn on" pending_label="Checking…"/>
            </ActionForm>
        }.into_any(),
        (false, None) => view! {
            <p><span class="badge" data-mfa-status="off">"Off"</span>" Password sign-ins need only your password."</p>
            <ActionForm action=start>
                <Field label="Current password" name="password" input_type="password" autocomplete="current-password" required=true
                    hint="To make sure it is you who adds a device." error=Signal::derive(move || start_error.get().and_then(|e| e.message_for("password")))/>
                <FormError error=start_error fields=&["password"]/>
                <SubmitButton label="Set up two-factor authentication" pending_label="Preparing…"/>
            </ActionForm>
        }.into_any(),
    };
    view! { {codes} {body} }
}

/// `/login/mfa`: the second step of a password sign-in.
#[component]
pub fn MfaSignInPage() -> impl IntoView {
    let action = ServerAction::<VerifyMfa>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let expired = move || {
        error
            .get()
            .is_some_and(|e| e.code == "mfa_expired")
            .then(|| view! { <p><a href="/login">"Sign in again"</a></p> })
    };
    view! {
        <crate::ui::AuthCard title="Two-factor authentication">
            <p class="muted">"Enter the six-digit code from your authenticator app, or one of your recovery codes."</p>
            <ActionForm action>
                <Field label="Code" name="code" autocomplete="one-time-code" required=true error=code_error(error)/>
                <FormError error fields=&["code"]/>
                <SubmitButton label="Verify" pending_label="Checking…"/>
            </ActionForm>
            {expired}
        </crate::ui::AuthCard>
    }
}

/// Settings › Security: require a second factor for password sign-ins.
#[component]
pub fn RequireMfaSection() -> impl IntoView {
    let org = use_org_param();
    let writer = use_context::<ConsoleContext>()
        .is_some_and(|c| c.permissions.contains(&Permission::SsoWrite));
    let save = ServerAction::<SetRequireMfa>::new();
    let required = Resource::new(
        move || (org.get(), save.version().get()),
        |(o, _)| get_require_mfa(o),
    );
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    view! {
        <section class="panel" aria-labelledby="mfa-requirement-heading">
            <h2 id="mfa-requirement-heading">"Two-factor authentication"</h2>
            <p class="muted small">"Single sign-on never asks for a Latchkey second factor: MFA belongs to your identity provider. This applies to password sign-ins only."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match required.await {
                        Err(e) => view! { <p class="form-error">{e.message}</p> }.into_any(),
                        Ok(on) if writer => view! {
                            <ActionForm action=save attr:id="require-mfa-form">
                                <input type="hidden" name="org" value=org.get_untracked()/>
                                <label class="checkbox">
                                    <input type="checkbox" name="required" value="on" checked=on/>
                                    " Require two-factor authentication for password sign-ins. Members without it are asked to set it up before they can open this organization."
                                </label>
                                <FormError error/>
                                <SubmitButton label="Save MFA requirement" pending_label="Saving…" class="button small"/>
                            </ActionForm>
                        }.into_any(),
                        Ok(on) => view! {
                            <p>{if on { "Required for password sign-ins." } else { "Not required." }}</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
