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
