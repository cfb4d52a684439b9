//! Back-channel logout (OIDC Back-Channel Logout 1.0 §2.6) and
//! RP-initiated logout, against the test IdP's keys: a good token ends the
//! matching SSO sessions; a token wrong in any single way answers 400 with
//! a JSON error and ends nothing.

use crate::common::Backend;
use crate::on_each_backend;
use crate::sso_idp::*;
use http::StatusCode;
use serde_json::{Value, json};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The claims of a correct logout token for the test IdP's user-1.
fn good_claims(s: &Setup, jti: &str) -> Value {
    json!({
        "iss": s.idp.base, "aud": CLIENT_ID, "iat": now(), "exp": now() + 120, "jti": jti,
        "events": { EVENT: {} }, "sub": "user-1", "sid": "idp-session-1",
    })
}

fn good_header() -> Value {
    json!({"alg": "RS256", "kid": "k1", "typ": "logout+jwt"})
}

async fn post_logout(s: &Setup, token: &str) -> crate::common::TestResponse {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", token)
        .finish();
    let req = http::Request::post(format!("/sso/{}/oidc/backchannel-logout", s.org_id))
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(axum::body::Body::from(body))
        .expect("request");
    s.app.send(req).await
}

async fn sso_sessions(s: &Setup) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE method = 'sso'")
        .fetch_one(&s.app.state.db)
        .await
        .expect("count")
}

fn with(mut claims: Value, changes: &[(&str, Value)]) -> Value {
    for (k, v) in changes {
        if v.is_null() {
            claims.as_object_mut().expect("object").remove(*k);
        } else {
            claims[*k] = v.clone();
        }
    }
    claims
}

