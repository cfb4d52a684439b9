//! The Content-Security-Policy of every rendered page, built around the
//! per-request nonce leptos_axum puts in each render's context (the
//! hydration script and the resource data scripts carry it).

use http::{HeaderValue, header};
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

/// Sets the policy on the response being rendered (call it from the shell).
pub fn set_for_this_page() {
    let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        res.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
