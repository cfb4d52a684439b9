//! `/login/switch`: an SSO sign-in that would replace this browser's
//! session with a different person asks first. Without it, anyone who runs
//! an organization and an IdP could send a signed-in victim to their SSO
//! start (or post an unsolicited SAML response from a page), and the
//! victim's browser would silently become the attacker's account, their own
//! session ended (login CSRF with a session swap). The answer is a
//! same-origin form post; nothing changes until it comes.

use crate::error::AppError;
use crate::ui::{AuthCard, SubmitButton};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchView {
    /// Who the browser is signed in as now (an email, or the setup link).
    pub current: String,
    /// Who the sign-in would make it.
    pub next: String,
    /// The organization whose single sign-on it came through.
    pub org_name: String,
}

#[server(endpoint = "pending_switch")]
pub async fn pending_switch() -> Result<Option<SwitchView>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    ssr::view(&ctx.state.db, &ctx.session).await
}

/// Continue as the person the IdP signed in: the session is replaced.
#[server(endpoint = "confirm_switch")]
pub async fn confirm_switch() -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let landing = ssr::confirm(&ctx.session).await?;
    ctx.redirect(&landing);
    Ok(())
}

/// Stay signed in as before: the other sign-in is dropped.
#[server(endpoint = "cancel_switch")]
pub async fn cancel_switch() -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    ssr::cancel(&ctx.session).await?;
    ctx.redirect("/");
    Ok(())
}

#[component]
pub fn SwitchPage() -> impl IntoView {
    let confirm = ServerAction::<ConfirmSwitch>::new();
    let cancel = ServerAction::<CancelSwitch>::new();
    let error = Signal::derive(move || confirm.value().get().and_then(Result::err));
    let pending = Resource::new(|| (), |_| pending_switch());
    view! {
        <AuthCard title="Switch accounts?">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match pending.await {
                        Ok(Some(v)) => view! {
                            <p data-switch>
                                "You are signed in as " <strong data-switch-current>{v.current.clone()}</strong>
                                ". A single sign-on through " {v.org_name.clone()} " would sign this browser in as "
                                <strong data-switch-next>{v.next.clone()}</strong> " instead."
                            </p>
                            <p class="muted small">"If you did not just start this sign-in (a page or a link may have sent you here), stay as you are."</p>
                            <crate::ui::FormError error/>
                            <div class="actions">
                                <ActionForm action=cancel>
                                    <SubmitButton label=format!("Stay as {}", v.current) pending_label="Going back…" class="button primary"/>
                                </ActionForm>
                                <ActionForm action=confirm>
                                    <SubmitButton label=format!("Continue as {}", v.next) pending_label="Switching…" class="button"/>
                                </ActionForm>
                            </div>
                        }.into_any(),
                        Ok(None) => view! {
                            <p class="form-error" role="alert">"There is no sign-in waiting in this browser, or it has expired. Start it again."</p>
                            <p><a href="/">"Back"</a></p>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </AuthCard>
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::SwitchView;
    use crate::error::{AppError, ErrorKind};
    use crate::identity::SessionAuth;
    use crate::identity::sessions::{establish_session, session_auth, session_error};
    use crate::ssr::db::Db;
    use crate::ssr::now;
    use serde::{Deserialize, Serialize};
    use tower_sessions::Session;

    const SESSION_KEY: &str = "pending_switch";
    /// Time to answer the question.
    const TTL_SECS: i64 = 300;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    struct Pending {
        auth: SessionAuth,
        lifetime_secs: i64,
        landing: String,
        expires_at: i64,
    }

    /// Signs `auth` in, or, when the browser is signed in as someone else
    /// (another account, or a setup link), keeps it waiting for the
    /// person's answer; returns where the browser goes.
    pub async fn sign_in_or_ask(
        session: &Session,
        auth: SessionAuth,
        lifetime_secs: i64,
        landing: String,
    ) -> Result<String, AppError> {
        let current = session_auth(session).await?;
        let other_account = current.is_some_and(|c| c.user_id != auth.user_id);
        let link = crate::setup_links::ssr::session_link_id(session).await?;
        if !other_account && link.is_none() {
            establish_session(session, auth, lifetime_secs).await?;
            return Ok(landing);
        }
        let pending = Pending {
            auth,
            lifetime_secs,
            landing,
            expires_at: now() + TTL_SECS,
        };
        session
            .insert(SESSION_KEY, pending)
            .await
            .map_err(session_error)?;
        Ok("/login/switch".into())
    }

    async fn pending(session: &Session) -> Result<Option<Pending>, AppError> {
        let p: Option<Pending> = session.get(SESSION_KEY).await.map_err(session_error)?;
        Ok(p.filter(|p| p.expires_at > now()))
    }

    pub async fn view(db: &Db, session: &Session) -> Result<Option<SwitchView>, AppError> {
        let Some(p) = pending(session).await? else {
            return Ok(None);
        };
        let current = match crate::identity::sessions::session_user(db, session).await? {
            Some(u) => u.email,
            None => "the holder of a setup link".into(),
        };
        let next = crate::identity::accounts::find_user(db, &p.auth.user_id)
            .await?
            .map(|u| u.email)
            .unwrap_or_default();
        let org_name: Option<String> =
            sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
                .bind(p.auth.org_id.as_deref().unwrap_or_default())
                .fetch_optional(db)
                .await?;
        Ok(Some(SwitchView {
            current,
            next,
            org_name: org_name.unwrap_or_default(),
        }))
    }

    /// The waiting sign-in replaces the session (a new id; a setup link
    /// the browser held goes with the old session).
    pub async fn confirm(session: &Session) -> Result<String, AppError> {
        let Some(p) = pending(session).await? else {
            return Err(AppError::new(
                ErrorKind::Conflict,
                "switch_expired",
                "This sign-in has expired. Start it again.",
            ));
        };
        session
            .remove::<Pending>(SESSION_KEY)
            .await
            .map_err(session_error)?;
        crate::setup_links::ssr::leave(session).await?;
        establish_session(session, p.auth, p.lifetime_secs).await?;
        Ok(p.landing)
    }

    pub async fn cancel(session: &Session) -> Result<(), AppError> {
        session
            .remove::<Pending>(SESSION_KEY)
            .await
            .map(|_| ())
            .map_err(session_error)
    }
}
