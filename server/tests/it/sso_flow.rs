//! The SSO sign-in against an IdP of our own that signs ID tokens with keys
//! it controls, so each way a provider (or an attacker) can misbehave is
//! tried: every one must be refused with no session and no account.

use crate::common::{Auth, Backend};
use crate::sso_idp::*;
use http::StatusCode;
use serde_json::{Value, json};

async fn good_flow(backend: Backend) {
    let s = setup(backend).await;
    let started = start(
        &s,
        &format!("/sso/{}/start?return_to=/o/flow-co/members", s.login_id),
    )
    .await;
    assert_eq!(
        started.query["redirect_uri"],
        format!(
            "{}/sso/{}/oidc/callback",
            s.app.state.settings.public_url, s.org_id
        )
    );
    let code = s.idp.authorize(&started.query);
    let res = callback(
        &s,
        &[
            ("code", &code),
            ("state", &started.query["state"]),
            ("iss", &s.idp.base),
        ],
        Some(&started.cookie),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), Some("/o/flow-co/members"));
    let cookie = session_cookie(&res).expect("a new session id");
    assert_ne!(
        cookie, started.cookie,
        "the session id is cycled at sign-in"
    );
    let me = s.app.get("/api/v1/me", Some(&cookie)).await.json();
    assert_eq!(me["email"], "ada@flow.test");
    assert_eq!(me["orgs"][0]["slug"], "flow-co");
    let (method, sub): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT method, idp_sub FROM sessions WHERE user_id IS NOT NULL AND method = 'sso'",
    )
    .fetch_one(&s.app.state.db)
    .await
    .expect("the session index records the sign-in");
    assert_eq!(
        (method.as_deref(), sub.as_deref()),
        (Some("sso"), Some("user-1"))
    );

    // The account SSO created has no password; the password form answers
    // as for any wrong password (and as for an address with no account),
    // so it tells nobody the address has an SSO account.
    let res = s
        .app
        .sign_in("ada@flow.test", "any password at all", None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["code"], "invalid_credentials", "{}", res.body);
    let unknown = s
        .app
        .sign_in("nobody@flow.test", "any password at all", None)
        .await;
    assert_eq!(unknown.json()["message"], res.json()["message"]);

    // The callback cannot be replayed: the state was used up.
    let replay = callback(
        &s,
        &[
            ("code", &code),
            ("state", &started.query["state"]),
            ("iss", &s.idp.base),
        ],
        Some(&started.cookie),
    )
    .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_code(&replay, "expired");

    // Next time the same (iss, sub) is the same user, even with a new email.
    let (res, _) = sign_in_with(
        &s,
        Plan {
            claims: vec![("email".into(), json!("ada.l@flow.test"))],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(users_named(&s, "ada@flow.test").await, 1);
    assert_eq!(users_named(&s, "ada.l@flow.test").await, 0);
    let members = s
        .app
        .api(
            "GET",
            "/api/v1/orgs/flow-co/members",
            Auth::Cookie(&cookie),
            None,
        )
        .await;
    assert!(members.body.contains("ada@flow.test"), "{}", members.body);
}

crate::on_each_backend!(good_flow);

#[tokio::test]
async fn every_misbehaving_answer_is_refused_without_a_session() {
    let s = setup(Backend::Sqlite).await;
    let claim = |k: &str, v: Value| Plan {
        claims: vec![(k.into(), v)],
        ..Default::default()
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_refused(&s, claim("iss", json!("https://evil.example")), "id_token").await;
    assert_refused(&s, claim("aud", json!("another-client")), "id_token").await;
    assert_refused(&s, claim("exp", json!(now - 120)), "id_token").await;
    assert_refused(&s, claim("iat", json!(now + 600)), "id_token").await;
    assert_refused(&s, claim("nonce", json!("not-the-nonce")), "id_token").await;
    assert_refused(&s, claim("azp", json!("another-client")), "id_token").await;
    let bad_sig = Plan {
        tamper_signature: true,
        ..Default::default()
    };
    assert_refused(&s, bad_sig, "id_token").await;
    let none = Plan {
        header_alg_none: true,
        ..Default::default()
    };
    assert_refused(&s, none, "id_token").await;
    let other_user = Plan {
        userinfo_sub: Some("user-2".into()),
        ..Default::default()
    };
    assert_refused(&s, other_user, "userinfo_mismatch").await;
    // A new identity's email must be verified and in a verified domain.
    let newcomer = |email: &str, verified: Value| Plan {
        claims: vec![
            ("sub".into(), json!(format!("sub-{email}"))),
            ("email".into(), json!(email)),
            ("email_verified".into(), verified),
        ],
        ..Default::default()
    };
    assert_refused(
        &s,
        newcomer("eve@flow.test", json!(false)),
        "email_unverified",
    )
    .await;
    assert_refused(
        &s,
        newcomer("eve@elsewhere.test", json!(true)),
        "domain_not_verified",
    )
    .await;
    let no_email = Plan {
        claims: vec![
            ("sub".into(), json!("sub-x")),
            ("email".into(), Value::Null),
        ],
        ..Default::default()
    };
    assert_refused(&s, no_email, "no_email").await;
    assert_eq!(
        users_named(&s, "eve@flow.test").await,
        0,
        "no account created"
    );
    assert_eq!(users_named(&s, "eve@elsewhere.test").await, 0);
    let no_sub = claim("sub", Value::Null);
    let (res, cookie) = sign_in_with(&s, no_sub).await;
    assert!(res.status.is_client_error(), "{}", res.body);
    assert!(!is_signed_in(&s, &cookie).await);

    // Callback problems that never reach the token endpoint.
    let started = start(&s, &format!("/sso/{}/start", s.login_id)).await;
    let code = s.idp.authorize(&started.query);
    let state = started.query["state"].clone();
    let res = callback(
        &s,
        &[
            ("code", &code),
            ("state", &state),
            ("iss", "https://evil.example"),
        ],
        Some(&started.cookie),
    )
    .await;
    assert_code(&res, "issuer_mismatch");
    let started = start(&s, &format!("/sso/{}/start", s.login_id)).await;
    let code = s.idp.authorize(&started.query);
    let res = callback(
        &s,
        &[("code", &code), ("state", &started.query["state"])],
        Some(&started.cookie),
    )
    .await;
    assert_code(&res, "issuer_missing");
    let started = start(&s, &format!("/sso/{}/start", s.login_id)).await;
    let code = s.idp.authorize(&started.query);
    let res = callback(
        &s,
        &[
            ("code", &code),
            ("state", &started.query["state"]),
            ("iss", &s.idp.base),
        ],
        None,
    )
    .await;
    assert_code(&res, "other_browser");
    let res = callback(
        &s,
        &[("code", &code), ("state", "made-up"), ("iss", &s.idp.base)],
        Some(&started.cookie),
    )
    .await;
    assert_code(&res, "expired");
    let started = start(&s, &format!("/sso/{}/start", s.login_id)).await;
    let res = callback(
        &s,
        &[
            ("error", "access_denied"),
            ("error_description", "User <b>cancelled</b>"),
            ("state", &started.query["state"]),
            ("iss", &s.idp.base),
        ],
        Some(&started.cookie),
    )
    .await;
    assert_code(&res, "idp_error");
    assert!(
        res.body.contains("User &lt;b&gt;cancelled&lt;/b&gt;"),
        "IdP text is escaped: {}",
        res.body
    );

    let failures: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'sso.login_failed'")
            .fetch_one(&s.app.state.db)
            .await
            .expect("count");
    assert!(failures >= 15, "each refusal is audited ({failures})");
    assert_eq!(
        users_named(&s, "ada@flow.test").await,
        0,
        "nobody signed in yet"
    );

    // The good answer still works after all that.
    let (res, cookie) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(is_signed_in(&s, &cookie).await);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_unknown_keys_are_refused() {
    let s = setup(Backend::Sqlite).await;
    let fetches = || *s.idp.jwks_fetches.lock().expect("lock");
    // Latchkey caches the provider with k1 only.
    let (res, _) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let cached = fetches();
    // The IdP rotates to k2: the first token naming it makes Latchkey fetch
    // the key set again, and the sign-in goes through.
    s.idp.published.lock().expect("lock").push("k2");
    let k2 = Plan {
        kid: Some("k2"),
        ..Default::default()
    };
    let (res, _) = sign_in_with(&s, k2).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(fetches(), cached + 1, "one re-fetch for the new key");
    // Keys nobody published: refused, and within the minute no further
    // fetch is made however many such tokens arrive.
    for _ in 0..3 {
        let unknown = Plan {
            header_kid: Some("k9"),
            ..Default::default()
        };
        assert_refused(&s, unknown, "id_token").await;
    }
    assert_eq!(fetches(), cached + 1, "no re-fetch within the minute");

    // A second instance on the same database, its cache warm, respects the
    // limit the first one claimed.
    let other = crate::common::TestApp::on_same_database(&s.app).await;
    let twin = Setup {
        app: other,
        owner: s.owner.clone(),
        idp: s.idp.clone(),
        org_id: s.org_id.clone(),
        login_id: s.login_id.clone(),
    };
    let (res, _) = sign_in_with(&twin, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let warm = fetches();
    let unknown = Plan {
        header_kid: Some("k9"),
        ..Default::default()
    };
    assert_refused(&twin, unknown, "id_token").await;
    assert_eq!(fetches(), warm, "the other instance's claim holds here too");
}

#[tokio::test]
async fn the_login_page_works_without_javascript_and_test_mode_signs_nobody_in() {
    let s = setup(Backend::Sqlite).await;
    let page = s.app.get(&format!("/sso/{}", s.login_id), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sign in to Flow Co"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("action=\"/sso/{}/start\"", s.login_id))
    );
    assert!(page.body.contains("Sign in with TestIdP"));
    let missing = s.app.get("/sso/no-such-login", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Test connection through the API: a one-time link.
    let owner = s.owner.clone();
    let res = s
        .app
        .api(
            "POST",
            "/api/v1/orgs/flow-co/sso/test",
            Auth::Cookie(&owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let test_url = res.json()["test_url"].as_str().expect("url").to_owned();
    let path = test_url
        .strip_prefix(&s.app.state.settings.public_url)
        .expect("absolute")
        .to_owned();
    let started = start(&s, &path).await;
    let again = s.app.get(&path, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "the link works once");
    let res = finish_at_idp(&s, &started).await;
    assert_eq!(
        res.location(),
        Some("/o/flow-co/settings/security/sso#sso-test")
    );
    assert!(!is_signed_in(&s, &session_cookie(&res).unwrap_or(started.cookie)).await);
    assert_eq!(
        users_named(&s, "ada@flow.test").await,
        0,
        "a test creates nobody"
    );
    let sso = s
        .app
        .api(
            "GET",
            "/api/v1/orgs/flow-co/sso",
            Auth::Cookie(&owner),
            None,
        )
        .await
        .json();
    assert_eq!(sso["last_test"]["ok"], true, "{sso}");
    assert_eq!(sso["last_test"]["result"]["email"], "ada@flow.test");
    assert_eq!(sso["last_test"]["result"]["email_domain_verified"], true);
    assert_eq!(
        sso["last_test"]["result"]["claims"]["groups"][0],
        "engineering"
    );
    assert!(!sso.to_string().contains(SECRET), "the secret never leaves");

    // Nobody signed out can start one.
    let res = s
        .app
        .api("POST", "/api/v1/orgs/flow-co/sso/test", Auth::None, None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn email_first_sign_in_picks_the_idp_by_domain_alone() {
    let s = setup(Backend::Sqlite).await;
    // An address in the organization's verified domain goes to its IdP,
    // with the address as login_hint, whether or not an account exists.
    for email in ["ada@flow.test", "owner@flow.test"] {
        let res = s
            .app
            .server_fn(
                "sign_in_email",
                &[("email", email), ("return_to", "/o/flow-co/audit")],
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let to = res.location().expect("a redirect");
        assert!(to.starts_with(&format!("{}/auth?", s.idp.base)), "{to}");
        let url = url::Url::parse(to).expect("url");
        let hint = url
            .query_pairs()
            .find(|(k, _)| k == "login_hint")
            .map(|(_, v)| v.into_owned());
        assert_eq!(hint.as_deref(), Some(email));
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned());
        let return_to: Option<String> =
            sqlx::query_scalar("SELECT return_to FROM sso_states WHERE state = $1")
                .bind(state.expect("state"))
                .fetch_one(&s.app.state.db)
                .await
                .expect("flow recorded");
        assert_eq!(return_to.as_deref(), Some("/o/flow-co/audit"));
    }
    // Anything else: the password step, the same for unknown and known
    // accounts; unsafe return paths are dropped.
    for (email, expected) in [
        (
            "nobody@elsewhere.test",
            "/login?email=nobody%40elsewhere.test",
        ),
        ("Owner@Example.com", "/login?email=Owner%40example.com"),
    ] {
        let res = s
            .app
            .server_fn(
                "sign_in_email",
                &[("email", email), ("return_to", "//evil.example")],
                None,
            )
            .await;
        assert_eq!(res.location(), Some(expected), "{}", res.body);
    }
    let res = s
        .app
        .server_fn("sign_in_email", &[("email", "not an email")], None)
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.json()["field"], "email");
}

#[tokio::test]
async fn idp_initiated_login_checks_the_issuer_and_keeps_targets_local() {
    let s = setup(Backend::Sqlite).await;
    let public = s.app.state.settings.public_url.clone();
    let initiate = |q: String| format!("/sso/{}/oidc/initiate?{q}", s.org_id);
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    for (target, expected) in [
        (
            format!("{public}/o/flow-co/members"),
            Some("/o/flow-co/members"),
        ),
        ("/o/flow-co/audit".to_owned(), Some("/o/flow-co/audit")),
        ("https://evil.example/o/flow-co".to_owned(), None),
        ("//evil.example/x".to_owned(), None),
    ] {
        let started = start(
            &s,
            &initiate(format!(
                "iss={}&login_hint=ada%40flow.test&target_link_uri={}",
                enc(&s.idp.base),
                enc(&target)
            )),
        )
        .await;
        assert_eq!(started.query["login_hint"], "ada@flow.test");
        let return_to: Option<String> =
            sqlx::query_scalar("SELECT return_to FROM sso_states WHERE state = $1")
                .bind(&started.query["state"])
                .fetch_one(&s.app.state.db)
                .await
                .expect("flow");
        assert_eq!(return_to.as_deref(), expected, "{target}");
        // And the sign-in completes like any other.
        let res = finish_at_idp(&s, &started).await;
        let landing = expected.unwrap_or("/o/flow-co");
        assert_eq!(res.location(), Some(landing), "{}", res.body);
    }
    for bad in [
        initiate(format!("iss={}", enc("https://evil.example"))),
        initiate(String::new()),
    ] {
        let res = s.app.get(&bad, None).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_code(&res, "issuer_mismatch");
    }
}

#[tokio::test]
async fn require_sso_refuses_password_sign_in_except_guests_and_audited_owners() {
    use crate::common::PASSWORD;
    let s = setup(Backend::Sqlite).await;
    join_before_sso(&s, "mem@flow.test", "member").await;
    join_before_sso(&s, "guest@flow.test", "guest").await;
    s.app
        .join(&s.owner, "flow-co", "outside@example.com", "member")
        .await;
    // Off by default: passwords work.
    let res = s.app.sign_in("mem@flow.test", PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    let res = put_sso(&s.app, &s.owner, &s.idp, json!({"require_sso": true})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["require_sso"], true);

    let refused = s.app.sign_in("mem@flow.test", PASSWORD, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let err = refused.json();
    assert_eq!(err["code"], "sso_required");
    let pointer = format!("/sso/{}", s.login_id);
    assert!(
        err["message"].as_str().expect("message").contains(&pointer),
        "{err}"
    );
    assert!(refused.session_cookie().is_none(), "no session");

    for (email, who) in [
        ("guest@flow.test", "guests are exempt"),
        (
            "outside@example.com",
            "emails outside verified domains are not covered",
        ),
        ("owner@flow.test", "owners keep break-glass access"),
    ] {
        let res = s.app.sign_in(email, PASSWORD, None).await;
        assert_eq!(res.status, StatusCode::OK, "{who}: {}", res.body);
    }
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'sso.break_glass_sign_in' AND actor_label = 'owner@flow.test'",
    )
    .fetch_one(&s.app.state.db)
    .await
    .expect("count");
    assert_eq!(audited, 1, "the owner's password sign-in is audited");
}

async fn upload_logo(s: &Setup, cookie: Option<&str>, bytes: &[u8]) -> crate::common::TestResponse {
    let mut body =
        b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo\"\r\n\
Content-Type: application/octet-stream\r\n\r\n"
            .to_vec();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--XBOUNDARY--\r\n");
    let mut req = http::Request::post("/branding/flow-co/logo").header(
        http::header::CONTENT_TYPE,
        "multipart/form-data; boundary=XBOUNDARY",
    );
    if let Some(c) = cookie {
        req = req.header(http::header::COOKIE, c);
    }
    s.app
        .send(req.body(axum::body::Body::from(body)).expect("request"))
        .await
}

#[tokio::test]
async fn branding_shows_on_the_login_page_and_logos_cannot_run_script() {
    let s = setup(Backend::Sqlite).await;
    let bad = s
        .app
        .server_fn(
            "save_branding",
            &[
                ("org", "flow-co"),
                ("display_name", "Flow"),
                ("accent_color", "red;}body{"),
            ],
            Some(&s.owner),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(bad.json()["field"], "accent_color");
    let ok = s
        .app
        .server_fn(
            "save_branding",
            &[
                ("org", "flow-co"),
                ("display_name", "Flow Corp"),
                ("accent_color", "#0F766E"),
            ],
            Some(&s.owner),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.json()["accent_color"], "#0f766e");

    // Uploads are checked by content and need sso:write.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-not-a-real-image-but-a-png-header";
    assert_eq!(
        upload_logo(&s, None, png).await.status,
        StatusCode::UNAUTHORIZED
    );
    let res = upload_logo(&s, Some(&s.owner), b"<svg onload=\"alert(1)\"></svg>").await;
    assert_eq!(
        res.location(),
        Some("/o/flow-co/settings/security/login-page?logo_error=svg_active_content#branding")
    );
    let res = upload_logo(&s, Some(&s.owner), png).await;
    assert_eq!(
        res.location(),
        Some("/o/flow-co/settings/security/login-page#branding"),
        "{}",
        res.body
    );

    let logo = s
        .app
        .get(&format!("/branding/{}/logo", s.org_id), None)
        .await;
    assert_eq!(logo.status, StatusCode::OK);
    assert_eq!(logo.header("content-type"), Some("image/png"));
    assert_eq!(logo.header("x-content-type-options"), Some("nosniff"));
    assert!(
        logo.header("content-security-policy")
            .is_some_and(|c| c.contains("sandbox"))
    );

    let page = s.app.get(&format!("/sso/{}", s.login_id), None).await;
    assert!(page.body.contains("Sign in to Flow Corp"), "{}", page.body);
    assert!(page.body.contains("--accent: #0f766e"));
    assert!(
        page.body
            .contains(&format!("/branding/{}/logo?v=", s.org_id))
    );

    // An SVG that fetches from elsewhere is refused (a tracking pixel in the
    // login page would tell another site who signs in).
    let res = upload_logo(
        &s,
        Some(&s.owner),
        b"<svg><image href=\"https://tracker.example/p.png\"/></svg>",
    )
    .await;
    assert!(
        res.location()
            .is_some_and(|l| l.contains("logo_error=svg_outside_reference"))
    );

    // A drawing is stored as rewritten from the allow-list (editor metadata
    // gone), and opened directly it downloads.
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:i=\"urn:editor\" i:v=\"1\"><metadata>m</metadata><circle r=\"4\"/></svg>";
    upload_logo(&s, Some(&s.owner), svg).await;
    let logo = s
        .app
        .get(&format!("/branding/{}/logo", s.org_id), None)
        .await;
    assert_eq!(logo.header("content-type"), Some("image/svg+xml"));
    assert_eq!(
        logo.body,
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><circle r=\"4\"></circle></svg>"
    );
    assert!(
        logo.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment"))
    );
}

async fn flow_records(s: &Setup) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sso_states")
        .fetch_one(&s.app.state.db)
        .await
        .expect("count flows")
}

/// The start records its flow before it asks the IdP for its metadata (on
/// the connection it already holds); when the IdP cannot be reached the
/// record goes again, so a failed start changes nothing.
#[tokio::test]
async fn a_start_the_idp_cannot_answer_is_refused_and_leaves_no_flow_behind() {
    let s = setup(Backend::Sqlite).await;
    // Nothing listens on the discard port, and no metadata is cached for it.
    sqlx::query("UPDATE sso_connections SET issuer = 'http://127.0.0.1:9' WHERE org_id = $1")
        .bind(&s.org_id)
        .execute(&s.app.state.db)
        .await
        .expect("issuer moved");
    let before = flow_records(&s).await;
    let res = s.app.get(&format!("/sso/{}/start", s.login_id), None).await;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY, "{}", res.body);
    assert!(res.body.contains("idp_unreachable"), "{}", res.body);
    assert!(binding_cookie(&res).is_none(), "no flow to bind");
    assert_eq!(flow_records(&s).await, before, "no flow record is left");
}

/// Login CSRF with a session swap: another organization's admin, who runs
/// that organization's IdP, sends a signed-in browser to their SSO start.
/// The browser is asked before its session is replaced; staying keeps it,
/// continuing switches. The same person signing in again is not asked.
async fn a_signed_in_browser_is_asked_before_it_becomes_someone_else(backend: Backend) {
    let s = setup(backend).await;
    let (victim, _) = s
        .app
        .org_with_owner("victim@elsewhere.test", "Victim Co")
        .await;
    let swap = |victim: String| {
        let s = &s;
        async move {
            let started = start(s, &format!("/sso/{}/start", s.login_id)).await;
            let code = s.idp.authorize(&started.query);
            let both = format!("{victim}; {}", started.cookie);
            callback(
                s,
                &[
                    ("code", &code),
                    ("state", &started.query["state"]),
                    ("iss", &s.idp.base),
                ],
                Some(&both),
            )
            .await
        }
    };
    let res = swap(victim.clone()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), Some("/login/switch"));
    let me = s.app.get("/api/v1/me", Some(&victim)).await.json();
    assert_eq!(
        me["email"], "victim@elsewhere.test",
        "nothing replaced yet: {me}"
    );
    let page = s.app.get("/login/switch", Some(&victim)).await;
    assert!(page.body.contains("data-switch-current"), "{}", page.body);
    assert!(page.body.contains("victim@elsewhere.test") && page.body.contains("ada@flow.test"));
    // Staying: the other sign-in is dropped.
    let res = s.app.server_fn("cancel_switch", &[], Some(&victim)).await;
    assert!(
        res.status.is_redirection() || res.status.is_success(),
        "{}",
        res.body
    );
    let res = s.app.server_fn("confirm_switch", &[], Some(&victim)).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    let me = s.app.get("/api/v1/me", Some(&victim)).await.json();
    assert_eq!(me["email"], "victim@elsewhere.test");
    // Continuing: a new session, as the other person.
    let res = swap(victim.clone()).await;
    assert_eq!(res.location(), Some("/login/switch"));
    let res = s.app.server_fn("confirm_switch", &[], Some(&victim)).await;
    assert!(
        res.status.is_redirection() || res.status.is_success(),
        "{}",
        res.body
    );
    let switched = session_cookie(&res).expect("a new session id");
    let me = s.app.get("/api/v1/me", Some(&switched)).await.json();
    assert_eq!(me["email"], "ada@flow.test");
    assert!(
        !is_signed_in(&s, &victim).await,
        "the old session id is gone"
    );
    // Ada again, in her own browser: straight in.
    let res = swap(switched.clone()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_ne!(
        res.location(),
        Some("/login/switch"),
        "{:?}",
        res.location()
    );
}
crate::on_each_backend!(a_signed_in_browser_is_asked_before_it_becomes_someone_else);
