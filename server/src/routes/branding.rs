//! The login page logo: uploaded from the console (a plain multipart form)
//! and served publicly with headers that keep an SVG from ever running.

use super::caller::Caller;
use super::orgs_api::ClientIp;
use app::orgs::access;
use app::ssr::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/branding/{org}/logo", get(logo).post(upload))
        // Room for the 256 KiB limit plus multipart framing.
        .layer(DefaultBodyLimit::max(
            app::branding::MAX_LOGO_BYTES + 16 * 1024,
        ))
}

/// `POST /branding/{org}/logo`: back to the Security page either way.
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    mut form: Multipart,
) -> Response {
    let access = match access::resolve(&state.db, caller.into_actor(), &org).await {
        Ok(a) => a,
        Err(e) => return super::error::ApiError::from(e).into_response(),
    };
    let back = format!("/o/{}/settings/security/login-page", access.org_slug);
    let mut bytes = None;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("logo") {
            bytes = field.bytes().await.ok();
            break;
        }
    }
    let saved = match bytes {
        Some(b) => app::branding::ssr::set_logo(&state.db, &access, &b, ip).await,
        None => Err(
            app::error::AppError::unprocessable(app::branding::LOGO_MISSING, "No file").on("logo"),
        ),
    };
    match saved {
        Ok(_) => Redirect::to(&format!("{back}#branding")).into_response(),
        Err(e) if e.kind == app::error::ErrorKind::Forbidden => {
            super::error::ApiError::from(e).into_response()
        }
        // The code is one of ours (letters and underscores), never input.
        Err(e) => Redirect::to(&format!("{back}?logo_error={}#branding", e.code)).into_response(),
    }
}

/// `GET /branding/{org_id}/logo`: public, like the login page it decorates.
async fn logo(State(state): State<AppState>, Path(org_id): Path<String>) -> Response {
    match app::branding::ssr::logo_of_org(&state.db, &org_id).await {
        Ok(Some((kind, bytes))) => {
            let mut res = bytes.into_response();
            let h = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&kind) {
                h.insert(header::CONTENT_TYPE, v);
            }
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            if kind == "image/svg+xml" {
                // Opened directly, it downloads instead of rendering.
                h.insert(
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"logo.svg\""),
                );
            }
            res
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => super::error::ApiError::from(e).into_response(),
    }
}
