use crate::common::{Backend, TestApp};
use crate::db_test;
use http::StatusCode;

db_test!(health_reports_the_database, |app| {
    let res = app.get("/api/v1/health", None).await;
    assert_eq!(res.status, StatusCode::OK);
    let body = res.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert!(res.header("x-request-id").is_some_and(|id| !id.is_empty()));
});

#[tokio::test]
async fn health_says_unavailable_when_the_database_is_gone() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.state.db.close().await;
    let res = app.get("/api/v1/health", None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json()["database"], "unavailable");
}

db_test!(me_without_a_session_is_401_json, |app| {
    let res = app.get("/api/v1/me", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let body = res.json();
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(body["error"].get("field").is_some());
});

db_test!(me_with_a_session_returns_the_user, |app| {
    let cookie = app.sign_up("ada@example.com").await;
    let res = app.get("/api/v1/me", Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let me = res.json();
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["authenticated_by"], "session");
    assert!(
        me["user_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("usr_"))
    );
});

#[tokio::test]
async fn unknown_api_paths_and_bad_tokens_get_json_errors() {
    let app = TestApp::new(Backend::Sqlite).await;
    let res = app.get("/api/v1/nope", None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.json()["error"]["code"], "not_found");

    let res = app.get_with_token("/api/v1/me", "lk_notarealtoken").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error"]["code"], "invalid_token");

    let req = http::Request::get("/api/v1/me")
        .header("authorization", "Basic Zm9vOmJhcg==")
        .body(axum::body::Body::empty())
        .expect("request");
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error"]["code"], "invalid_token");
}

#[tokio::test]
async fn openapi_document_lists_the_endpoints() {
    let app = TestApp::new(Backend::Sqlite).await;
    let res = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(res.status, StatusCode::OK);
    let doc = res.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for path in ["/api/v1/health", "/api/v1/me"] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(doc["components"]["securitySchemes"].get("bearer").is_some());
}

/// What the fuzzer (`.ci/fuzz-api`) checks against, stated here too: every
/// operation has its own id, and every operation that needs a caller
/// documents 401, under an organization 403 and 404, with a body 400 and 422.
#[tokio::test]
async fn every_operation_documents_the_answers_it_can_give() {
    let app = TestApp::new(Backend::Sqlite).await;
    let doc = app.get("/api/v1/openapi.json", None).await.json();
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "{id} is used twice");
            let documented = |status: &str| op["responses"].get(status).is_some();
            if ["/api/v1/health", "/api/v1/ready", "/api/v1/openapi.json"].contains(&path.as_str())
            {
                continue;
            }
            assert!(documented("401"), "{method} {path}: 401");
            assert!(op["security"].is_array(), "{method} {path}: security");
            if path.contains("{org}") {
                assert!(
                    documented("403") && documented("404"),
                    "{method} {path}: 403/404"
                );
            }
            if op.get("requestBody").is_some() {
                assert!(
                    documented("400") && documented("422"),
                    "{method} {path}: 400/422"
                );
            }
        }
    }
}

/// A page far past the end is empty, not an arithmetic overflow.
#[tokio::test]
async fn a_member_page_past_the_end_is_empty() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (owner, org) = app.org_with_owner("owner@pages.test", "Pages").await;
    for page in ["171798693", "4294967295"] {
        let res = app
            .get(
                &format!("/api/v1/orgs/{org}/members?page={page}"),
                Some(&owner),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{page}: {}", res.body);
        assert_eq!(res.json()["members"], serde_json::json!([]));
        assert_eq!(res.json()["total"], 1);
    }
}

/// A handler that panics answers 500 with the usual JSON error; the
/// connection is not just dropped.
#[tokio::test]
async fn a_panic_in_a_handler_is_a_500() {
    use tower::ServiceExt;
    let router = axum::Router::new()
        .route(
            "/boom",
            axum::routing::get(
                |axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
                    // Stands for any bug: the query is absent in this request.
                    q.expect("a query")
                },
            ),
        )
        .layer(axum::middleware::from_fn(server::routes::panics::contain));
    let res = router
        .oneshot(
            http::Request::get("/boom")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

db_test!(a_token_records_its_use_at_most_once_a_minute, |app| {
    use crate::common::Auth;
    let (owner, org) = app.org_with_owner("tess@example.com", "Tess Co").await;
    let made = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/api-tokens"),
            Auth::Cookie(&owner),
            Some(serde_json::json!({"name": "ci", "role": "viewer"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let made = made.json();
    let (id, secret) = (
        made["id"].as_str().expect("id"),
        made["secret"].as_str().expect("secret"),
    );
    let last_used = || async {
        let (at,): (Option<i64>,) =
            sqlx::query_as("SELECT last_used_at FROM api_tokens WHERE id = $1")
                .bind(id)
                .fetch_one(&app.state.db)
                .await
                .expect("token row");
        at
    };
    assert_eq!(last_used().await, None);
    let me = || app.get_with_token("/api/v1/me", secret);
    assert_eq!(me().await.status, StatusCode::OK);
    let first = last_used().await.expect("the first use is recorded");
    assert!(first > app::ssr::now() - 10);

    let set_last_use = |at: i64| {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(&app.state.db)
    };

    // Used again within the minute: nothing is written.
    let recent = app::ssr::now() - 30;
    set_last_use(recent).await.expect("set last use");
    assert_eq!(me().await.status, StatusCode::OK);
    assert_eq!(last_used().await, Some(recent));

    // Used again after it: recorded.
    let stale = app::ssr::now() - 61;
    set_last_use(stale).await.expect("set last use");
    assert_eq!(me().await.status, StatusCode::OK);
    assert!(last_used().await.is_some_and(|t| t > stale + 50));
});
