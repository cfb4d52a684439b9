//! Sign-in limits as an attacker meets them: a burst of parallel guesses,
//! and many accounts guessed from one address over a real socket.

use crate::common::{Backend, PASSWORD, TestApp};
use crate::on_each_backend;
use axum::body::Body;
use http::{Request, StatusCode, header};
use std::net::SocketAddr;
use tower::ServiceExt;

fn sign_in_request(email: &str, password: &str) -> Request<Body> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("email", email)
        .append_pair("password", password)
        .finish();
    Request::post("/api/sign_in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(body))
        .expect("request")
}

/// Thirty guesses at once: the account's limit (10 in 15 minutes) holds,
/// because each attempt claims its place before the password is checked.
async fn a_burst_of_parallel_guesses_cannot_pass_the_limit(backend: Backend) {
    let app = TestApp::new(backend).await;
    app.sign_up("burst@limits.test").await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..30 {
        let router = app.router.clone();
        guesses.spawn(async move {
            let res = router
                .oneshot(sign_in_request("burst@limits.test", &format!("guess {i}")))
                .await
                .expect("infallible");
            res.status()
        });
    }
    let (mut checked, mut refused) = (0, 0);
    while let Some(status) = guesses.join_next().await {
        match status.expect("task") {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        checked <= 10,
        "{checked} passwords were checked, {refused} refused"
    );
    assert_eq!(checked + refused, 30);
    // The right password is refused too until the window passes.
    let res = app.sign_in("burst@limits.test", PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
}
on_each_backend!(a_burst_of_parallel_guesses_cannot_pass_the_limit);

/// Fifty failures from one address, each for another account, then even a
/// new account's right password is refused from there (and only there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_guessing_many_accounts_is_stopped_over_a_real_socket() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.sign_up("spared@limits.test").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = app
        .router
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    let http = reqwest::Client::new();
    let attempt = |email: String, password: &'static str| {
        let http = http.clone();
        async move {
            http.post(format!("http://{addr}/api/sign_in"))
                .header("accept", "application/json")
                .form(&[("email", email.as_str()), ("password", password)])
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        }
    };
    for i in 0..50 {
        let status = attempt(format!("victim{i}@limits.test"), "guess").await;
        assert_eq!(status, 401, "attempt {i}");
    }
    let status = attempt("spared@limits.test".into(), PASSWORD).await;
    assert_eq!(status, 429, "the address is over its limit");
    // Another address (in-process, no socket) is not affected.
    let res = app.sign_in("spared@limits.test", PASSWORD, None).await;
    assert!(
        res.session_cookie().is_some(),
        "{} {}",
        res.status,
        res.body
    );
}

/// Anyone can ask for `/sso/{login_id}/start`: it opens no server session,
/// and one address may start 30 sign-ins a minute.
#[tokio::test]
async fn anonymous_sso_starts_write_no_session_and_are_limited_per_address() {
    use crate::sso_idp::{assert_code, setup};
    let s = setup(Backend::Sqlite).await;
    let sessions = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions")
            .fetch_one(&s.app.state.db)
            .await
            .expect("count")
    };
    let before = sessions().await;
    let from = |ip: &str| {
        let mut req = Request::get(format!("/sso/{}/start", s.login_id))
            .body(Body::empty())
            .expect("request");
        let peer: SocketAddr = format!("{ip}:5000").parse().expect("addr");
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        req
    };
    for i in 0..30 {
        let res = s.app.send(from("198.51.100.9")).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "start {i}: {}", res.body);
    }
    assert_eq!(
        sessions().await,
        before,
        "no session row per anonymous start"
    );
    let res = s.app.send(from("198.51.100.9")).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert_code(&res, "too_many_requests");
    let res = s.app.send(from("198.51.100.10")).await;
    assert_eq!(
        res.status,
        StatusCode::SEE_OTHER,
        "another address: {}",
        res.body
    );
}
