//! Cross-site request forgery, tried as an outsider's page would: a form or
//! fetch from another site that rides on the victim's session cookie, or
//! signs the victim into the attacker's account.

use crate::common::{Auth, Backend, PASSWORD, TestApp, TestResponse};
use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::json;

const EVIL: &str = "https://evil.example";

async fn post_from(
    app: &TestApp,
    path: &str,
    form: &str,
    cookie: Option<&str>,
    site: (&'static str, &str),
) -> TestResponse {
    let mut req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(site.0, site.1);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    app.send(req.body(Body::from(form.to_owned())).expect("request"))
        .await
}

async fn org_count(app: &TestApp, cookie: &str) -> Option<usize> {
    app.get("/api/v1/me", Some(cookie)).await.json()["orgs"]
        .as_array()
        .map(Vec::len)
}

fn assert_refused(res: &TestResponse) {
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(
        res.json()["error"]["code"],
        "cross_site_request",
        "{}",
        res.body
    );
    assert!(
        res.session_set_cookie().is_none(),
        "no session for a refused request"
    );
}

#[tokio::test]
async fn requests_from_another_site_change_nothing() {
    let app = TestApp::new(Backend::Sqlite).await;
    let victim = app.sign_up("victim@csrf.test").await;

    // A form on another site posting to a server function with the cookie.
    for site in [
        ("origin", EVIL),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let res = post_from(&app, "/api/create_org", "name=Pwned", Some(&victim), site).await;
        assert_refused(&res);
    }
    assert_eq!(org_count(&app, &victim).await, Some(0));

    // Login CSRF: the attacker's credentials posted from their page.
    app.sign_up("attacker@csrf.test").await;
    let form = format!(
        "email=attacker%40csrf.test&password={}",
        PASSWORD.replace(' ', "+")
    );
    let res = post_from(&app, "/api/sign_in", &form, None, ("origin", EVIL)).await;
    assert_refused(&res);

    // The same requests from Latchkey's own pages work.
    let own = app.config.public_url.clone();
    let res = post_from(
        &app,
        "/api/create_org",
        "name=Mine",
        Some(&victim),
        ("origin", &own),
    )
    .await;
    assert!(
        res.status.is_success() || res.status.is_redirection(),
        "{res:?}"
    );
    let res = post_from(
        &app,
        "/api/create_org",
        "name=Mine+too",
        Some(&victim),
        ("sec-fetch-site", "same-origin"),
    )
    .await;
    assert!(
        res.status.is_success() || res.status.is_redirection(),
        "{res:?}"
    );
    assert_eq!(org_count(&app, &victim).await, Some(2));
}

#[tokio::test]
async fn the_rest_api_refuses_cookies_from_another_site_but_not_tokens() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (owner, org) = app.org_with_owner("owner@csrf.test", "Csrf").await;
    let tokens = format!("/api/v1/orgs/{org}/api-tokens");
    let body = json!({"name": "ci", "role": "viewer"}).to_string();
    let send = |auth: (&'static str, String)| {
        let req = Request::post(&tokens)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, EVIL)
            .header(auth.0, auth.1)
            .body(Body::from(body.clone()))
            .expect("request");
        app.send(req)
    };
    let res = send(("cookie", owner.clone())).await;
    assert_refused(&res);
    let listed = app.api("GET", &tokens, Auth::Cookie(&owner), None).await;
    assert_eq!(
        listed.json().as_array().map(Vec::len),
        Some(0),
        "{}",
        listed.body
    );

    let res = app
        .api(
            "POST",
            &tokens,
            Auth::Cookie(&owner),
            Some(json!({"name": "t", "role": "admin"})),
        )
        .await;
    let token = res.json()["secret"].as_str().expect("secret").to_owned();
    let res = send(("authorization", format!("Bearer {token}"))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
}
