//! SAML's public endpoints. Thin: `app::saml` does the work, and a
//! finished sign-in leaves the browser as an OIDC one does.

use super::orgs_api::ClientIp;
use super::sso_flow::{refusal_page, respond, status_of};
use app::saml::SamlError;
use app::saml::flow::{self, AcsForm};
use app::sso::outcome::Refusal;
use app::ssr::state::AppState;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::{StatusCode, header};
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml/{org_id}/metadata", get(metadata))
        .route("/saml/{org_id}/acs", post(acs))
        .route("/saml/{org_id}/test/{ticket}", get(super::sso_flow::test))
        .route("/saml/{org_id}/slo", get(slo))
}

/// `GET /saml/{org_id}/metadata`: the SP metadata, unauthenticated so an
/// IdP can fetch it; 404 for an organization that does not exist.
async fn metadata(State(state): State<AppState>, Path(org_id): Path<String>) -> Response {
    match app::saml::sp::metadata(&state, &org_id).await {
        Ok(Some(xml)) => (
            [
                (header::CONTENT_TYPE, "application/samlmetadata+xml"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            xml,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "No such organization.").into_response(),
        Err(e) => super::error::ApiError(e).into_response(),
    }
}

/// `POST /saml/{org_id}/acs`: the IdP posts the SAMLResponse here (HTTP-
/// POST binding), SP- or IdP-initiated.
async fn acs(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: http::HeaderMap,
    Path(org_id): Path<String>,
    form: Result<Form<AcsForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        let refusal = Refusal::Saml(SamlError::Malformed);
        return refusal_page(status_of(&refusal), &refusal, None);
    };
    let hints = form.hints();
    let request_id = hints.in_response_to.clone();
    let bound = request_id
        .as_deref()
        .and_then(|id| flow::bound_purpose(&state.keys, &headers, id));
    let result = flow::finish(&state, &org_id, &form, hints, bound, ip).await;
    let mut res = respond(&session, result).await;
    // The request is answered either way: its binding goes.
    if let Some(id) = request_id.filter(|_| bound.is_some())
        && let Ok(v) = http::HeaderValue::from_str(&flow::clear_binding_cookie(&id))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// `GET /saml/{org_id}/slo` (HTTP-Redirect binding): the IdP's
/// LogoutRequest, answered with a LogoutResponse; or the IdP's answer to
/// ours, after which the browser lands on the sign-in page.
async fn slo(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: http::HeaderMap,
    Path(org_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let has = |name: &str| url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name);
    if has("SAMLRequest") {
        return match app::saml::slo::idp_logout(&state, &org_id, &query, ip).await {
            Ok(url) => Redirect::to(&url).into_response(),
            Err(refusal) => {
                tracing::info!(code = refusal.code(), "saml logout request refused");
                refusal_page(status_of(&refusal), &refusal, None)
            }
        };
    }
    if has("SAMLResponse") {
        // Signed out here already; the IdP's answer only confirms it there.
        if let Some(id) = app::saml::slo::logout_request_of(&headers)
            && let Err(refusal) =
                app::saml::slo::logout_answered(&state, &org_id, &query, &id).await
        {
            tracing::info!(code = refusal.code(), "saml logout response refused");
        }
        let res = Redirect::to("/login?signed_out=1").into_response();
        return super::sso_flow::with_cookie(res, &app::saml::slo::clear_logout_cookie());
    }
    let refusal = Refusal::Saml(SamlError::Malformed);
    refusal_page(status_of(&refusal), &refusal, None)
}
