//! Pre-account takeover, tried as the outsider who signs up with someone
//! else's address before that person's first SSO sign-in; and a callback
//! replayed under another organization's path.

use crate::common::{Backend, PASSWORD};
use crate::on_each_backend;
use crate::sso_idp::*;
use http::StatusCode;

async fn identities(s: &Setup) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sso_identities")
        .fetch_one(&s.app.state.db)
        .await
        .expect("count")
}

async fn audited(s: &Setup, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = $1")
        .bind(action)
        .fetch_one(&s.app.state.db)
        .await
        .expect("count")
}

/// A password account made while the organization had SSO off (sign-up
/// in its domains is refused while it is on).
async fn sign_up_before_sso(s: &Setup, email: &str) -> String {
    let enabled = |on: i64| {
        sqlx::query("UPDATE sso_connections SET enabled = $2 WHERE org_id = $1")
            .bind(&s.org_id)
            .bind(on)
            .execute(&s.app.state.db)
    };
    enabled(0).await.expect("sso off");
    let cookie = s.app.sign_up(email).await;
    enabled(1).await.expect("sso on");
    cookie
}

async fn sso_never_links_a_password_account_by_email_alone(backend: Backend) {
    let s = setup(backend).await;
    // The outsider registered Ada's address before the organization turned
    // SSO on, and keeps a session.
    let squatter = sign_up_before_sso(&s, "ada@flow.test").await;

    // Ada's first SSO sign-in: nothing is linked, no session opens.
    let (res, browser) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), Some("/login/sso-link"));
    assert!(
        !is_signed_in(&s, &browser).await,
        "no session before the password"
    );
    assert_eq!(identities(&s).await, 0);
    let me = s.app.get("/api/v1/me", Some(&squatter)).await.json();
    assert_eq!(me["orgs"].as_array().map(Vec::len), Some(0), "{me}");
    assert_eq!(audited(&s, "sso.link_required").await, 1);

    // The page asks for the account's password; a wrong one links nothing.
    let page = s.app.get("/login/sso-link", Some(&browser)).await;
    assert!(page.body.contains("data-link-email"), "{}", page.body);
    let res = s
        .app
        .server_fn(
            "confirm_sso_link",
            &[("password", "not the password")],
            Some(&browser),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert_eq!(identities(&s).await, 0);
    // Another browser, which has no link waiting, cannot confirm one.
    let res = s
        .app
        .server_fn("confirm_sso_link", &[("password", PASSWORD)], None)
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(identities(&s).await, 0);

    // The account's owner (here, whoever knows the password) links it: every
    // other session of the account ends, and SSO starts again.
    let res = s
        .app
        .server_fn(
            "confirm_sso_link",
            &[("password", PASSWORD)],
            Some(&browser),
        )
        .await;
    assert!(
        res.status.is_success() || res.status.is_redirection(),
        "{}",
        res.body
    );
    let next = res.location().expect("sent on to SSO").to_owned();
    assert!(
        next.starts_with(&format!("/sso/{}/start?", s.login_id)),
        "{next}"
    );
    assert_eq!(identities(&s).await, 1);
    assert!(
        !is_signed_in(&s, &squatter).await,
        "linking ends other sessions"
    );
    assert_eq!(audited(&s, "sso.account_linked").await, 1);

    // The identity is now known: the next SSO sign-in opens the account.
    let (res, cookie) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let me = s.app.get("/api/v1/me", Some(&cookie)).await.json();
    assert_eq!(me["email"], "ada@flow.test");
    assert_eq!(me["orgs"][0]["slug"], "flow-co");
}
on_each_backend!(sso_never_links_a_password_account_by_email_alone);

#[tokio::test]
async fn a_callback_under_another_organizations_path_is_refused() {
    let s = setup(Backend::Sqlite).await;
    let (_, other) = s.app.org_with_owner("owner@other.test", "Other").await;
    let other_id: String = sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1")
        .bind(&other)
        .fetch_one(&s.app.state.db)
        .await
        .expect("org id");
    let started = start(&s, &format!("/sso/{}/start", s.login_id)).await;
    let res = finish_at(&s, &started, &other_id).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_code(&res, "expired");
    assert!(!is_signed_in(&s, &started.cookie).await);
    assert_eq!(users_named(&s, "ada@flow.test").await, 0);
}

async fn member_of(s: &Setup, org_slug: &str, email: &str, role: &str) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, status, source, created_at) \
         SELECT o.id, u.id, $3, 'active', 'invitation', $4 FROM organizations o, users u \
         WHERE o.slug = $1 AND u.email = $2",
    )
    .bind(org_slug)
    .bind(email)
    .bind(role)
    .bind(now)
    .execute(&s.app.state.db)
    .await
    .expect("membership");
}

