//! The browser side of SSO: start at the IdP, come back to the callback,
//! start a test from a one-time link. Thin: the checks live in
//! `app::sso::flow`; this maps their outcome to redirects and pages.

use super::orgs_api::ClientIp;
use app::sso::connection::{self, Connection, Purpose};
use app::sso::flow::{self, CallbackParams};
use app::sso::outcome::{self, Failure, Finished, Refusal};
use app::ssr::state::AppState;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use http::StatusCode;
use serde::Deserialize;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sso/{login_id}/start", get(start))
        .route("/sso/{org_id}/oidc/callback", get(callback))
        .route("/sso/{org_id}/oidc/test/{ticket}", get(test))
        .route(
            "/sso/{org_id}/oidc/initiate",
            get(initiate_get).post(initiate_post),
        )
}

#[derive(Debug, Default, Deserialize)]
pub struct StartParams {
    pub return_to: Option<String>,
    pub login_hint: Option<String>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A plain page explaining a refused sign-in; no script, nothing to hydrate.
pub(super) fn refusal_page(status: StatusCode, refusal: &Refusal, retry: Option<&str>) -> Response {
    let retry = retry
        .map(|href| {
            format!(
                r#"<p><a class="button primary" href="{}">Try again</a></p>"#,
                escape(href)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign-in refused · Latchkey</title><link rel="stylesheet" href="/pkg/latchkey.css"></head><body><main class="auth-page"><div class="auth-card"><h1>Sign-in refused</h1><p class="form-error" role="alert" data-code="{code}">{message}</p><p class="muted">If this keeps happening, tell your organization's admin: error <code>{code}</code>.</p>{retry}</div></main></body></html>"#,
        code = refusal.code(),
        message = escape(&refusal.to_string()),
    );
    (status, Html(body)).into_response()
}

pub(super) fn status_of(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::UnknownLogin => StatusCode::NOT_FOUND,
        Refusal::NotEnabled
        | Refusal::Deactivated
        | Refusal::NotProvisioned(_)
        | Refusal::AccountOfAnotherIdp(_) => StatusCode::FORBIDDEN,
        Refusal::Unreachable(_) => StatusCode::BAD_GATEWAY,
        Refusal::TooManyStarts | Refusal::TooManyFailures => StatusCode::TOO_MANY_REQUESTS,
        Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Starts a flow and sends the browser to the IdP. Nothing is written to the
/// server session: the flow is bound to the browser by its own cookie.
/// `claimed` is the start's rate-limit answer (`outcome::claim_start`),
/// with the OIDC flow's record when the caller already wrote it on its own
/// connection; without one it is written here.
async fn redirect_to_idp(
    state: &AppState,
    claimed: Result<Option<flow::Recorded>, Refusal>,
    conn: &Connection,
    purpose: Purpose,
    params: &StartParams,
    setup_link: Option<&str>,
) -> Response {
    let retry = format!("/sso/{}", conn.login_id);
    let recorded = match claimed {
        Ok(recorded) => recorded,
        Err(r) => return refusal_page(status_of(&r), &r, Some(&retry)),
    };
    if !conn.is_oidc() {
        let begun = app::saml::flow::begin(
            state,
            conn,
            purpose,
            params.return_to.as_deref(),
            setup_link,
        )
        .await;
        return match begun {
            Ok(b) => {
                let cookie = app::saml::flow::binding_cookie(
                    &state.keys,
                    &b.request_id,
                    purpose,
                    state.settings.secure_cookies,
                );
                with_cookie(Redirect::to(&b.url).into_response(), &cookie)
            }
            Err(r) => refusal_page(status_of(&r), &r, Some(&retry)),
        };
    }
    let recorded = match recorded {
        Some(r) => Ok(r),
        None => {
            let return_to = params.return_to.as_deref();
            flow::record(&state.db, conn, purpose, return_to, setup_link).await
        }
    };
    let begun = match recorded {
        Ok(r) => flow::authorize(state, conn, r, params.login_hint.as_deref()).await,
        Err(r) => Err(r),
    };
    match begun {
        Ok(b) => {
            let cookie = flow::binding_cookie(&b.state, state.settings.secure_cookies);
            with_cookie(Redirect::to(&b.authorize_url).into_response(), &cookie)
        }
        Err(r) => refusal_page(status_of(&r), &r, Some(&retry)),
    }
}

pub(super) fn with_cookie(mut res: Response, cookie: &str) -> Response {
    if let Ok(v) = http::HeaderValue::from_str(cookie) {
        res.headers_mut().append(http::header::SET_COOKIE, v);
    }
    res
}

/// `GET /sso/{login_id}/start`: off to the organization's IdP.
async fn start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(login_id): Path<String>,
    Query(params): Query<StartParams>,
) -> Response {
    // The connection, the rate limit and an OIDC flow's record on one
    // pooled connection (each statement on the pool would cost a second
    // round trip: sqlx pings every connection returned to it), given back
    // before the IdP's metadata may be fetched.
    let looked_up = async {
        let mut db = state.db.acquire().await?;
        let Some(conn) = connection::connection_by_login_id(&mut *db, &login_id).await? else {
            return Ok(None);
        };
        let claimed = match outcome::claim_start(&mut *db, ip).await {
            Ok(()) if conn.is_oidc() => {
                let return_to = params.return_to.as_deref();
                flow::record(&mut *db, &conn, Purpose::Login, return_to, None)
                    .await
                    .map(Some)
            }
            other => other.map(|()| None),
        };
        Ok::<_, app::error::AppError>(Some((conn, claimed)))
    }
    .await;
    match looked_up {
        Ok(Some((conn, claimed))) => {
            redirect_to_idp(&state, claimed, &conn, Purpose::Login, &params, None).await
        }
        Ok(None) => refusal_page(StatusCode::NOT_FOUND, &Refusal::UnknownLogin, None),
        Err(_) => refusal_page(StatusCode::INTERNAL_SERVER_ERROR, &Refusal::Internal, None),
    }
}

/// `GET /sso/{org_id}/oidc/test/{ticket}` (and `/saml/{org_id}/test/…`):
/// a one-time link that runs a test.
pub(super) async fn test(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((org_id, ticket)): Path<(String, String)>,
) -> Response {
    let redeemed = outcome::redeem_test_ticket(&state.db, &org_id, &ticket).await;
    let (conn, setup_link) = match redeemed {
        Ok(outcome::Ticket::Valid { setup_link }) => (
            connection::connection_for_test(&state, &org_id).await,
            setup_link,
        ),
        Ok(outcome::Ticket::Invalid) => {
            return refusal_page(StatusCode::NOT_FOUND, &Refusal::UnknownState, None);
        }
        Err(e) => (Err(e), None),
    };
    match conn {
        Ok(Some(conn)) => {
            let claimed = outcome::claim_start(&state.db, ip).await.map(|()| None);
            redirect_to_idp(
                &state,
                claimed,
                &conn,
                Purpose::Test,
                &StartParams::default(),
                setup_link.as_deref(),
            )
            .await
        }
        Ok(None) => refusal_page(StatusCode::NOT_FOUND, &Refusal::UnknownLogin, None),
        Err(_) => refusal_page(StatusCode::INTERNAL_SERVER_ERROR, &Refusal::Internal, None),
    }
}

/// `GET /sso/{org_id}/oidc/callback`: the IdP sends the browser back here.
async fn callback(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: http::HeaderMap,
    Path(org_id): Path<String>,
    Query(params): Query<CallbackParams>,
) -> Response {
    let bound = params
        .state
        .as_deref()
        .is_some_and(|s| flow::is_bound(&headers, s));
    let mut res = finish_callback(&state, &session, &org_id, &params, bound, ip).await;
    // The flow is over either way: its binding goes.
    if let Some(s) = params.state.as_deref()
        && let Ok(v) = http::HeaderValue::from_str(&flow::clear_binding_cookie(s))
    {
        res.headers_mut().append(http::header::SET_COOKIE, v);
    }
    res
}

async fn finish_callback(
    state: &AppState,
    session: &Session,
    org_id: &str,
    params: &CallbackParams,
    bound: bool,
    ip: Option<std::net::IpAddr>,
) -> Response {
    let result = flow::finish(state, org_id, params, bound, ip).await;
    respond(session, result).await
}

/// Where a finished flow leaves the browser, whatever its protocol: signed
/// in, asked to link an account, back at the test result, or refused.
pub(super) async fn respond(session: &Session, result: Result<Finished, Failure>) -> Response {
    match result {
        Ok(Finished::SignedIn {
            auth,
            lifetime_secs,
            landing,
        }) => {
            // A browser signed in as someone else is asked first (login CSRF).
            let asked =
                app::auth::switch::ssr::sign_in_or_ask(session, auth, lifetime_secs, landing).await;
            match asked {
                Ok(next) => Redirect::to(&next).into_response(),
                Err(_) => refusal_page(StatusCode::INTERNAL_SERVER_ERROR, &Refusal::Internal, None),
            }
        }
        Ok(Finished::LinkRequired(link)) => {
            match app::sso::link::ssr::store(session, &link).await {
                Ok(()) => Redirect::to("/login/sso-link").into_response(),
                Err(_) => refusal_page(StatusCode::INTERNAL_SERVER_ERROR, &Refusal::Internal, None),
            }
        }
        Ok(Finished::Tested { org_slug }) => {
            Redirect::to(&format!("/o/{org_slug}/settings/security/sso#sso-test")).into_response()
        }
        Err(failure) => match (&failure.connection, failure.purpose) {
            (Some(conn), Purpose::Test) => Redirect::to(&format!(
                "/o/{}/settings/security/sso#sso-test",
                conn.org_slug
            ))
            .into_response(),
            (conn, _) => {
                let retry = conn.as_ref().map(|c| format!("/sso/{}", c.login_id));
                refusal_page(
                    status_of(&failure.refusal),
                    &failure.refusal,
                    retry.as_deref(),
                )
            }
        },
    }
}

/// A third-party-initiated login request (OpenID Connect Core §4).
#[derive(Debug, Default, Deserialize)]
pub struct InitiateParams {
    pub iss: Option<String>,
    pub login_hint: Option<String>,
    pub target_link_uri: Option<String>,
}

/// `target_link_uri` as a local path, when it points at this server.
fn same_origin_path(public_url: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return app::return_to::safe_return_to(target).map(str::to_owned);
    }
    let ours = url::Url::parse(public_url).ok()?;
    let theirs = url::Url::parse(target).ok()?;
    if ours.origin() != theirs.origin() {
        return None;
    }
    let path = match theirs.query() {
        Some(q) => format!("{}?{q}", theirs.path()),
        None => theirs.path().to_owned(),
    };
    app::return_to::safe_return_to(&path).map(str::to_owned)
}

async fn initiate(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    org_id: &str,
    params: InitiateParams,
) -> Response {
    let conn = match connection::connection_by_org(&state.db, org_id).await {
        Ok(Some(conn)) if conn.is_oidc() => conn,
        Ok(_) => return refusal_page(StatusCode::NOT_FOUND, &Refusal::UnknownLogin, None),
        Err(_) => {
            return refusal_page(StatusCode::INTERNAL_SERVER_ERROR, &Refusal::Internal, None);
        }
    };
    // The request must name the configured issuer; anyone can send one.
    if params.iss.as_deref() != Some(conn.issuer.as_str()) {
        let named = params.iss.unwrap_or_else(|| "nobody".into());
        let refusal = Refusal::IssuerMismatch(named.chars().take(200).collect());
        return refusal_page(
            StatusCode::BAD_REQUEST,
            &refusal,
            Some(&format!("/sso/{}", conn.login_id)),
        );
    }
    let start = StartParams {
        return_to: params
            .target_link_uri
            .as_deref()
            .and_then(|t| same_origin_path(&state.settings.public_url, t)),
        login_hint: params.login_hint,
    };
    let claimed = outcome::claim_start(&state.db, ip).await.map(|()| None);
    redirect_to_idp(state, claimed, &conn, Purpose::Login, &start, None).await
}

/// `GET /sso/{org_id}/oidc/initiate`: the IdP's dashboard starts a sign-in.
async fn initiate_get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(org_id): Path<String>,
    Query(params): Query<InitiateParams>,
) -> Response {
    initiate(&state, ip, &org_id, params).await
}

/// The same, sent as a form post.
async fn initiate_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(org_id): Path<String>,
    Form(params): Form<InitiateParams>,
) -> Response {
    initiate(&state, ip, &org_id, params).await
}