async fn signed_in(s: &Setup) -> String {
    let (res, cookie) = sign_in_with(s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(is_signed_in(s, &cookie).await);
    cookie
}

async fn good_logout_ends_the_session(backend: Backend) {
    let s = setup(backend).await;
    let cookie = signed_in(&s).await;
    // A password session of the owner is not touched by the IdP's logout.
    assert!(is_signed_in(&s, &s.owner).await);
    let token = s
        .idp
        .sign("k1", &good_header(), &good_claims(&s, "jti-good"));
    let res = post_logout(&s, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(!is_signed_in(&s, &cookie).await, "the SSO session ended");
    assert!(is_signed_in(&s, &s.owner).await, "other sessions stay");
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'sso.backchannel_logout'",
    )
    .fetch_one(&s.app.state.db)
    .await
    .expect("audit");
    assert_eq!(audited, 1);

    // The same token again is a replay, on any instance sharing the database.
    let cookie = signed_in(&s).await;
    let res = post_logout(&s, &token).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "replayed");
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(is_signed_in(&s, &cookie).await, "a replay ends nothing");

    // `sub` alone ends every SSO session of that subject.
    let token = s.idp.sign(
        "k1",
        &good_header(),
        &with(good_claims(&s, "jti-sub"), &[("sid", Value::Null)]),
    );
    let res = post_logout(&s, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(!is_signed_in(&s, &cookie).await);
}

crate::on_each_backend!(good_logout_ends_the_session);

#[tokio::test]
async fn every_bad_logout_token_is_refused_and_ends_nothing() {
    let s = setup(Backend::Sqlite).await;
    let cookie = signed_in(&s).await;
    let header = good_header();
    let claims = |jti: &str| good_claims(&s, jti);
    let hs256 = {
        // HMAC keyed with the client id (what a confused verifier might use).
        let h = json!({"alg": "HS256", "kid": "k1", "typ": "logout+jwt"});
        let input = format!(
            "{}.{}",
            b64(&h.to_string()),
            b64(&claims("jti-hs").to_string())
        );
        format!("{input}.{}", b64("not-a-real-mac"))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad signature",
            tamper(&s.idp.sign("k1", &header, &claims("jti-1"))),
            "invalid_signature",
        ),
        (
            "alg none",
            unsigned(
                &json!({"alg": "none", "typ": "logout+jwt"}),
                &claims("jti-2"),
            ),
            "alg_not_allowed",
        ),
        ("wrong alg (HS256)", hs256, "alg_not_allowed"),
        (
            "signed by a key the IdP does not publish",
            s.idp.sign(
                "k2",
                &json!({"alg": "RS256", "kid": "k2", "typ": "logout+jwt"}),
                &claims("jti-3"),
            ),
            "unknown_key",
        ),
        (
            "wrong aud",
            s.idp.sign(
                "k1",
                &header,
                &with(claims("jti-4"), &[("aud", json!("another-client"))]),
            ),
            "invalid_audience",
        ),
        (
            "wrong iss",
            s.idp.sign(
                "k1",
                &header,
                &with(claims("jti-5"), &[("iss", json!("https://evil.example"))]),
            ),
            "invalid_issuer",
        ),
        (
            "no events",
            s.idp.sign(
                "k1",
                &header,
                &with(claims("jti-6"), &[("events", Value::Null)]),
            ),
            "invalid_events",
        ),
        (
            "wrong event",
            s.idp.sign(
                "k1",
                &header,
                &with(
                    claims("jti-7"),
                    &[(
                        "events",
                        json!({"http://schemas.openid.net/event/other": {}}),
                    )],
                ),
            ),
            "invalid_events",
        ),
        (
            "with nonce",
            s.idp.sign(
                "k1",
                &header,
                &with(claims("jti-8"), &[("nonce", json!("n-1"))]),
            ),
            "nonce_present",
        ),
        (
            "neither sub nor sid",
            s.idp.sign(
                "k1",
                &header,
                &with(
                    claims("jti-9"),
                    &[("sub", Value::Null), ("sid", Value::Null)],
                ),
            ),
            "no_subject",
        ),
        (
            "expired",
            s.idp.sign(
                "k1",
                &header,
                &with(
                    claims("jti-10"),
                    &[("iat", json!(now() - 500)), ("exp", json!(now() - 400))],
                ),
            ),
            "expired",
        ),
        (
            "issued too long ago",
            s.idp.sign(
                "k1",
                &header,
                &with(
                    claims("jti-11"),
                    &[("iat", json!(now() - 3600)), ("exp", Value::Null)],
                ),
            ),
            "invalid_iat",
        ),
        (
            "no jti",
            s.idp
                .sign("k1", &header, &with(claims("x"), &[("jti", Value::Null)])),
            "no_jti",
        ),
        (
            "wrong typ",
            s.idp.sign(
                "k1",
                &json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
                &claims("jti-12"),
            ),
            "invalid_typ",
        ),
        ("not a JWT", "garbage".to_owned(), "malformed_token"),
        ("empty", String::new(), "missing_logout_token"),
    ];
    for (what, token, code) in cases {
        let res = post_logout(&s, &token).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{what}: {}", res.body);
        assert_eq!(res.json()["error"]["code"], code, "{what}: {}", res.body);
        assert_eq!(res.header("cache-control"), Some("no-store"), "{what}");
        assert!(
            is_signed_in(&s, &cookie).await,
            "{what}: the session must survive"
        );
    }
    assert_eq!(sso_sessions(&s).await, 1);
    // The nine tokens that were correctly signed but wrong in their claims
    // are audited; unsigned or foreign noise is not.
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'sso.backchannel_logout_refused'",
    )
    .fetch_one(&s.app.state.db)
    .await
    .expect("audit");
    assert_eq!(audited, 9);
    // An unknown connection is refused the same way.
    let token = s.idp.sign("k1", &header, &claims("jti-13"));
    let req = http::Request::post("/sso/org_nope/oidc/backchannel-logout")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(axum::body::Body::from(format!("logout_token={token}")))
        .expect("request");
    let res = s.app.send(req).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"]["code"], "unknown_connection");
    assert!(is_signed_in(&s, &cookie).await);
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn console_sign_out_can_continue_to_the_idp() {
    let s = setup(Backend::Sqlite).await;
    let cookie = signed_in(&s).await;
    // The console offers it once the IdP's metadata (with its
    // end_session_endpoint) is known, which the sign-in just fetched.
    let page = s.app.get("/o/flow-co", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Sign out of TestIdP too"),
        "{}",
        page.body
    );
    // A password session is not offered it.
    let page = s.app.get("/o/flow-co", Some(&s.owner)).await;
    assert!(!page.body.contains("Sign out of TestIdP too"));

    let res = s
        .app
        .form_post("sign_out", &[("idp", "1")], "http://localhost/o/flow-co")
        .await;
    // Without the session cookie nothing is ended and nowhere else to go.
    assert_eq!(res.location(), Some("/login"));

    let req = http::Request::post("/api/sign_out")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "text/html")
        .header(http::header::REFERER, "http://localhost/o/flow-co")
        .header(http::header::COOKIE, &cookie)
        .body(axum::body::Body::from("idp=1"))
        .expect("request");
    let res = s.app.send(req).await;
    let location = res.location().expect("redirect").to_owned();
    let url = url::Url::parse(&location).expect("absolute URL");
    assert!(
        location.starts_with(&format!("{}/logout?", s.idp.base)),
        "{location}"
    );
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(
        q["post_logout_redirect_uri"],
        format!("{}/login?signed_out=1", s.app.state.settings.public_url)
    );
    assert_eq!(
        q["id_token_hint"].split('.').count(),
        3,
        "the ID token of the sign-in"
    );
    assert!(
        !is_signed_in(&s, &cookie).await,
        "the Latchkey session ended first"
    );
}

