//! `/sso/{org_id}/oidc/backchannel-logout`: the IdP's logout tokens. Thin:
//! every check lives in `app::sso::logout`. Answers are never cached
//! (Back-Channel Logout §2.8); a refusal is 400 with a JSON error.

use super::error::{ErrorBody, ErrorDetail};
use super::orgs_api::ClientIp;
use app::sso::logout::{self, LogoutRefusal};
use app::ssr::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/sso/{org_id}/oidc/backchannel-logout",
        post(backchannel_logout),
    )
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn backchannel_logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(org_id): Path<String>,
    body: Bytes,
) -> Response {
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned());
    let res = match logout::back_channel(&state, &org_id, token.as_deref(), ip).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(refusal) => {
            let status = match refusal {
                LogoutRefusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            tracing::info!(code = refusal.code(), "back-channel logout refused");
            let body = ErrorBody {
                error: ErrorDetail {
                    code: refusal.code().into(),
                    message: refusal.to_string(),
                    field: Some("logout_token".into()),
                },
            };
            (status, Json(body)).into_response()
        }
    };
    no_store(res)
}