/// The admin of organization A controls A's IdP; that must not open
/// organization Z, whose policies A's IdP knows nothing of.
async fn an_sso_session_counts_only_in_its_own_organization(backend: Backend) {
    let s = setup(backend).await;
    let (res, ada) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let (_, z) = s.app.org_with_owner("owner@zeta.test", "Zeta").await;
    member_of(&s, &z, "ada@flow.test", "member").await;
    sqlx::query("UPDATE organizations SET require_mfa = 1 WHERE slug = $1")
        .bind(&z)
        .execute(&s.app.state.db)
        .await
        .expect("require mfa");

    let res = s
        .app
        .get(&format!("/api/v1/orgs/{z}/members"), Some(&ada))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "mfa_required", "{}", res.body);
    let res = s.app.get("/api/v1/orgs/flow-co/members", Some(&ada)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    // Require SSO holds for sessions that already exist, whatever their age.
    let bob = sign_up_before_sso(&s, "bob@flow.test").await;
    member_of(&s, "flow-co", "bob@flow.test", "member").await;
    let res = s.app.get("/api/v1/orgs/flow-co/members", Some(&bob)).await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "before Require SSO: {}",
        res.body
    );
    sqlx::query("UPDATE sso_connections SET require_sso = 1 WHERE org_id = $1")
        .bind(&s.org_id)
        .execute(&s.app.state.db)
        .await
        .expect("require sso");
    let res = s.app.get("/api/v1/orgs/flow-co/members", Some(&bob)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "sso_required", "{}", res.body);
    // Ada came through flow-co's own IdP; the owner keeps break-glass access.
    for who in [&ada, &s.owner] {
        let res = s.app.get("/api/v1/orgs/flow-co/members", Some(who)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
}
on_each_backend!(an_sso_session_counts_only_in_its_own_organization);

/// A domain that stops being verified here (removed, or moved to another
/// organization) stops the sign-ins of identities linked while it was.
async fn known_identities_still_need_a_verified_domain(backend: Backend) {
    let s = setup(backend).await;
    let (res, _) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    sqlx::query("UPDATE domains SET status = 'pending' WHERE org_id = $1")
        .bind(&s.org_id)
        .execute(&s.app.state.db)
        .await
        .expect("domain no longer verified");
    assert_refused(&s, Plan::default(), "domain_not_verified").await;
}
on_each_backend!(known_identities_still_need_a_verified_domain);

/// Nobody opens a password account in a domain that signs in with SSO.
async fn sign_up_in_an_sso_domain_is_sent_to_sso(backend: Backend) {
    let s = setup(backend).await;
    let form = [
        ("email", "Carol@FLOW.test"),
        ("name", "Carol"),
        ("password", PASSWORD),
    ];
    let res = s.app.server_fn("sign_up", &form, None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(res.json()["code"], "sso_required", "{}", res.body);
    assert_eq!(res.json()["field"], "email");
    assert!(res.session_set_cookie().is_none());
    assert_eq!(users_named(&s, "carol@flow.test").await, 0);
    // Other domains sign up as before.
    let form = [
        ("email", "carol@elsewhere.test"),
        ("name", "Carol"),
        ("password", PASSWORD),
    ];
    let res = s.app.server_fn("sign_up", &form, None).await;
    assert!(
        res.status.is_success() || res.status.is_redirection(),
        "{}",
        res.body
    );
}
on_each_backend!(sign_up_in_an_sso_domain_is_sent_to_sso);

/// Two organizations whose connections share one issuer (a multi-tenant
/// IdP): the same `sub` is a different identity at each, so B's sign-in never
/// opens the account A's sign-in made.
async fn identities_are_per_organization(backend: Backend) {
    let s = setup(backend).await;
    let (res, _) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    let b = second_org(&s, "Beta", "beta.test").await;
    // Same issuer, same sub, an address of B's domain.
    let plan = Plan {
        claims: vec![("email".into(), serde_json::json!("ada@beta.test"))],
        ..Default::default()
    };
    let res = sign_in_at(&s, &b, plan).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let cookie = session_cookie(&res).expect("signed in at B");
    let me = s.app.get("/api/v1/me", Some(&cookie)).await.json();
    assert_eq!(me["email"], "ada@beta.test", "{me}");
    assert_eq!(
        me["email_verified"], true,
        "an account made by SSO owns its address"
    );
    let orgs: Vec<&str> = me["orgs"]
        .as_array()
        .expect("orgs")
        .iter()
        .filter_map(|o| o["slug"].as_str())
        .collect();
    assert_eq!(
        orgs,
        [b.slug.as_str()],
        "B's sign-in opens only B's account"
    );
    assert_eq!(identities(&s).await, 2);
}
on_each_backend!(identities_are_per_organization);

/// Runs "Test connection" through the test IdP as the owner would.
async fn run_test(s: &Setup) {
    let res = s
        .app
        .api(
            "POST",
            "/api/v1/orgs/flow-co/sso/test",
            crate::common::Auth::Cookie(&s.owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let url = res.json()["test_url"].as_str().expect("url").to_owned();
    let path = url
        .strip_prefix(&s.app.state.settings.public_url)
        .expect("absolute")
        .to_owned();
    let started = start(s, &path).await;
    finish_at_idp(s, &started).await;
}

async fn sso_config(s: &Setup) -> serde_json::Value {
    s.app
        .api(
            "GET",
            "/api/v1/orgs/flow-co/sso",
            crate::common::Auth::Cookie(&s.owner),
            None,
        )
        .await
        .json()
}

/// An admin (or whoever took over an admin's session) repoints a working
/// connection: nothing untested ever signs anyone in, and nobody is locked
/// out while the change waits for its test.
async fn a_change_of_client_or_secret_waits_for_its_test(backend: Backend) {
    let s = setup(backend).await;
    sqlx::query("UPDATE sso_connections SET last_test_ok = 1, last_test_at = 1 WHERE org_id = $1")
        .bind(&s.org_id)
        .execute(&s.app.state.db)
        .await
        .expect("the configuration in effect passed a test");

    // A wrong secret is staged; sign-ins keep the tested one.
    let res = put_sso(
        &s.app,
        &s.owner,
        &s.idp,
        serde_json::json!({"client_secret": "not-the-secret"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let saved = res.json();
    assert_eq!(
        saved["pending_change"]["client_secret_changed"], true,
        "{saved}"
    );
    let (res, cookie) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        is_signed_in(&s, &cookie).await,
        "no lock-out while a change waits"
    );

    // Its test fails at the IdP: the change stays staged, with the reason,
    // and what serves is untouched.
    run_test(&s).await;
    let config = sso_config(&s).await;
    assert!(
        config["pending_change"]["last_error"].is_string(),
        "{config}"
    );
    assert_eq!(config["last_test"]["ok"], true, "{config}");
    let (res, _) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    // The right secret, tested, takes effect.
    let res = put_sso(
        &s.app,
        &s.owner,
        &s.idp,
        serde_json::json!({"client_secret": SECRET}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    run_test(&s).await;
    let config = sso_config(&s).await;
    assert!(config["pending_change"].is_null(), "{config}");
    assert_eq!(config["last_test"]["ok"], true, "{config}");
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'sso.change_applied'")
            .fetch_one(&s.app.state.db)
            .await
            .expect("count");
    assert_eq!(applied, 1);
    let (res, _) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}
on_each_backend!(a_change_of_client_or_secret_waits_for_its_test);

/// A flow that outlived its ten minutes is refused at the callback, signs
/// nobody in, and its record is gone (it cannot be tried again).
async fn an_expired_flow_is_refused_and_used_up(backend: Backend) {
    let s = setup(backend).await;
    let started = start(&s, &format!("/sso/{}/start", s.login_id)).await;
    sqlx::query("UPDATE sso_states SET expires_at = 0 WHERE state = $1")
        .bind(&started.query["state"])
        .execute(&s.app.state.db)
        .await
        .expect("age the flow");
    let res = finish_at(&s, &started, &s.org_id).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_code(&res, "expired");
    assert!(!is_signed_in(&s, &started.cookie).await);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sso_states WHERE state = $1")
        .bind(&started.query["state"])
        .fetch_one(&s.app.state.db)
        .await
        .expect("count");
    assert_eq!(left, 0);
}
on_each_backend!(an_expired_flow_is_refused_and_used_up);

/// The admin of another organization invites a colleague's address and
/// signs up through the link they read in the API's answer: refused while
/// the domain signs in with SSO. Planted before (SSO off), the account is
/// not proven by its invitation, and the real person's SSO sign-in is not
/// blocked by it: they release the address from it and go on.
async fn a_planted_account_never_blocks_the_real_person(backend: Backend) {
    use crate::common::{Auth, invitation_token};
    let s = setup(backend).await;
    let (evil, evil_org) = s.app.org_with_owner("owner@evil.test", "Evil").await;
    let invite = || async {
        let res = s
            .app
            .api(
                "POST",
                &format!("/api/v1/orgs/{evil_org}/invitations"),
                Auth::Cookie(&evil),
                Some(serde_json::json!({"email": "ada@flow.test", "role": "member"})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        invitation_token(&res.json())
    };
    let app = &s.app;
    let accept = |token: String| async move {
        app.server_fn(
            "accept_invitation_signup",
            &[
                ("token", &token),
                ("name", "Planted"),
                ("password", PASSWORD),
            ],
            None,
        )
        .await
    };
    let res = accept(invite().await).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(res.json()["code"], "sso_required", "{}", res.body);
    assert_eq!(users_named(&s, "ada@flow.test").await, 0);

    // Before the domain moved to SSO, the plant works, unproven.
    sqlx::query("UPDATE sso_connections SET enabled = 0")
        .execute(&s.app.state.db)
        .await
        .expect("off");
    let res = accept(invite().await).await;
    assert!(
        res.status.is_redirection() || res.status.is_success(),
        "{}",
        res.body
    );
    let planted = res.session_cookie().expect("planted session");
    sqlx::query("UPDATE sso_connections SET enabled = 1")
        .execute(&s.app.state.db)
        .await
        .expect("on");
    let me = s.app.get("/api/v1/me", Some(&planted)).await.json();
    assert_eq!(
        me["email_verified"], false,
        "an invitation proves nothing: {me}"
    );

    // Ada signs in through SSO: she is offered to go on without it.
    let (res, browser) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.location(), Some("/login/sso-link"), "{}", res.body);
    let page = s.app.get("/login/sso-link", Some(&browser)).await;
    assert!(page.body.contains("It is not mine"), "{}", page.body);
    let res = s
        .app
        .server_fn("release_sso_link", &[], Some(&browser))
        .await;
    assert!(
        res.status.is_redirection() || res.status.is_success(),
        "{}",
        res.body
    );
    let next = res.location().expect("on to SSO").to_owned();
    assert!(
        next.starts_with(&format!("/sso/{}/start?", s.login_id)),
        "{next}"
    );
    assert!(
        !is_signed_in(&s, &planted).await,
        "the planted account's sessions end"
    );
    assert_eq!(users_named(&s, "ada@flow.test").await, 0);
    assert_eq!(audited(&s, "user.address_released").await, 1);
    let (res, cookie) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let me = s.app.get("/api/v1/me", Some(&cookie)).await.json();
    assert_eq!(me["email"], "ada@flow.test");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["orgs"][0]["slug"], "flow-co", "{me}");

    // An account whose address is proven is never released this way.
    let _bob = sign_up_before_sso(&s, "bob@flow.test").await;
    sqlx::query("UPDATE users SET email_verified_at = 1 WHERE email = 'bob@flow.test'")
        .execute(&s.app.state.db)
        .await
        .expect("proven");
    let plan = Plan {
        claims: vec![
            ("sub".into(), serde_json::json!("user-bob")),
            ("email".into(), serde_json::json!("bob@flow.test")),
        ],
        ..Plan::default()
    };
    let (res, browser) = sign_in_with(&s, plan).await;
    assert_eq!(res.location(), Some("/login/sso-link"));
    let page = s.app.get("/login/sso-link", Some(&browser)).await;
    assert!(!page.body.contains("It is not mine"), "{}", page.body);
    let res = s
        .app
        .server_fn("release_sso_link", &[], Some(&browser))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(users_named(&s, "bob@flow.test").await, 1);
}
on_each_backend!(a_planted_account_never_blocks_the_real_person);

/// Linking by password asks for the account's second factor too.
async fn linking_asks_for_the_second_factor(backend: Backend) {
    let s = setup(backend).await;
    let owner = sign_up_before_sso(&s, "ada@flow.test").await;
    let (key, _) = crate::mfa::enrol(&s.app, &owner).await;
    let (res, browser) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.location(), Some("/login/sso-link"));
    let page = s.app.get("/login/sso-link", Some(&browser)).await;
    assert!(page.body.contains("Two-factor code"), "{}", page.body);
    let confirm = |fields: Vec<(&'static str, String)>| {
        let browser = browser.clone();
        let app = &s.app;
        async move {
            let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.server_fn("confirm_sso_link", &form, Some(&browser))
                .await
        }
    };
    let res = confirm(vec![("password", PASSWORD.into())]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.json()["code"], "mfa_code_required");
    let res = confirm(vec![
        ("password", PASSWORD.into()),
        ("code", "000000".into()),
    ])
    .await;
    assert!(res.status.is_client_error(), "{}", res.body);
    assert_eq!(identities(&s).await, 0);
    let res = confirm(vec![
        ("password", PASSWORD.into()),
        ("code", crate::mfa::code_for(&key, 0)),
    ])
    .await;
    assert!(
        res.status.is_redirection() || res.status.is_success(),
        "{}",
        res.body
    );
    assert_eq!(identities(&s).await, 1);
}
on_each_backend!(linking_asks_for_the_second_factor);
