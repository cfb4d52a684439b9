//! Cache rules: content-hashed bundle files (release builds name them in
//! pages) are kept for a year; other static files for an hour; everything
//! else (pages with per-request nonces and personal data, the API, server
//! functions) is never stored, unless a handler said otherwise.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, header};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const STATIC: &str = "public, max-age=3600";
const NEVER: &str = "no-store";

/// Extensions of files served from the site root.
const STATIC_EXTENSIONS: &[&str] = &[
    "js",
    "wasm",
    "css",
    "svg",
    "png",
    "ico",
    "webp",
    "txt",
    "webmanifest",
];

pub async fn apply(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    if res.headers().contains_key(header::CACHE_CONTROL) {
        return res;
    }
    let value = if !res.status().is_success() && !res.status().is_redirection() {
        NEVER
    } else if is_hashed_bundle_file(&path) {
        IMMUTABLE
    } else if is_static_file(&path) {
        STATIC
    } else {
        NEVER
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    res
}

/// `/pkg/<name>.<16 hex>.<ext>`.
fn is_hashed_bundle_file(path: &str) -> bool {
    let Some(file) = path.strip_prefix("/pkg/") else {
        return false;
    };
    let parts: Vec<&str> = file.split('.').collect();
    parts.len() == 3
        && parts[1].len() == 16
        && parts[1].bytes().all(|b| b.is_ascii_hexdigit())
        && ["js", "wasm", "css"].contains(&parts[2])
}

fn is_static_file(path: &str) -> bool {
    !path.starts_with("/api/")
        && path
            .rsplit_once('.')
            .is_some_and(|(_, ext)| STATIC_EXTENSIONS.contains(&ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_files_are_told_apart() {
        assert!(is_hashed_bundle_file("/pkg/latchkey.0123456789abcdef.wasm"));
        assert!(!is_hashed_bundle_file("/pkg/latchkey.wasm"));
        assert!(!is_hashed_bundle_file("/pkg/latchkey.0123456789abcdeg.js"));
        assert!(!is_hashed_bundle_file(
            "/other/latchkey.0123456789abcdef.js"
        ));
        assert!(is_static_file("/favicon.svg"));
        assert!(is_static_file("/pkg/latchkey.css"));
        assert!(!is_static_file("/o/acme"));
        assert!(!is_static_file("/api/v1/openapi.json"));
    }
}
