//! SAML's database records on SQLite and PostgreSQL: outstanding requests
//! are answered once and only for their organization, assertion IDs are
//! accepted once per IdP, and the cleanup removes only what expired.

use crate::common::{Backend, TestApp};
use crate::on_each_backend;
use app::saml::store::{
    PendingRequest, delete_expired, first_use_of_assertion, record_request, take_request,
};

async fn org_id(app: &TestApp, slug: &str) -> String {
    sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.state.db)
        .await
        .expect("org id")
}

async fn saml_records_hold_once(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_, a) = app.org_with_owner("owner@a.test", "A").await;
    let (_, b) = app.org_with_owner("owner@b.test", "B").await;
    let (a, b) = (org_id(&app, &a).await, org_id(&app, &b).await);
    let db = &app.state.db;

    record_request(db, "_lk1", &a, "login", Some("/o/a/settings"), None)
        .await
        .expect("record");
    // Another organization's ACS cannot take it, and leaves it in place.
    assert_eq!(take_request(db, "_lk1", &b).await.expect("take"), None);
    let taken = take_request(db, "_lk1", &a).await.expect("take");
    assert_eq!(
        taken,
        Some(PendingRequest {
            org_id: a.clone(),
            purpose: "login".into(),
            return_to: Some("/o/a/settings".into()),
        })
    );
    assert_eq!(
        take_request(db, "_lk1", &a).await.expect("take"),
        None,
        "answered once"
    );

    // An expired request is not taken.
    record_request(db, "_lk2", &a, "test", None, None)
        .await
        .expect("record");
    sqlx::query("UPDATE saml_requests SET expires_at = 0 WHERE id = '_lk2'")
        .execute(db)
        .await
        .expect("expire");
    assert_eq!(take_request(db, "_lk2", &a).await.expect("take"), None);

    // Assertion IDs: once per IdP.
    let idp = "https://idp.a.test";
    let soon = app::ssr::now() + 300;
    assert!(
        first_use_of_assertion(db, idp, "_as1", Some(soon))
            .await
            .expect("first")
    );
    assert!(
        !first_use_of_assertion(db, idp, "_as1", Some(soon))
            .await
            .expect("replay")
    );
    assert!(
        first_use_of_assertion(db, "https://idp.b.test", "_as1", None)
            .await
            .expect("other IdP")
    );

    // Cleanup: only what expired goes.
    record_request(db, "_lk3", &a, "login", None, None)
        .await
        .expect("record");
    sqlx::query("UPDATE saml_assertion_ids SET expires_at = 0 WHERE issuer = 'https://idp.b.test'")
        .execute(db)
        .await
        .expect("expire");
    let removed = delete_expired(db).await.expect("cleanup");
    assert_eq!(
        removed, 1,
        "the expired assertion record (the expired request was taken already)"
    );
    assert!(
        !first_use_of_assertion(db, idp, "_as1", None)
            .await
            .expect("still a replay")
    );
    assert!(take_request(db, "_lk3", &a).await.expect("take").is_some());
}
on_each_backend!(saml_records_hold_once);
