//! Every page says who may frame it and which scripts may run: the
//! clickjacking and script-injection defences, checked on real responses.

use crate::common::{Backend, TestApp};
use server::config::ConfigArgs;

#[tokio::test]
async fn pages_run_only_their_own_nonced_scripts_and_cannot_be_framed() {
    let app = TestApp::new(Backend::Sqlite).await;
    for path in ["/login", "/signup", "/no-such-page"] {
        let res = app.get(path, None).await;
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
        csp(app.get("/login", None).await),
        csp(app.get("/login", None).await)
    );

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
