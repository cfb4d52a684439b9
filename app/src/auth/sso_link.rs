//! `/login/sso-link`: the page (and its server functions) where someone
//! whose SSO sign-in met an existing password account confirms it with
//! that account's password and, when it has one, its second factor; or,
//! for an account whose address was never proven, releases the address
//! (`crate::sso::link`). Here in `auth`, above the methods, because it asks
//! for both the password and the second factor.

use crate::error::AppError;
use crate::sso::link::LinkView;
use crate::ui::{Field, FormError, SubmitButton};
use leptos::prelude::*;

/// The link waiting for a password in this browser, if any.
#[server(endpoint = "pending_sso_link")]
pub async fn pending_sso_link() -> Result<Option<LinkView>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let Some(l) = crate::sso::link::ssr::pending(&ctx.session).await? else {
        return Ok(None);
    };
    Ok(Some(LinkView {
        second_factor: crate::mfa::ssr::is_enrolled(&ctx.state.db, &l.user_id).await?,
        email: l.email,
        org_name: l.org_name,
        releasable: l.releasable,
    }))
}

/// Confirms the link with the account's password and, when the account
/// has one, its second factor (a TOTP or recovery code; wrong codes count
/// as failed sign-ins), then signs in through the organization's SSO again
/// (the IdP remembers the person).
#[server(endpoint = "confirm_sso_link")]
pub async fn confirm_sso_link(password: String, code: Option<String>) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let state = &ctx.state;
    let ip = ctx.ip;
    let second_factor = async |user: &crate::identity::CurrentUser| {
        if !crate::mfa::ssr::is_enrolled(&state.db, &user.id).await? {
            return Ok(());
        }
        let code = code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                AppError::unprocessable(
                    "mfa_code_required",
                    "This account has two-factor authentication: enter a code from its authenticator app, or a recovery code.",
                )
                .on("code")
            })?;
        let limiter = &state.login_limiter;
        limiter.claim(&state.db, ip, &user.email).await?;
        crate::mfa::ssr::verify(&state.db, &state.keys, &user.id, code)
            .await
            .map_err(|e| e.on("code"))?;
        limiter.release(&state.db, ip, &user.email).await
    };
    let next =
        crate::sso::link::ssr::confirm(state, &ctx.session, &password, ip, second_factor).await?;
    ctx.redirect(&next);
    Ok(())
}

/// "Not my account": the address, never proven by that account, goes to
/// the person the IdP vouches for (see `ssr::release`), and the sign-in
/// starts again.
#[server(endpoint = "release_sso_link")]
pub async fn release_sso_link() -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let next = crate::sso::link::ssr::release(&ctx.state, &ctx.session, ctx.ip).await?;
    ctx.redirect(&next);
    Ok(())
}

#[component]
pub fn SsoLinkPage() -> impl IntoView {
    let action = ServerAction::<ConfirmSsoLink>::new();
    let release = ServerAction::<ReleaseSsoLink>::new();
    let release_error = Signal::derive(move || release.value().get().and_then(Result::err));
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let pending = Resource::new(|| (), |_| pending_sso_link());
    let password_error =
        Signal::derive(move || error.get().and_then(|e| e.message_for("password")));
    let code_error = Signal::derive(move || error.get().and_then(|e| e.message_for("code")));
    view! {
        <crate::ui::AuthCard title="Link your account">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match pending.await {
                        Ok(Some(link)) => view! {
                            <p>
                                "An account with "<strong data-link-email>{link.email.clone()}</strong>
                                " already exists. To sign in to "{link.org_name.clone()}
                                " through single sign-on with it, enter its password once."
                            </p>
                            <p class="muted small">"This proves the account is yours. Other sessions of the account end when it is linked."</p>
                            <ActionForm action>
                                <Field label="Password" name="password" input_type="password" autocomplete="current-password" required=true error=password_error/>
                                {link.second_factor.then(|| view! {
                                    <Field label="Two-factor code" name="code" autocomplete="one-time-code" required=true
                                        hint="From the account's authenticator app, or one of its recovery codes." error=code_error/>
                                })}
                                <FormError error fields=&["password", "code"]/>
                                <SubmitButton label="Link and continue" pending_label="Checking…"/>
                            </ActionForm>
                            {if link.releasable {
                                view! {
                                    <h2>"Not your account?"</h2>
                                    <p class="muted small">
                                        "Nobody ever proved owning this address with that account: someone may have signed up with it before you. "
                                        "If you did not create it, continue without it: your identity provider vouches for the address, so it moves to a new account for you, and the other account loses it (and its sessions end)."
                                    </p>
                                    <ActionForm action=release>
                                        <FormError error=release_error/>
                                        <SubmitButton label="It is not mine: continue" pending_label="Continuing…" class="button"/>
                                    </ActionForm>
                                }.into_any()
                            } else {
                                view! {
                                    <p class="muted small">"Did not create this account, or forgot its password? Ask an admin of "{link.org_name.clone()}" for help; nothing is linked until the password is entered."</p>
                                }.into_any()
                            }}
                        }.into_any(),
                        Ok(None) => view! {
                            <p class="form-error" role="alert">"There is no account link waiting in this browser, or it has expired. Start the sign-in again."</p>
                            <p><a href="/login">"Sign in"</a></p>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </crate::ui::AuthCard>
    }
}
