//! One log line per request: method, path (never the query, which can hold
//! codes and tokens), status, latency and a request id that is also returned
//! in `x-request-id`. Also resolves the client's address once, for every
//! handler and server function after it.

use app::ssr::client_addr::{ClientAddr, resolve};
use app::ssr::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use std::net::SocketAddr;
use std::time::Instant;

/// Puts the client's address ([`ClientAddr`]) into the request: the peer,
/// or the forwarded address when the peer is a trusted proxy.
pub async fn client_addr(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let ip = resolve(peer.ip(), forwarded, &state.settings.trusted_proxies);
        req.extensions_mut().insert(ClientAddr(ip));
    }
    next.run(req).await
}

pub async fn log(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .unwrap_or_else(|| app::ssr::random::lower_alnum(16));
    let method = req.method().clone();
    let path = redacted(req.uri().path());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        req.headers_mut().insert("x-request-id", v);
    }
    let mut res = next.run(req).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = res.status().as_u16();
    if status >= 500 {
        tracing::error!(%method, %path, status, latency_ms, request_id, "request");
    } else {
        tracing::info!(%method, %path, status, latency_ms, request_id, "request");
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// The path as logged: the secrets some paths carry (invitation and email
/// verification tokens, SSO test tickets) are replaced, so logs cannot be used to accept or replay them.
fn redacted(path: &str) -> String {
    for prefix in ["/invite/", "/verify-email/"] {
        if let Some(rest) = path.strip_prefix(prefix)
            && !rest.is_empty()
        {
            return format!("{prefix}[redacted]");
        }
    }
    if let Some((before, _)) = path.split_once("/oidc/test/") {
        return format!("{before}/oidc/test/[redacted]");
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn secrets_in_paths_are_not_logged() {
        assert_eq!(redacted("/invite/inv_abcdef123"), "/invite/[redacted]");
        assert_eq!(
            redacted("/sso/org_1/oidc/test/tkt_secret"),
            "/sso/org_1/oidc/test/[redacted]"
        );
        assert_eq!(redacted("/o/acme/members"), "/o/acme/members");
        assert_eq!(redacted("/invite/"), "/invite/");
        assert_eq!(redacted("/verify-email/abc"), "/verify-email/[redacted]");
    }
}