/// Two organizations share one issuer, and one person (`sub` user-1) is
/// signed in at both: A's logout token ends the session at A only.
async fn a_logout_token_ends_sessions_of_its_own_organization_only(backend: Backend) {
    let s = setup(backend).await;
    let at_a = signed_in(&s).await;
    let b = second_org(&s, "Beta", "beta.test").await;
    let plan = Plan {
        claims: vec![("email".into(), json!("ada@beta.test"))],
        ..Default::default()
    };
    let res = sign_in_at(&s, &b, plan).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let at_b = session_cookie(&res).expect("signed in at B");
    assert_eq!(sso_sessions(&s).await, 2);

    let token = s
        .idp
        .sign("k1", &good_header(), &good_claims(&s, "jti-shared"));
    let res = post_logout(&s, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(!is_signed_in(&s, &at_a).await, "A's session ended");
    assert!(is_signed_in(&s, &at_b).await, "B's session stays");
}
on_each_backend!(a_logout_token_ends_sessions_of_its_own_organization_only);

/// Unsigned noise naming a key the IdP does not publish (and not even its
/// issuer) does not use up the key-set re-fetch that real rotations need;
/// a token that looks like the IdP's does get it.
async fn noise_does_not_use_up_the_key_refetch(backend: Backend) {
    let s = setup(backend).await;
    let fetches = || *s.idp.jwks_fetches.lock().expect("lock");
    // Warm: the first logout token fetches the key set once.
    let first = s
        .idp
        .sign("k1", &good_header(), &good_claims(&s, "jti-warm"));
    assert_eq!(post_logout(&s, &first).await.status, StatusCode::OK);
    let warm = fetches();
    let unknown = json!({"alg": "RS256", "kid": "made-up", "typ": "logout+jwt"});
    for claims in [
        with(
            good_claims(&s, "jti-n1"),
            &[("iss", json!("https://elsewhere.test"))],
        ),
        with(
            good_claims(&s, "jti-n2"),
            &[("aud", json!("another-client"))],
        ),
        with(good_claims(&s, "jti-n3"), &[("events", Value::Null)]),
        with(good_claims(&s, "jti-n4"), &[("iat", json!(now() - 86_400))]),
    ] {
        let token = s.idp.sign("k1", &unknown, &claims);
        let res = post_logout(&s, &token).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
        assert_eq!(res.json()["error"]["code"], "unknown_key", "{}", res.body);
    }
    assert_eq!(fetches(), warm, "noise triggered a re-fetch");
    // One that looks like the IdP's may ask for the keys again.
    let token = s.idp.sign("k1", &unknown, &good_claims(&s, "jti-r"));
    let res = post_logout(&s, &token).await;
    assert_eq!(res.json()["error"]["code"], "unknown_key", "{}", res.body);
    assert_eq!(fetches(), warm + 1);
}
on_each_backend!(noise_does_not_use_up_the_key_refetch);
