//! TOTP for password sign-ins: enrolment, the code step after the
//! password, replay and recovery codes, turning it off, and organizations
//! that require it (which SSO sessions satisfy without a code).

use crate::common::{Auth, Backend, PASSWORD, TestApp, TestResponse};
use crate::db_test;
use app::mfa::totp;
use http::StatusCode;

pub(crate) fn code_for(key: &str, offset_steps: i64) -> String {
    let secret = data_encoding::BASE32_NOPAD
        .decode(key.as_bytes())
        .expect("base32 key");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    format!(
        "{:06}",
        totp::code_at(&secret, (totp::step_of(now) + offset_steps) as u64)
    )
}

async fn status(app: &TestApp, cookie: &str) -> serde_json::Value {
    let res = app.server_fn("mfa_status", &[], Some(cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()
}

/// Enrols the account of `cookie`; returns (setup key, recovery codes).
pub(crate) async fn enrol(app: &TestApp, cookie: &str) -> (String, Vec<String>) {
    let res = app
        .server_fn(
            "start_mfa",
            &[("password", "not my password")],
            Some(cookie),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.json()["field"], "password");
    assert!(
        status(app, cookie).await["setup"].is_null(),
        "nothing started"
    );
    let res = app
        .server_fn("start_mfa", &[("password", PASSWORD)], Some(cookie))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let s = status(app, cookie).await;
    let key = s["setup"]["key"].as_str().expect("setup key").to_owned();
    assert!(
        s["setup"]["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("otpauth://totp/"))
    );
    assert!(
        s["setup"]["qr_svg"]
            .as_str()
            .is_some_and(|q| q.contains("<svg"))
    );
    assert_eq!(s["enabled"], false);

    let wrong = app
        .server_fn("confirm_mfa", &[("code", "000000")], Some(cookie))
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.body
    );
    assert_eq!(wrong.json()["field"], "code");
    // The code of the step before is still accepted (clock skew).
    let res = app
        .server_fn(
            "confirm_mfa",
            &[("code", &code_for(&key, -1))],
            Some(cookie),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let s = status(app, cookie).await;
    assert_eq!(s["enabled"], true);
    let codes: Vec<String> =
        serde_json::from_value(s["new_recovery_codes"].clone()).expect("codes");
    assert_eq!(codes.len(), 10);
    let again = status(app, cookie).await;
    assert!(again["new_recovery_codes"].is_null(), "shown once");
    assert_eq!(again["recovery_codes_left"], 10);
    (key, codes)
}

/// The password step; returns the cookie of the half-signed-in session.
async fn password_step(app: &TestApp, email: &str) -> String {
    let res = app.sign_in(email, PASSWORD, None).await;
    assert!(res.status.is_success(), "{res:?}");
    let cookie = res.session_cookie().expect("a session for the code step");
    assert_eq!(
        app.get("/api/v1/me", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED,
        "no session before the code"
    );
    cookie
}

async fn code_step(app: &TestApp, cookie: &str, code: &str) -> TestResponse {
    app.server_fn("verify_mfa", &[("code", code)], Some(cookie))
        .await
}

db_test!(enrol_then_sign_in_with_a_code_or_a_recovery_code, |app| {
    let email = "mfa-user@example.com";
    let first = app.sign_up(email).await;
    let (key, codes) = enrol(&app, &first).await;

    // A sign-in now stops after the password.
    let cookie = password_step(&app, email).await;
    let res = code_step(&app, &cookie, "123").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let code = code_for(&key, 0);
    let res = code_step(&app, &cookie, &code).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let signed_in = res.session_cookie().expect("a new session id");
    assert_ne!(signed_in, cookie, "the session id is cycled");
    assert_eq!(
        app.get("/api/v1/me", Some(&signed_in)).await.status,
        StatusCode::OK
    );

    // The same code cannot be used twice; a recovery code works once.
    let cookie = password_step(&app, email).await;
    let res = code_step(&app, &cookie, &code).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "replayed TOTP"
    );
    let res = code_step(&app, &cookie, &codes[0].to_uppercase()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let cookie = password_step(&app, email).await;
    let res = code_step(&app, &cookie, &codes[0]).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "used recovery code"
    );
    assert_eq!(status(&app, &signed_in).await["recovery_codes_left"], 9);

    // New recovery codes replace the old ones, after a current code.
    let res = app
        .server_fn(
            "regenerate_recovery_codes",
            &[("code", "000000")],
            Some(&signed_in),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .server_fn(
            "regenerate_recovery_codes",
            &[("code", &codes[3])],
            Some(&signed_in),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let fresh: Vec<String> =
        serde_json::from_value(status(&app, &signed_in).await["new_recovery_codes"].clone())
            .expect("new codes shown once");
    assert_eq!(fresh.len(), 10);
    assert_eq!(status(&app, &signed_in).await["recovery_codes_left"], 10);
    let old = code_step(&app, &cookie, &codes[4]).await;
    assert_eq!(
        old.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "old codes stop working"
    );
    let codes = fresh;

    // Five wrong codes end the attempt: the password is needed again.
    for _ in 0..5 {
        let res = code_step(&app, &cookie, "999999").await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = code_step(&app, &cookie, &codes[1]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["code"], "mfa_expired");

    // Turning it off needs a code.
    let res = app
        .server_fn("disable_mfa", &[("code", "111111")], Some(&signed_in))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .server_fn("disable_mfa", &[("code", &codes[2])], Some(&signed_in))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app.sign_in(email, PASSWORD, None).await;
    let cookie = res.session_cookie().expect("signed in");
    assert_eq!(
        app.get("/api/v1/me", Some(&cookie)).await.status,
        StatusCode::OK,
        "no code asked any more"
    );
});

db_test!(password_then_guess_rounds_do_not_reset_the_limit, |app| {
    let email = "mfa-guess@example.com";
    let cookie = app.sign_up(email).await;
    enrol(&app, &cookie).await;
    // A right password does not forgive wrong codes: after two rounds of
    // guesses the account's limit (10 in 15 minutes) stops the third. The
    // wrong password `enrol` tries first counts too, so the second round
    // has four guesses.
    for guesses in [5, 4] {
        let cookie = password_step(&app, email).await;
        for _ in 0..guesses {
            let res = code_step(&app, &cookie, "999999").await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        }
    }
    let res = app.sign_in(email, PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert_eq!(res.json()["code"], "too_many_attempts");
});

db_test!(
    an_organization_can_require_mfa_for_password_sign_ins,
    |app| {
        let (owner, org) = app.org_with_owner("mfa-owner@example.com", "Mfa Co").await;
        let member = app
            .join(&owner, &org, "mfa-member@example.com", "member")
            .await;
        let require = |cookie: String| {
            let app = &app;
            let org = org.clone();
            async move {
                app.server_fn(
                    "set_require_mfa",
                    &[("org", &org), ("required", "on")],
                    Some(&cookie),
                )
                .await
            }
        };
        // Not without a second factor of one's own: that would lock one out.
        let res = require(owner.clone()).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
        assert_eq!(res.json()["code"], "mfa_needed_first");
        // A member lacks sso:write.
        let res = require(member.clone()).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        enrol(&app, &owner).await;
        let res = require(owner.clone()).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);

        // The member's password session no longer opens the organization, in
        // the REST API or the console's server functions.
        let path = format!("/api/v1/orgs/{org}/members");
        let res = app.api("GET", &path, Auth::Cookie(&member), None).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        assert_eq!(res.json()["error"]["code"], "mfa_required");
        let res = app
            .server_fn("list_members", &[("org", &org)], Some(&member))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let page = app.get(&format!("/o/{org}"), Some(&member)).await;
        assert!(
            page.body.contains("data-code=\"mfa_required\""),
            "{}",
            page.body
        );
        // The owner, whose session enrolled a factor, keeps access.
        let res = app.api("GET", &path, Auth::Cookie(&owner), None).await;
        assert_eq!(res.status, StatusCode::OK);
        // Once the member enrols, their session satisfies it.
        enrol(&app, &member).await;
        let res = app.api("GET", &path, Auth::Cookie(&member), None).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        // The same switch over REST.
        let security = format!("/api/v1/orgs/{org}/security");
        let res = app.api("GET", &security, Auth::Cookie(&member), None).await;
        assert_eq!(res.json()["require_mfa"], true, "{}", res.body);
        let off = serde_json::json!({"require_mfa": false});
        let res = app
            .api("PUT", &security, Auth::Cookie(&member), Some(off))
            .await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "a member lacks sso:write"
        );
        let bad = serde_json::json!({"require_mfa": "yes"});
        let res = app
            .api("PUT", &security, Auth::Cookie(&owner), Some(bad))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'org.mfa_requirement_changed'",
        )
        .fetch_one(&app.state.db)
        .await
        .expect("audit");
        assert_eq!(audited, 1);
    }
);

#[tokio::test]
async fn sso_sign_ins_never_ask_for_a_code() {
    use crate::sso_idp::*;
    let s = setup(Backend::Sqlite).await;
    sqlx::query("UPDATE organizations SET require_mfa = 1 WHERE id = $1")
        .bind(&s.org_id)
        .execute(&s.app.state.db)
        .await
        .expect("require");
    let (res, cookie) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        res.location(),
        Some("/o/flow-co"),
        "straight in, no code step"
    );
    let members = s
        .app
        .api(
            "GET",
            "/api/v1/orgs/flow-co/members",
            Auth::Cookie(&cookie),
            None,
        )
        .await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.body);
}

db_test!(
    the_enrolment_password_check_is_rate_limited_like_sign_in,
    |app| {
        // The holder of a stolen session guesses the password through enrolment.
        let cookie = app.sign_up("guess@mfa.test").await;
        for _ in 0..10 {
            let res = app
                .server_fn("start_mfa", &[("password", "guess")], Some(&cookie))
                .await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        }
        // Now even the right password is refused, here and on the sign-in form.
        let res = app
            .server_fn("start_mfa", &[("password", PASSWORD)], Some(&cookie))
            .await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
        assert!(
            status(&app, &cookie).await["setup"].is_null(),
            "nothing started"
        );
        let res = app.sign_in("guess@mfa.test", PASSWORD, None).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    }
);

// One code, sent at once from two half-signed-in browsers (a phished code
// replayed in parallel): it opens one session, never two.
crate::on_each_backend!(a_code_used_twice_at_once_opens_one_session);

async fn a_code_used_twice_at_once_opens_one_session(backend: Backend) {
    let app = TestApp::new(backend).await;
    let email = "mfa-race@example.com";
    let first = app.sign_up(email).await;
    let (key, _) = enrol(&app, &first).await;
    let a = password_step(&app, email).await;
    let b = password_step(&app, email).await;
    let code = code_for(&key, 0);
    let (ra, rb) = tokio::join!(code_step(&app, &a, &code), code_step(&app, &b, &code));
    let opened = [&ra, &rb]
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(
        opened, 1,
        "{} {} / {} {}",
        ra.status, ra.body, rb.status, rb.body
    );
}

// Eight wrong codes at once through one half-signed-in session: the five
// codes a password step allows hold (they are counted in the database).
crate::on_each_backend!(parallel_guesses_share_the_five_codes_of_a_password_step);

async fn parallel_guesses_share_the_five_codes_of_a_password_step(backend: Backend) {
    let app = TestApp::new(backend).await;
    let email = "mfa-parallel@example.com";
    let first = app.sign_up(email).await;
    enrol(&app, &first).await;
    let cookie = password_step(&app, email).await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..8 {
        let router = app.router.clone();
        let cookie = cookie.clone();
        guesses.spawn(async move {
            use tower::ServiceExt;
            let req = http::Request::post("/api/verify_mfa")
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .header(http::header::ACCEPT, "application/json")
                .header(http::header::COOKIE, cookie)
                .body(axum::body::Body::from(format!("code=99999{i}")))
                .expect("request");
            let res = router.oneshot(req).await.expect("infallible");
            let body = http_body_util::BodyExt::collect(res.into_body())
                .await
                .expect("body")
                .to_bytes();
            serde_json::from_slice::<serde_json::Value>(&body).expect("json")["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        });
    }
    let mut checked = 0;
    while let Some(code) = guesses.join_next().await {
        if code.expect("task") != "mfa_expired" {
            checked += 1;
        }
    }
    assert!(checked <= 5, "{checked} codes were checked");
}
