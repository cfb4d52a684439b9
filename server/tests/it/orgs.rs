use crate::common::{Backend, PASSWORD, TestApp};
use crate::db_test;
use http::StatusCode;

db_test!(creating_an_org_makes_the_creator_owner, |app| {
    let cookie = app.sign_up("owner@example.com").await;
    let res = app
        .server_fn("create_org", &[("name", "Acme Corp.")], Some(&cookie))
        .await;
    assert!(
        res.status.is_redirection() || res.status.is_success(),
        "{res:?}"
    );
    assert_eq!(res.location(), Some("/o/acme-corp"));

    // Same name again: a distinct slug.
    let res = app
        .server_fn("create_org", &[("name", "Acme Corp.")], Some(&cookie))
        .await;
    assert_eq!(res.location(), Some("/o/acme-corp-2"));

    let me = app.get("/api/v1/me", Some(&cookie)).await.json();
    let orgs = me["orgs"].as_array().expect("orgs");
    assert_eq!(orgs.len(), 2);
    assert!(orgs.iter().all(|o| o["role"] == "owner"));
    let id = orgs[0]["org_id"].as_str().expect("id");
    assert!(id.starts_with('o') && id.len() == 16, "{id}");

    let res = app
        .server_fn("list_members", &[("org", "acme-corp")], Some(&cookie))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let members = res.json()["members"].clone();
    assert_eq!(members.as_array().map(Vec::len), Some(1));
    assert_eq!(members[0]["email"], "owner@example.com");
    assert_eq!(members[0]["role"], "owner");
    assert_eq!(members[0]["status"], "active");
});

db_test!(org_names_are_validated, |app| {
    let cookie = app.sign_up("v@example.com").await;
    for bad in ["", "   ", "line\nbreak"] {
        let res = app
            .server_fn("create_org", &[("name", bad)], Some(&cookie))
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad:?}: {}",
            res.body
        );
        assert_eq!(res.json()["field"], "name");
    }
    let me = app.get("/api/v1/me", Some(&cookie)).await.json();
    assert_eq!(
        me["orgs"].as_array().map(Vec::len),
        Some(0),
        "nothing was created"
    );
});

db_test!(non_members_cannot_see_an_org, |app| {
    let owner = app.sign_up("o@example.com").await;
    app.server_fn("create_org", &[("name", "Private")], Some(&owner))
        .await;
    let other = app.sign_up("x@example.com").await;
    for endpoint in ["console_context", "list_members"] {
        let res = app
            .server_fn(endpoint, &[("org", "private")], Some(&other))
            .await;
        assert_eq!(
            res.status,
            StatusCode::NOT_FOUND,
            "{endpoint}: {}",
            res.body
        );
        assert!(!res.body.contains("o@example.com"));
    }
    let res = app
        .server_fn("list_members", &[("org", "private")], None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = app.server_fn("create_org", &[("name", "Anon")], None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
});

#[tokio::test]
async fn console_pages_render_on_the_server_and_guard_access() {
    let app = TestApp::new(Backend::Sqlite).await;
    // Signed out: a real redirect to sign-in, remembering where to return.
    let res = app.get("/o/acme/members", None).await;
    assert!(res.status.is_redirection(), "{res:?}");
    assert_eq!(res.location(), Some("/login?return_to=/o/acme/members"));

    let cookie = app.sign_up("pages@example.com").await;
    app.server_fn("create_org", &[("name", "Acme")], Some(&cookie))
        .await;
    for (path, text) in [
        ("/o/acme", "Organization ID"),
        ("/o/acme/members", "pages@example.com"),
        ("/o/acme/settings/security", "Single sign-on"),
        ("/o/acme/settings/security/domains", "Add domain"),
        (
            "/o/acme/settings/security/sso",
            "Connect your identity provider",
        ),
        (
            "/o/acme/settings/security/provisioning",
            "Nothing to provision yet",
        ),
        (
            "/o/acme/settings/security/two-factor",
            "Two-factor authentication",
        ),
        ("/o/acme/settings/security/login-page", "Apply branding"),
        (
            "/o/acme/settings/security/sso?guide=okta&protocol=oidc",
            "Sign-in redirect URIs",
        ),
        (
            "/o/acme/settings/security/sso?guide=entra-id-saml&protocol=saml",
            "Reply URL (Assertion Consumer Service URL)",
        ),
        ("/o/acme/audit", "org.created"),
    ] {
        let res = app.get(path, Some(&cookie)).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(res.body.contains(text), "{path} lacks {text:?}");
        assert!(res.body.contains("Acme"), "{path} shows the org switcher");
    }
    // `/` sends a signed-in member to their organization.
    let res = app.get("/", Some(&cookie)).await;
    assert_eq!(res.location(), Some("/o/acme"));
    let res = app.get("/", None).await;
    assert_eq!(res.location(), Some("/login"));
    let res = app.get("/no/such/page", None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bootstrap_creates_an_owner_with_a_working_token() {
    let app = TestApp::new(Backend::Sqlite).await;
    let out = server::bootstrap(&app.state, "boot@example.com", PASSWORD, "Boot Org")
        .await
        .expect("bootstrap");
    assert_eq!(out.org_slug, "boot-org");
    assert!(out.api_token.starts_with("lk_"));
    let res = app.get_with_token("/api/v1/me", &out.api_token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let me = res.json();
    assert_eq!(me["user_id"], out.user_id.as_str());
    assert_eq!(me["authenticated_by"], "token");
    assert_eq!(me["orgs"][0]["org_id"], out.org_id.as_str());

    // Again with the same email: same user, a second organization.
    let again = server::bootstrap(
        &app.state,
        "boot@example.com",
        "another password",
        "Boot Org",
    )
    .await
    .expect("bootstrap again");
    assert_eq!(again.user_id, out.user_id);
    assert_ne!(again.org_id, out.org_id);
    // The password was not changed by the second run.
    let res = app.sign_in("boot@example.com", PASSWORD, None).await;
    assert!(res.session_cookie().is_some(), "{res:?}");
}

/// Leptos stops resources from loading, process-wide, while it generates a
/// route list. Building routers elsewhere (as parallel tests do) must never
/// leave a page here waiting forever for its data.
#[tokio::test]
async fn pages_render_while_other_routers_are_built() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let app = TestApp::new(Backend::Sqlite).await;
    let cookie = app.sign_up("busy@example.com").await;
    app.server_fn("create_org", &[("name", "Busy")], Some(&cookie))
        .await;
    let stop = Arc::new(AtomicBool::new(false));
    let builder = {
        let (stop, state) = (stop.clone(), app.state.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let mut built = 0u32;
            while !stop.load(Ordering::Relaxed) {
                rt.block_on(async { drop(server::routes::router(state.clone())) });
                built += 1;
            }
            built
        })
    };
    for _ in 0..300 {
        let res = app.get("/", Some(&cookie)).await;
        assert_eq!(res.location(), Some("/o/busy"));
    }
    stop.store(true, Ordering::Relaxed);
    let built = builder.join().expect("builder thread");
    assert!(built > 0, "no router was built alongside the requests");
}
