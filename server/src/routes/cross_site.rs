//! Refuses state-changing requests that a browser sent from another site
//! (cross-site request forgery, login CSRF). The browser says where a
//! request comes from in `Sec-Fetch-Site`, and older ones in `Origin`; a
//! request that carries neither is not a browser's cross-site request and
//! passes. Bearer-token API calls are not sent by browsers on their own and
//! pass too, as do the endpoints identity providers post to by design.

use crate::routes::error::ApiError;
use app::error::{AppError, ErrorKind};
use app::ssr::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, header};

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_cross_site(
        req.method(),
        req.uri().path(),
        req.headers(),
        &state.settings.public_url,
    ) {
        tracing::warn!(
            method = %req.method(),
            path = %req.uri().path(),
            origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or(""),
            "refused a cross-site request"
        );
        return ApiError(AppError::new(
            ErrorKind::Forbidden,
            "cross_site_request",
            "This request came from another site, so Latchkey refused it. Open Latchkey itself and try again.",
        ))
        .into_response();
    }
    next.run(req).await
}

/// Whether a request changes state on behalf of a browser that was on
/// another site when it sent it.
fn is_cross_site(method: &Method, path: &str, headers: &HeaderMap, public_url: &str) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || posted_to_by_idps(path) {
        return false;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    if bearer {
        return false;
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // `same-site` is another origin too (a sibling subdomain).
        Some(site) => !matches!(site, "same-origin" | "none"),
        None => match headers.get(header::ORIGIN).map(|v| v.to_str()) {
            None => false,
            Some(Ok(origin)) => !is_own_origin(origin, headers, public_url),
            Some(Err(_)) => true,
        },
    }
}

/// The origin is Latchkey's public URL, or the host the request was sent to
/// (an operator who opens it under another name than the public URL).
fn is_own_origin(origin: &str, headers: &HeaderMap, public_url: &str) -> bool {
    if origin.eq_ignore_ascii_case(public_url.trim_end_matches('/')) {
        return true;
    }
    let Some((_, authority)) = origin.split_once("://") else {
        return false;
    };
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

/// Endpoints that identity providers post to by design: back-channel
/// logout (server to server) and third-party-initiated login (a form on the
/// IdP's dashboard; it only starts a sign-in at that same IdP).
fn posted_to_by_idps(path: &str) -> bool {
    (path.starts_with("/sso/")
        && (path.ends_with("/oidc/backchannel-logout") || path.ends_with("/oidc/initiate")))
        || (path.starts_with("/saml/") && path.ends_with("/acs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "https://login.example.com";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    fn post(pairs: &[(&'static str, &str)]) -> bool {
        is_cross_site(&Method::POST, "/api/create_org", &headers(pairs), PUBLIC)
    }

    #[test]
    fn browsers_on_other_sites_are_refused() {
        assert!(post(&[("sec-fetch-site", "cross-site")]));
        assert!(post(&[("sec-fetch-site", "same-site")]));
        assert!(post(&[("origin", "https://evil.example")]));
        assert!(post(&[("origin", "null")]));
        // A look-alike of the public URL is not it.
        assert!(post(&[(
            "origin",
            "https://login.example.com.evil.example"
        )]));
        assert!(post(&[
            ("origin", "https://evil.example"),
            ("host", "login.example.com")
        ]));
        // Sec-Fetch-Site wins over an Origin that looks right.
        assert!(post(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", PUBLIC)
        ]));
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(is_cross_site(
                &method,
                "/api/v1/orgs/acme/members/u1",
                &headers(&[("origin", "https://evil.example")]),
                PUBLIC
            ));
        }
    }

    #[test]
    fn own_pages_tokens_reads_and_idps_pass() {
        assert!(!post(&[]));
        assert!(!post(&[("sec-fetch-site", "same-origin")]));
        assert!(!post(&[("sec-fetch-site", "none")]));
        assert!(!post(&[("origin", PUBLIC)]));
        assert!(!post(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ]));
        assert!(!post(&[
            ("origin", "https://evil.example"),
            ("authorization", "Bearer lk_x")
        ]));
        let evil = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(!is_cross_site(&Method::GET, "/o/acme", &evil, PUBLIC));
        for path in [
            "/sso/org_1/oidc/backchannel-logout",
            "/sso/org_1/oidc/initiate",
        ] {
            assert!(!is_cross_site(&Method::POST, path, &evil, PUBLIC), "{path}");
        }
    }
}
