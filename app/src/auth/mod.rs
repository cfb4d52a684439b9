//! Accounts and sessions: sign up, sign in, sign out, who is signed in.

#[cfg(feature = "ssr")]
pub mod email_ownership;
mod pages;
pub mod return_to;
#[cfg(feature = "ssr")]
pub mod ssr;

pub(crate) use pages::AuthCard;
pub use pages::{SignInPage, SignOutForm, SignUpPage, VerificationLinkForm, VerifyEmailPage};

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in user, as the UI and API see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub is_operator: bool,
    /// This session's password sign-in was confirmed with a second factor.
    #[serde(default)]
    pub mfa: bool,
    /// This session came from the SSO of this organization (and of no
    /// other): only there does it stand in for MFA and satisfy Require SSO.
    #[serde(default)]
    pub sso_org: Option<String>,
}

impl CurrentUser {
    /// What an organization that requires MFA accepts from this session: a
    /// second factor, or a sign-in through that organization's own IdP.
    /// Another organization's IdP vouches for nothing here.
    pub fn strong_auth_in(&self, org_id: &str) -> bool {
        self.mfa || self.signed_in_through(org_id)
    }

    /// Whether this session came from `org_id`'s single sign-on.
    pub fn signed_in_through(&self, org_id: &str) -> bool {
        self.sso_org.as_deref() == Some(org_id)
    }
}

/// What the session remembers about how its user signed in. The session
/// store copies these fields into its index columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAuth {
    pub user_id: String,
    /// The organization the session was opened through (SSO), if any.
    pub org_id: Option<String>,
    /// `password` or `sso`.
    pub method: String,
    pub created_at: i64,
    #[serde(default)]
    pub idp_sid: Option<String>,
    #[serde(default)]
    pub idp_sub: Option<String>,
    /// The ID token of an SSO sign-in, kept server-side as the
    /// `id_token_hint` of RP-initiated logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_id_token: Option<String>,
    /// A password sign-in confirmed with a TOTP or recovery code (or a
    /// session that enrolled one).
    #[serde(default)]
    pub mfa: bool,
}

/// Where to go after signing in: `return_to` when it is a local path,
/// otherwise the home page (which picks the right console).
pub fn landing_path(return_to: Option<&str>) -> String {
    return_to
        .and_then(return_to::safe_return_to)
        .unwrap_or("/")
        .to_owned()
}

#[server(endpoint = "sign_up")]
pub async fn sign_up(email: String, name: String, password: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    // An address of a domain that signs in with SSO gets its account from
    // the IdP, never a password account someone else could set up first.
    if crate::sso::flow::connection_for_email(&ctx.state, &email)
        .await?
        .is_some()
    {
        return Err(AppError::new(
            crate::error::ErrorKind::Forbidden,
            "sso_required",
            "Your organization signs in with single sign-on: sign in with this email instead, and your account is created there.",
        )
        .on("email"));
    }
    let account = ssr::NewAccount {
        email: &email,
        name: &name,
        password: &password,
    };
    let user = ssr::create_account(&ctx.state.db, account).await?;
    tracing::info!(user_id = %user.id, "account created");
    // Proof of the address: a link by email when SMTP is configured
    // (otherwise a platform operator makes one on request).
    if let Some(mailer) = &ctx.state.mailer {
        let token = email_ownership::issue(&ctx.state.db, &user.id, &user.email).await?;
        let url = email_ownership::verify_url(&ctx.state.settings.public_url, &token);
        mailer.send_email_verification(&user.email, &url);
    }
    ssr::record_sign_in(&ctx.state.db, &user.id).await?;
    let lifetime = ctx.state.settings.password_session_secs;
    ssr::establish_session(&ctx.session, password_session(&user.id), lifetime).await?;
    ctx.redirect("/orgs/new");
    Ok(())
}

/// Opens a verification link (a form post from `/verify-email/{token}`, so
/// link scanners that only fetch pages do not use it up).
#[server(endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    email_ownership::verify(&ctx.state.db, &token).await?;
    ctx.redirect(&format!("/verify-email/{token}?done=1"));
    Ok(())
}

