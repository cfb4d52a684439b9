//! The Content-Security-Policy of every rendered page, built around a
//! per-request nonce: the server picks it before rendering, sends it in the
//! header, and the render gives it to every inline script (the hydration
//! script and the resource data scripts carry Leptos' nonce).

use leptos::prelude::use_context;

/// The policy for a page whose inline scripts carry `nonce`. No
/// `form-action`: a form post answered with a redirect to an identity
/// provider would otherwise be blocked.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
}

/// The policy of a sign-in page: no script runs there at all (the pages are
/// plain forms), so an injected one could not either.
pub const SIGN_IN_PAGE_POLICY: &str = "default-src 'self'; script-src 'none'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'none'; \
     frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// `html` without its `<script>…</script>` elements. On a page that is not
/// hydrated they are only the data Leptos leaves for a hydration that never
/// comes.
pub fn without_scripts(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</script>") {
            Some(end) => rest = &rest[start + end + "</script>".len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The nonce the server chose for this request (a request extension): the
/// one its Content-Security-Policy header names.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// Makes this render use the request's nonce for its inline scripts (the
/// hydration script, resource data). Call it from the render context, after
/// leptos_axum provided its own.
pub fn provide_request_nonce() {
    let nonce = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(n)) = nonce {
        leptos::prelude::provide_context(leptos::nonce::Nonce::from_value(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_cut_out_and_the_rest_kept() {
        assert_eq!(
            without_scripts("<p>a</p><script nonce=\"n\">x=1;</script><p>b</p><script>y</script>"),
            "<p>a</p><p>b</p>"
        );
        assert_eq!(without_scripts("<p>no scripts</p>"), "<p>no scripts</p>");
        // An unclosed script is dropped to the end, never kept.
        assert_eq!(without_scripts("<p>a</p><script>x"), "<p>a</p>");
    }

    #[test]
    fn the_policy_allows_only_nonced_scripts_and_no_framing() {
        let p = content_security_policy("abc123");
        assert!(
            p.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"),
            "{p}"
        );
        assert!(!p.contains("unsafe-eval'") || p.contains("'wasm-unsafe-eval'"));
        for d in [
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ] {
            assert!(p.contains(d), "{p} lacks {d}");
        }
        assert!(
            !p.contains("form-action"),
            "redirects to IdPs after a form post must work"
        );
    }
}
