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

/// Path segments that are credentials, and how each is recognised: by
/// the segment before it (the routes that carry a secret), or by the
/// token's own prefix wherever it appears. One table, so a new route with
/// a secret in its path is one line here and one test below.
const SECRET_AFTER: [&str; 4] = ["invite", "verify-email", "setup", "test"];
const SECRET_PREFIXES: [&str; 3] = ["lks_", "inv_", "lk_"];

/// The path as logged: every segment that is a credential (an invitation,
/// setup-link or email-verification token, an SSO test ticket) is
/// replaced, so logs cannot be used to accept, open or replay them.
fn redacted(path: &str) -> String {
    let mut previous = "";
    path.split('/')
        .map(|segment| {
            let secret = !segment.is_empty()
                && (SECRET_AFTER.contains(&previous)
                    || SECRET_PREFIXES.iter().any(|p| segment.starts_with(p)));
            previous = segment;
            if secret { "[redacted]" } else { segment }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn secrets_in_paths_are_not_logged() {
        for (path, logged) in [
            ("/invite/inv_abcdef123", "/invite/[redacted]"),
            ("/verify-email/abc", "/verify-email/[redacted]"),
            ("/setup/lks_0123456789abcdef", "/setup/[redacted]"),
            (
                "/sso/org_1/oidc/test/tkt_secret",
                "/sso/org_1/oidc/test/[redacted]",
            ),
            (
                "/saml/org_1/test/abcdefghijklmnop",
                "/saml/org_1/test/[redacted]",
            ),
            // A token pasted anywhere else in a path.
            ("/o/lks_leaked/x", "/o/[redacted]/x"),
            ("/o/acme/members", "/o/acme/members"),
            ("/invite/", "/invite/"),
            ("/api/v1/orgs/acme/sso/test", "/api/v1/orgs/acme/sso/test"),
        ] {
            assert_eq!(redacted(path), logged, "{path}");
        }
    }
}
