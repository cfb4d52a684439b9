//! Signing in: the sign-up, sign-in and sign-out pages and their server
//! functions. The sign-in page is where a method is chosen (home-realm
//! discovery sends an SSO domain to its IdP, an enrolled account on to its
//! second factor), so this module sits above the methods and the identity
//! layer: neither a method nor the identity layer imports it.

mod pages;
mod sso_link;
pub mod switch;

pub use pages::{SignInPage, SignOutForm, SignUpPage, VerificationLinkForm, VerifyEmailPage};
pub use sso_link::SsoLinkPage;
pub use switch::SwitchPage;

use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "sign_up")]
pub async fn sign_up(email: String, name: String, password: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    crate::sso::connection::refuse_password_account(&ctx.state, &email).await?;
    let account = crate::identity::accounts::NewAccount {
        email: &email,
        name: &name,
        password: &password,
    };
    let user = crate::identity::accounts::create_account(&ctx.state.db, account).await?;
    tracing::info!(user_id = %user.id, "account created");
    // Proof of the address: a link by email when SMTP is configured
    // (otherwise a platform operator makes one on request).
    if let Some(mailer) = &ctx.state.mailer {
        let token =
            crate::identity::email_ownership::issue(&ctx.state.db, &user.id, &user.email).await?;
        let url =
            crate::identity::email_ownership::verify_url(&ctx.state.settings.public_url, &token);
        mailer.send_email_verification(&user.email, &url);
    }
    crate::identity::accounts::record_sign_in(&ctx.state.db, &user.id).await?;
    let lifetime = ctx.state.settings.password_session_secs;
    crate::identity::sessions::establish_session(
        &ctx.session,
        crate::identity::sessions::password_session(&user.id),
        lifetime,
    )
    .await?;
    ctx.redirect("/orgs/new");
    Ok(())
}

/// Opens a verification link (a form post from `/verify-email/{token}`, so
/// link scanners that only fetch pages do not use it up).
#[server(endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    crate::identity::email_ownership::verify(&ctx.state.db, &token).await?;
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
    let user = crate::identity::accounts::find_user_by_email(&ctx.state.db, &email)
        .await?
        .ok_or_else(|| AppError::not_found("There is no account with this email.").on("email"))?;
    if user.email_verified {
        return Err(
            AppError::conflict("already_verified", "This address is already verified.").on("email"),
        );
    }
    let token =
        crate::identity::email_ownership::issue(&ctx.state.db, &user.id, &user.email).await?;
    let url = crate::identity::email_ownership::verify_url(&ctx.state.settings.public_url, &token);
    crate::ssr::flash::put(&ctx, VERIFICATION_LINK_KEY, &url).await?;
    Ok(url)
}

#[cfg(feature = "ssr")]
const VERIFICATION_LINK_KEY: &str = "verification_link";

/// The verification link just made on the operator page, once.
#[server(endpoint = "new_verification_link")]
pub async fn new_verification_link() -> Result<Option<String>, AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let operator = ctx.require_user().await?;
    if !operator.is_operator {
        return Err(AppError::forbidden("Only platform operators can do this."));
    }
    Ok(crate::ssr::flash::take(&ctx, VERIFICATION_LINK_KEY).await)
}

#[server(endpoint = "sign_in")]
pub async fn sign_in(
    email: String,
    password: String,
    return_to: Option<String>,
) -> Result<(), AppError> {
    let ctx = crate::ssr::request::RequestCtx::current()?;
    let state = &ctx.state;
    let user = crate::identity::password::authenticate(
        &state.db,
        &state.login_limiter,
        &email,
        &password,
        ctx.ip,
    )
    .await?;
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
    crate::identity::sessions::establish_session(
        &ctx.session,
        crate::identity::sessions::password_session(&user.id),
        lifetime,
    )
    .await?;
    tracing::info!(user_id = %user.id, "signed in with password");
    ctx.redirect(&crate::return_to::landing_path(return_to.as_deref()));
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
        .and_then(crate::return_to::safe_return_to)
        .map(str::to_owned);
    if let Some(conn) = crate::sso::connection::connection_for_email(&ctx.state, &email).await? {
        crate::sso::outcome::claim_start(&ctx.state.db, ctx.ip)
            .await
            .map_err(|r| {
                AppError::new(
                    crate::error::ErrorKind::TooManyRequests,
                    r.code(),
                    r.to_string(),
                )
            })?;
        if !conn.is_oidc() {
            // SAML: the start endpoint sends the AuthnRequest.
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            if let Some(r) = &return_to {
                query.append_pair("return_to", r);
            }
            ctx.redirect(&format!("/sso/{}/start?{}", conn.login_id, query.finish()));
            return Ok(());
        }
        let begun = crate::sso::flow::begin(
            &ctx.state,
            &conn,
            crate::sso::connection::Purpose::Login,
            return_to.as_deref(),
            Some(&email),
        )
        .await;
        let refused = |r: crate::sso::outcome::Refusal| {
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
    let auth = crate::identity::sessions::session_auth(&ctx.session).await?;
    let idp_url = match (&auth, idp.is_some()) {
        (Some(auth), true) if auth.idp_id_token.is_some() => {
            crate::sso::logout::rp_logout_url(&ctx.state, auth).await
        }
        (Some(auth), true) => match crate::saml::slo::sp_logout(&ctx.state, auth).await {
            Some((id, url)) => {
                let secure = ctx.state.settings.secure_cookies;
                ctx.set_cookie(&crate::saml::slo::logout_cookie(&id, secure));
                Some(url)
            }
            None => None,
        },
        _ => None,
    };
    crate::identity::sessions::end_session(&ctx.session).await?;
    ctx.redirect(idp_url.as_deref().unwrap_or("/login"));
    Ok(())
}
