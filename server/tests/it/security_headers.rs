//! Every page says who may frame it and which scripts may run: the
//! clickjacking and script-injection defences, checked on real responses.

use crate::common::{Backend, TestApp};
use server::config::ConfigArgs;

#[tokio::test]
async fn pages_run_only_their_own_nonced_scripts_and_cannot_be_framed() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (owner, _) = app.org_with_owner("owner@csp.test", "Csp").await;
    for path in ["/no-such-page", "/orgs/new"] {
        let res = app.get(path, Some(&owner)).await;
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("base-uri 'none'") && csp.contains("object-src 'none'"),
            "{path}: {csp}"
        );
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {csp}"));
        assert!(nonce.len() >= 16, "{path}: nonce {nonce:?}");
        // Every script on the page carries this response's nonce.
        let scripts: Vec<&str> = res.body.split("<script").skip(1).collect();
        assert!(!scripts.is_empty(), "{path}: a console page hydrates");
        for tag in &scripts {
            let open = tag.split('>').next().unwrap_or_default();
            assert!(
                open.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: <script{open}>"
            );
        }
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(res.header("referrer-policy"), Some("same-origin"), "{path}");
        assert_eq!(res.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            res.header("strict-transport-security"),
            None,
            "plain http: no HSTS"
        );
    }
    // Two renders never share a nonce.
    let csp =
        |res: crate::common::TestResponse| res.header("content-security-policy").map(str::to_owned);
    assert_ne!(
        csp(app.get("/no-such-page", None).await),
        csp(app.get("/no-such-page", None).await)
    );

    // Sign-in pages: no script at all, and a policy that runs none.
    for path in [
        "/login",
        "/signup",
        "/login/mfa",
        "/invite/inv_unknown",
        "/sso/no-such-login",
    ] {
        let res = app.get(path, None).await;
        assert!(!res.body.contains("<script"), "{path}: {}", res.body);
        assert!(!res.body.contains(".wasm"), "{path}");
        assert!(res.body.contains("</html>"), "{path}: the page is whole");
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
    }

    // Responses that are not pages get a policy that allows nothing active.
    let res = app.get("/api/v1/health", None).await;
    let csp = res.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
}

#[tokio::test]
async fn https_deployments_send_hsts() {
    let app = TestApp::with_args(
        Backend::Sqlite,
        ConfigArgs {
            public_url: Some("https://login.example.com".into()),
            ..ConfigArgs::default()
        },
    )
    .await;
    let res = app.get("/login", None).await;
    assert_eq!(
        res.header("strict-transport-security"),
        Some("max-age=31536000")
    );
}

/// Content-hashed bundle files are cached for a year and sent compressed
/// to browsers that accept it; other static files for an hour; pages and
/// API answers never.
#[tokio::test]
async fn hashed_assets_are_immutable_and_pages_are_not_stored() {
    let app = crate::common::TestApp::new(crate::common::Backend::Sqlite).await;
    let site = crate::common::tempdir();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    std::fs::write(pkg.join("latchkey.0123456789abcdef.wasm"), b"\0asm").expect("wasm");
    std::fs::write(pkg.join("latchkey.0123456789abcdef.wasm.br"), b"br").expect("br");
    std::fs::write(pkg.join("latchkey.css"), b"body{}").expect("css");
    let mut shared = (*app.state).clone();
    shared.leptos_options.site_root = site.path().display().to_string().into();
    let router = server::routes::router(app::ssr::state::AppState::new(shared));
    let get = |path: &'static str, encoding: Option<&'static str>| {
        let router = router.clone();
        async move {
            use tower::ServiceExt;
            let mut req = http::Request::get(path);
            if let Some(e) = encoding {
                req = req.header(http::header::ACCEPT_ENCODING, e);
            }
            router
                .oneshot(req.body(axum::body::Body::empty()).expect("request"))
                .await
                .expect("infallible")
        }
    };
    let cache = |res: &http::Response<axum::body::Body>| {
        res.headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let wasm = get("/pkg/latchkey.0123456789abcdef.wasm", Some("br")).await;
    assert_eq!(wasm.status(), http::StatusCode::OK);
    assert_eq!(
        cache(&wasm).as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        wasm.headers()
            .get(http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok()),
        Some("br")
    );
    let css = get("/pkg/latchkey.css", None).await;
    assert_eq!(cache(&css).as_deref(), Some("public, max-age=3600"));
    let page = get("/login", None).await;
    assert_eq!(page.status(), http::StatusCode::OK);
    assert_eq!(cache(&page).as_deref(), Some("no-store"));
    let api = get("/api/v1/health", None).await;
    assert_eq!(cache(&api).as_deref(), Some("no-store"));
    let missing = get("/pkg/latchkey.fedcba9876543210.js", None).await;
    assert_eq!(cache(&missing).as_deref(), Some("no-store"));
}
