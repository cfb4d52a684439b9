//! Headers every response carries. HTML pages get a Content-Security-Policy
//! around a nonce chosen here, before the render (which gives it to its
//! inline scripts); other responses a strict default, so nothing else can be
//! framed or run scripts either.

use app::ssr::security_headers::{
    CspNonce, SIGN_IN_PAGE_POLICY, content_security_policy, without_scripts,
};
use app::ssr::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use http::{HeaderValue, header};

pub async fn apply(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let nonce =
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(app::ssr::random::bytes::<16>());
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let sign_in = app::is_sign_in_path(req.uri().path());
    let mut res = next.run(req).await;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && sign_in {
        // Sign-in pages are plain forms: not a byte of script, and a policy
        // that runs none.
        res = scriptless(res).await;
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(SIGN_IN_PAGE_POLICY),
        );
    }
    let h = res.headers_mut();
    if html
        && !sign_in
        && let Ok(v) = HeaderValue::from_str(&content_security_policy(&nonce))
    {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    // URLs can carry secrets (invitation links, test tickets): never tell
    // another site which page linked to it. Same-origin referrers stay, as
    // forms posted without JavaScript are sent back to their page by it.
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    ));
    if state.settings.secure_cookies {
        h.entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static("max-age=31536000"));
    }
    res
}

/// The page without its inline scripts (rendered pages are complete before
/// they are sent, so this buffers nothing that was streaming).
async fn scriptless(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    match axum::body::to_bytes(body, 4 * 1024 * 1024).await {
        Ok(bytes) => {
            let html = without_scripts(&String::from_utf8_lossy(&bytes));
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(html))
        }
        Err(_) => Response::from_parts(parts, axum::body::Body::empty()),
    }
}