/// A platform operator makes a verification link for an account, to pass on
/// where no SMTP server is configured.
#[server(endpoint = "operator_verification_link")]
pub async fn operator_verification_link(email: String) -> Result<String, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let operator = ctx.require_user().await?;
    if !operator.is_operator {
        return Err(AppError::forbidden("Only platform operators can do this."));
    }
    let email = crate::email::normalize_email(&email)?;
    let user = ssr::find_user_by_email(&ctx.state.db, &email)
        .await?
        .ok_or_else(|| AppError::not_found("There is no account with this email.").on("email"))?;
    if email_ownership::is_verified(&ctx.state.db, &user.id).await? {
        return Err(
            AppError::conflict("already_verified", "This address is already verified.").on("email"),
        );
    }
    let token = email_ownership::issue(&ctx.state.db, &user.id, &user.email).await?;
    Ok(email_ownership::verify_url(
        &ctx.state.settings.public_url,
        &token,
    ))
}

#[server(endpoint = "sign_in")]
pub async fn sign_in(
    email: String,
    password: String,
    return_to: Option<String>,
) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let state = &ctx.state;
    let user =
        ssr::authenticate(&state.db, &state.login_limiter, &email, &password, ctx.ip).await?;
    crate::sso::ssr::check_password_sign_in(&state.db, &state.settings, &user, ctx.ip).await?;
    if crate::mfa::ssr::is_enrolled(&state.db, &user.id).await? {
        // The password was right; the session opens only after the code,
        // and failures are forgiven only then, so password-then-guess
        // rounds cannot reset them.
        crate::mfa::pending::begin(&ctx.session, &user.id, return_to.as_deref()).await?;
        ctx.redirect("/login/mfa");
        return Ok(());
    }
    state.login_limiter.clear(&state.db, &user.email).await?;
    let lifetime = state.settings.password_session_secs;
    ssr::establish_session(&ctx.session, password_session(&user.id), lifetime).await?;
    tracing::info!(user_id = %user.id, "signed in with password");
    ctx.redirect(&landing_path(return_to.as_deref()));
    Ok(())
}

/// Email-first sign-in: an address in a domain whose organization signs in
/// through SSO goes straight to that IdP (with `login_hint`); any other
/// goes to the password step. Which one depends on the domain alone, so the
/// answer never tells whether an account exists.
#[server(endpoint = "sign_in_email")]
pub async fn continue_sign_in(email: String, return_to: Option<String>) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let email = crate::email::normalize_email(&email)?;
    let return_to = return_to
        .as_deref()
        .and_then(return_to::safe_return_to)
        .map(str::to_owned);
    if let Some(conn) = crate::sso::flow::connection_for_email(&ctx.state, &email).await? {
        crate::sso::flow::claim_start(&ctx.state, ctx.ip)
            .await
            .map_err(|r| {
                AppError::new(
                    crate::error::ErrorKind::TooManyRequests,
                    r.code(),
                    r.to_string(),
                )
            })?;
        let begun = crate::sso::flow::begin(
            &ctx.state,
            &conn,
            crate::sso::flow::Purpose::Login,
            return_to.as_deref(),
            Some(&email),
            None,
        )
        .await;
        let refused = |r: crate::sso::flow::Refusal| {
            AppError::unprocessable("sso_unavailable", r.to_string()).on("email")
        };
        let begun = begun.map_err(refused)?;
        ctx.set_cookie(&crate::sso::flow::binding_cookie(
            &begun.state,
            ctx.state.settings.secure_cookies,
        ));
        ctx.redirect(&begun.authorize_url);
        return Ok(());
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("email", &email);
    if let Some(r) = &return_to {
        query.append_pair("return_to", r);
    }
    ctx.redirect(&format!("/login?{}", query.finish()));
    Ok(())
}

/// Ends the session. With `idp` set (the console's "and at <provider>"
/// button), an SSO session continues to the IdP's end-session endpoint
/// (RP-initiated logout), which sends the browser back to `/login`.
#[server(endpoint = "sign_out")]
pub async fn sign_out(idp: Option<String>) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let auth = ssr::session_auth(&ctx.session).await;
    let idp_url = match (&auth, idp.is_some()) {
        (Some(auth), true) => crate::sso::logout::rp_logout_url(&ctx.state, auth).await,
        _ => None,
    };
    ssr::end_session(&ctx.session).await?;
    ctx.redirect(idp_url.as_deref().unwrap_or("/login"));
    Ok(())
}

#[cfg(feature = "ssr")]
pub fn password_session(user_id: &str) -> SessionAuth {
    SessionAuth {
        user_id: user_id.to_owned(),
        org_id: None,
        method: "password".into(),
        created_at: crate::ssr::now(),
        idp_sid: None,
        idp_sub: None,
        idp_id_token: None,
        mfa: false,
    }
}
