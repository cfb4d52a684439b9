//! First SSO sign-in of an email that already has a password account: the
//! identity is linked only after the person proves they own that account by
//! entering its password (Keycloak's "first broker login" re-authentication).
//! Until then nothing is linked and no session opens, so whoever signed up
//! with someone else's address before their first SSO sign-in gains nothing.

use crate::error::AppError;
use crate::ui::{Field, FormError, SubmitButton};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the confirmation page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    pub email: String,
    pub org_name: String,
}

/// The link waiting for a password in this browser, if any.
#[server(endpoint = "pending_sso_link")]
pub async fn pending_sso_link() -> Result<Option<LinkView>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    Ok(ssr::pending(&ctx.session).await?.map(|l| LinkView {
        email: l.email,
        org_name: l.org_name,
    }))
}

/// Confirms the link with the account's password, then signs in through
/// the organization's SSO again (the IdP remembers the person).
#[server(endpoint = "confirm_sso_link")]
pub async fn confirm_sso_link(password: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let next = ssr::confirm(&ctx.state, &ctx.session, &password, ctx.ip).await?;
    ctx.redirect(&next);
    Ok(())
}

#[component]
pub fn SsoLinkPage() -> impl IntoView {
    let action = ServerAction::<ConfirmSsoLink>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let pending = Resource::new(|| (), |_| pending_sso_link());
    let password_error =
        Signal::derive(move || error.get().and_then(|e| e.message_for("password")));
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
                                <FormError error fields=&["password"]/>
                                <SubmitButton label="Link and continue" pending_label="Checking…"/>
                            </ActionForm>
                            <p class="muted small">"Did not create this account, or forgot its password? Ask an admin of "{link.org_name}" for help; nothing is linked until the password is entered."</p>
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

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::audit::ssr::{Event, Target, record};
    use crate::error::{AppError, ErrorKind};
    use crate::orgs::access::Actor;
    use crate::ssr::now;
    use crate::ssr::state::AppState;
    use serde::{Deserialize, Serialize};
    use std::net::IpAddr;
    use tower_sessions::Session;

    const SESSION_KEY: &str = "sso_pending_link";
    /// Time to type the password after the IdP answered.
    pub const TTL_SECS: i64 = 600;

    /// An SSO identity waiting to be linked to an existing account.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct PendingLink {
        pub user_id: String,
        pub email: String,
        pub org_id: String,
        pub org_name: String,
        pub login_id: String,
        pub issuer: String,
        pub subject: String,
        pub return_to: Option<String>,
        pub expires_at: i64,
    }

    fn session_error(e: tower_sessions::session::Error) -> AppError {
        tracing::error!(error = %e, "session store failed");
        AppError::internal()
    }

    /// Keeps the link in this browser's session (the callback's).
    pub async fn store(session: &Session, link: &PendingLink) -> Result<(), AppError> {
        session
            .insert(SESSION_KEY, link)
            .await
            .map_err(session_error)
    }

    pub async fn pending(session: &Session) -> Result<Option<PendingLink>, AppError> {
        let link: Option<PendingLink> = session.get(SESSION_KEY).await.map_err(session_error)?;
        Ok(link.filter(|l| l.expires_at > now()))
    }

    /// Checks the password (through the sign-in limits), links the identity,
    /// ends every session of the account and returns where to go next: the
    /// organization's SSO start, which now finds the identity.
    pub async fn confirm(
        state: &AppState,
        session: &Session,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<String, AppError> {
        let link = pending(session).await?.ok_or_else(|| {
            AppError::new(
                ErrorKind::Conflict,
                "link_expired",
                "This account link has expired. Start the sign-in again.",
            )
        })?;
        let user = crate::identity::password::authenticate(
            &state.db,
            &state.login_limiter,
            &link.email,
            password,
            ip,
        )
        .await
        .map_err(|mut e| {
            if e.code == "invalid_credentials" {
                e.message = "That is not this account's password.".into();
            }
            e.on("password")
        })?;
        if user.id != link.user_id {
            // The account behind the email changed since the IdP answered.
            return Err(AppError::new(
                ErrorKind::Conflict,
                "link_expired",
                "This account link is no longer valid. Start the sign-in again.",
            ));
        }
        state.login_limiter.clear(&state.db, &user.email).await?;
        let mut tx = crate::ssr::db::begin_write(&state.db).await?;
        sqlx::query(
            "INSERT INTO sso_identities (issuer, subject, user_id, org_id, email, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&link.issuer)
        .bind(&link.subject)
        .bind(&link.user_id)
        .bind(&link.org_id)
        .bind(&link.email)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if crate::ssr::db::is_unique_violation(&e) {
                AppError::conflict(
                    "already_linked",
                    "This sign-in is already linked to an account.",
                )
            } else {
                e.into()
            }
        })?;
        let actor = Actor::User(user.clone());
        record(
            &mut *tx,
            Event {
                org_id: &link.org_id,
                actor: &actor,
                action: "sso.account_linked",
                target: Some(Target {
                    kind: "user",
                    id: &link.user_id,
                    label: &link.email,
                }),
                details: serde_json::json!({ "issuer": link.issuer, "subject": link.subject }),
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        // Whoever else holds a session of this account loses it.
        crate::ssr::session_store::end_sessions_of_user(&state.db, &link.user_id).await?;
        let _ = session.remove::<PendingLink>(SESSION_KEY).await;
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("login_hint", &link.email);
        if let Some(r) = &link.return_to {
            query.append_pair("return_to", r);
        }
        Ok(format!("/sso/{}/start?{}", link.login_id, query.finish()))
    }
}
