use crate::common::{Backend, PASSWORD, TestApp};
use crate::db_test;
use http::StatusCode;
use server::config::ConfigArgs;

db_test!(sign_up_sets_a_safe_session_cookie, |app| {
    let res = app
        .server_fn(
            "sign_up",
            &[
                ("email", "Grace@Example.COM"),
                ("name", ""),
                ("password", PASSWORD),
            ],
            None,
        )
        .await;
    assert!(
        res.status.is_redirection() || res.status.is_success(),
        "{res:?}"
    );
    let set = res.session_set_cookie().expect("session cookie");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Lax"), "{set}");
    assert!(set.contains("Path=/"), "{set}");
    assert!(
        !set.contains("Secure"),
        "plain http must not set Secure: {set}"
    );
    let me = app
        .get("/api/v1/me", res.session_cookie().as_deref())
        .await
        .json();
    assert_eq!(
        me["email"], "Grace@example.com",
        "domain lowercased, local part kept"
    );
    assert_eq!(me["name"], "Grace");
});

#[tokio::test]
async fn cookies_are_secure_behind_an_https_public_url() {
    let app = TestApp::with_args(
        Backend::Sqlite,
        ConfigArgs {
            public_url: Some("https://sso.example.com".into()),
            ..Default::default()
        },
    )
    .await;
    let res = app
        .server_fn(
            "sign_up",
            &[
                ("email", "a@example.com"),
                ("name", "A"),
                ("password", PASSWORD),
            ],
            None,
        )
        .await;
    let set = res.session_set_cookie().expect("cookie");
    assert!(set.contains("Secure"), "{set}");
}

db_test!(sign_up_refuses_bad_input_with_field_errors, |app| {
    let cases = [
        (
            "not-an-email",
            PASSWORD,
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            "a@example.com",
            "short",
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
    ];
    for (email, password, status, field) in cases {
        let res = app
            .server_fn(
                "sign_up",
                &[("email", email), ("name", ""), ("password", password)],
                None,
            )
            .await;
        assert_eq!(res.status, status, "{email}: {}", res.body);
        assert_eq!(res.json()["field"], field);
        assert!(res.session_cookie().is_none());
    }
    app.sign_up("taken@example.com").await;
    let res = app
        .server_fn(
            "sign_up",
            &[
                ("email", "taken@EXAMPLE.com"),
                ("name", ""),
                ("password", PASSWORD),
            ],
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.json()["code"], "email_taken");
});

db_test!(wrong_password_and_unknown_email_read_the_same, |app| {
    app.sign_up("lin@example.com").await;
    let wrong = app
        .sign_in("lin@example.com", "wrong password!", None)
        .await;
    let unknown = app.sign_in("nobody@example.com", PASSWORD, None).await;
    for res in [&wrong, &unknown] {
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
        assert_eq!(res.json()["message"], "Email or password is wrong.");
        assert!(res.session_cookie().is_none());
    }
});

db_test!(
    sign_in_cycles_the_session_id_and_indexes_the_session,
    |app| {
        let first = app.sign_up("kay@example.com").await;
        let res = app.sign_in("kay@example.com", PASSWORD, Some(&first)).await;
        assert!(
            res.status.is_redirection() || res.status.is_success(),
            "{res:?}"
        );
        let second = res.session_cookie().expect("new cookie");
        assert_ne!(first, second, "the session id changes at sign-in");
        assert_eq!(
            app.get("/api/v1/me", Some(&first)).await.status,
            StatusCode::UNAUTHORIZED
        );
        let me = app.get("/api/v1/me", Some(&second)).await.json();
        let user_id = me["user_id"].as_str().expect("user id").to_owned();

        let rows = app::ssr::session_store::sessions_of_user(&app.state.db, &user_id)
            .await
            .expect("index");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].method.as_deref(), Some("password"));
        assert!(rows[0].expires_at > rows[0].created_at);

        // Ending sessions by user (deactivation, later) logs the browser out.
        let ended = app::ssr::session_store::end_sessions_of_user(&app.state.db, &user_id)
            .await
            .expect("end");
        assert_eq!(ended, 1);
        assert_eq!(
            app.get("/api/v1/me", Some(&second)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
);

db_test!(sign_out_ends_the_session, |app| {
    let cookie = app.sign_up("max@example.com").await;
    let res = app.server_fn("sign_out", &[], Some(&cookie)).await;
    assert!(
        res.status.is_redirection() || res.status.is_success(),
        "{res:?}"
    );
    assert_eq!(
        app.get("/api/v1/me", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
});

#[tokio::test]
async fn failed_attempts_are_rate_limited_per_email() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.sign_up("rate@example.com").await;
    for _ in 0..10 {
        let res = app
            .sign_in("rate@example.com", "not the password", None)
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = app.sign_in("rate@example.com", PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert_eq!(res.json()["code"], "too_many_attempts");
    assert!(res.session_cookie().is_none());
}

#[tokio::test]
async fn tampered_cookies_are_ignored() {
    let app = TestApp::new(Backend::Sqlite).await;
    let cookie = app.sign_up("tam@example.com").await;
    let mut forged = cookie.clone();
    forged.push('x');
    assert_eq!(
        app.get("/api/v1/me", Some(&forged)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/me", Some(&cookie)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn sign_in_works_as_a_plain_form_post() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.sign_up("form@example.com").await;
    // Success: a real redirect to the local return_to, with the cookie.
    let ok = app
        .form_post(
            "sign_in",
            &[
                ("email", "form@example.com"),
                ("password", PASSWORD),
                ("return_to", "/orgs/new"),
            ],
            "http://localhost/login",
        )
        .await;
    assert!(ok.status.is_redirection(), "{ok:?}");
    assert_eq!(ok.location(), Some("/orgs/new"));
    assert!(ok.session_cookie().is_some());
    // A foreign return_to is ignored.
    let ok = app
        .form_post(
            "sign_in",
            &[
                ("email", "form@example.com"),
                ("password", PASSWORD),
                ("return_to", "//evil.example/x"),
            ],
            "http://localhost/login",
        )
        .await;
    assert_eq!(ok.location(), Some("/"));
    // Failure: back to the form, with the error for the page to show.
    let bad = app
        .form_post(
            "sign_in",
            &[
                ("email", "form@example.com"),
                ("password", "nope nope nope"),
                ("return_to", ""),
            ],
            // The password step of the email-first sign-in.
            "http://localhost/login?email=form%40example.com",
        )
        .await;
    assert!(bad.status.is_redirection(), "{bad:?}");
    let loc = bad.location().expect("location");
    assert!(
        loc.starts_with("http://localhost/login?") && loc.contains("__err="),
        "{loc}"
    );
    assert!(bad.session_cookie().is_none());
    // The page renders that error without JavaScript.
    let path = loc.trim_start_matches("http://localhost");
    let page = app.get(path, None).await;
    assert!(
        page.body.contains("Email or password is wrong."),
        "{}",
        page.body
    );
}

db_test!(
    the_failed_sign_in_limit_is_shared_through_the_database,
    |app| {
        use app::identity::limits::LoginLimiter;
        use std::time::Duration;
        let db = &app.state.db;
        let ip: Option<std::net::IpAddr> = Some("203.0.113.7".parse().expect("ip"));
        // Two instances of the server, one database. Each attempt is
        // claimed before it is checked; the fourth for one email is refused.
        let a = LoginLimiter::new(Duration::from_secs(60), 3, 5);
        let b = LoginLimiter::new(Duration::from_secs(60), 3, 5);
        a.claim(db, ip, "x@limit.test").await.expect("first");
        b.claim(db, ip, "X@limit.test").await.expect("second");
        a.claim(db, ip, "x@limit.test").await.expect("third");
        let err = b
            .claim(db, ip, "x@limit.test")
            .await
            .expect_err("the fourth blocks on every instance");
        assert_eq!(err.code, "too_many_attempts");
        assert!(
            b.claim(db, None, "other@limit.test").await.is_ok(),
            "other emails are not blocked"
        );
        // Per IP across emails: 3 claimed from this address (the refused one
        // stopped at its email), 2 more reach the limit of 5.
        a.claim(db, ip, "y@limit.test")
            .await
            .expect("fourth from the ip");
        a.claim(db, ip, "z@limit.test")
            .await
            .expect("fifth from the ip");
        assert!(a.claim(db, ip, "fresh@limit.test").await.is_err());
        assert!(a.claim(db, None, "fresh@limit.test").await.is_ok());
        // A right answer gives its attempt back; a completed sign-in clears
        // the email's count; the window ends the IP's.
        a.release(db, None, "other@limit.test")
            .await
            .expect("release");
        for _ in 0..3 {
            a.claim(db, None, "other@limit.test")
                .await
                .expect("given back");
        }
        a.clear(db, "x@limit.test").await.expect("clear");
        assert!(a.claim(db, None, "x@limit.test").await.is_ok());
        let short = LoginLimiter::new(Duration::from_secs(0), 3, 5);
        assert!(
            short.claim(db, ip, "fresh@limit.test").await.is_ok(),
            "an elapsed window no longer counts"
        );
        assert!(short.prune(db).await.expect("prune") >= 1);
    }
);

db_test!(
    email_ownership_is_proven_by_a_link_or_sso_never_an_invitation,
    |app| {
        let cookie = app.sign_up("unproven@own.test").await;
        let me = |c: String| {
            let app = &app;
            async move { app.get("/api/v1/me", Some(&c)).await.json()["email_verified"].clone() }
        };
        assert_eq!(
            me(cookie.clone()).await,
            false,
            "a password sign-up proves nothing"
        );

        // Without SMTP, an operator makes the link; nobody else can.
        let form = [("email", "unproven@own.test")];
        let res = app
            .server_fn("operator_verification_link", &form, Some(&cookie))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        let operator = app.sign_up("operator@own.test").await;
        assert!(
            app::identity::accounts::grant_operator(&app.state.db, "operator@own.test")
                .await
                .expect("grant")
        );
        let res = app
            .server_fn("operator_verification_link", &form, Some(&operator))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let url: String = serde_json::from_str(&res.body).expect("a url");
        let token = url.rsplit('/').next().expect("token").to_owned();
        assert!(url.contains("/verify-email/"), "{url}");

        for bad in ["nope", ""] {
            let res = app.server_fn("verify_email", &[("token", bad)], None).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{bad:?}: {}", res.body);
        }
        assert_eq!(me(cookie.clone()).await, false);
        let res = app
            .server_fn("verify_email", &[("token", &token)], None)
            .await;
        assert!(
            res.status.is_success() || res.status.is_redirection(),
            "{}",
            res.body
        );
        assert_eq!(me(cookie.clone()).await, true);
        let res = app
            .server_fn("verify_email", &[("token", &token)], None)
            .await;
        assert_eq!(
            res.status,
            StatusCode::NOT_FOUND,
            "a link works once: {}",
            res.body
        );
        let res = app
            .server_fn("operator_verification_link", &form, Some(&operator))
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);

        // Accepting an invitation proves nothing: the inviter reads its link.
        let (owner, org) = app.org_with_owner("owner@own.test", "Own").await;
        let invited = app.join(&owner, &org, "invited@own.test", "member").await;
        assert_eq!(me(invited).await, false);
        assert_eq!(me(owner).await, false);
    }
);

// Session fixation: signing in with a session id the browser already holds
// (here another account's) moves the browser to a new id and ends the old
// one, so whoever knew the old id gains nothing.
db_test!(
    signing_in_replaces_the_session_id_the_browser_came_with,
    |app| {
        let first = app.sign_up("first@fixation.test").await;
        app.sign_up("second@fixation.test").await;
        let res = app
            .sign_in("second@fixation.test", PASSWORD, Some(&first))
            .await;
        assert!(
            res.status.is_redirection() || res.status.is_success(),
            "{res:?}"
        );
        let second = res.session_cookie().expect("a new session cookie");
        assert_ne!(second, first);
        let me = app.get("/api/v1/me", Some(&second)).await;
        assert_eq!(me.json()["email"], "second@fixation.test");
        let old = app.get("/api/v1/me", Some(&first)).await;
        assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{old:?}");
    }
);

db_test!(
    a_session_reads_its_user_fresh_and_never_trusts_a_stored_copy,
    |app| {
        let cookie = app.sign_up("ursula@example.com").await;
        let user_id = app.user_id(&cookie).await;
        let me = || app.get("/api/v1/me", Some(&cookie));
        assert_eq!(me().await.json()["is_operator"], false);

        // The user as the database has it at each request.
        sqlx::query("UPDATE users SET name = 'Renamed', is_operator = 1 WHERE id = $1")
            .bind(&user_id)
            .execute(&app.state.db)
            .await
            .expect("update user");
        let now = me().await.json();
        assert_eq!(now["name"], "Renamed");
        assert_eq!(now["is_operator"], true);
        sqlx::query("UPDATE users SET is_operator = 0 WHERE id = $1")
            .bind(&user_id)
            .execute(&app.state.db)
            .await
            .expect("update user");

        // A copy of a user stored in the session row (as a bug or a tampered
        // row would leave) is ignored: the user read with the session wins.
        let data = stored_session_data(&app, "user_id", &user_id).await;
        let mut data: serde_json::Value = serde_json::from_str(&data).expect("session data");
        let forged = serde_json::json!({
            "id": user_id, "email": "ursula@example.com", "name": "Forged", "is_operator": true,
        });
        data[app::ssr::session_store::LOADED_USER_KEY] = forged.clone();
        let store = |data: &serde_json::Value, uid: &str| {
            sqlx::query("UPDATE sessions SET data = $1, user_id = $2 WHERE user_id = $3")
                .bind(data.to_string())
                .bind(uid.to_owned())
                .bind(user_id.clone())
                .execute(&app.state.db)
        };
        store(&data, &user_id).await.expect("store forged copy");
        let now = me().await.json();
        assert_eq!(now["name"], "Renamed");
        assert_eq!(now["is_operator"], false);

        // Nor when the session's user no longer exists: signed out, not the copy.
        data["auth"]["user_id"] = "usr_gone".into();
        data[app::ssr::session_store::LOADED_USER_KEY]["id"] = "usr_gone".into();
        store(&data, "usr_gone").await.expect("store forged copy");
        assert_eq!(me().await.status, StatusCode::UNAUTHORIZED);
    }
);

db_test!(the_user_read_with_a_session_is_not_written_back, |app| {
    use tower_sessions::SessionStore as _;
    let cookie = app.sign_up("wanda@example.com").await;
    let user_id = app.user_id(&cookie).await;
    let store = app::ssr::session_store::DbSessionStore::new(app.state.db.clone());
    let auth = app::identity::sessions::password_session(&user_id);
    let mut record = tower_sessions::session::Record {
        id: tower_sessions::session::Id::default(),
        data: [
            ("auth".to_owned(), serde_json::to_value(&auth).expect("auth")),
            (
                app::ssr::session_store::LOADED_USER_KEY.to_owned(),
                serde_json::json!({"id": user_id, "email": "x@example.com", "name": "Stale", "is_operator": true}),
            ),
        ]
        .into(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut record).await.expect("create");
    store.save(&record).await.expect("save");
    let data = stored_session_data(&app, "id", &record.id.to_string()).await;
    assert!(data.contains(&user_id), "{data}");

    let loaded = store
        .load(&record.id)
        .await
        .expect("load")
        .expect("session");
    let user = &loaded.data[app::ssr::session_store::LOADED_USER_KEY];
    assert_eq!(user["id"], user_id.as_str());
    assert_eq!(user["email"], "wanda@example.com");
    assert_eq!(user["is_operator"], false);
});

/// The `data` column of the session row whose `column` is `value`, checked
/// to hold no copy of the user read with it.
async fn stored_session_data(app: &TestApp, column: &str, value: &str) -> String {
    let (data,): (String,) =
        sqlx::query_as(&format!("SELECT data FROM sessions WHERE {column} = $1"))
            .bind(value)
            .fetch_one(&app.state.db)
            .await
            .expect("session row");
    assert!(
        !data.contains(app::ssr::session_store::LOADED_USER_KEY),
        "{data}"
    );
    data
}

db_test!(
    signing_in_as_someone_else_is_not_answered_with_the_user_read_before,
    |app| {
        use tower_sessions::SessionStore as _;
        use tower_sessions::session::{Id, Record};
        let alice = app.sign_up("alice@example.com").await;
        let alice = app.user_id(&alice).await;
        let bob = app.sign_up("bob@example.com").await;
        let bob = app.user_id(&bob).await;
        let store = std::sync::Arc::new(app::ssr::session_store::DbSessionStore::new(
            app.state.db.clone(),
        ));
        let auth = |uid: &str| app::identity::sessions::password_session(uid);
        let mut record = Record {
            id: Id::default(),
            data: [(
                "auth".to_owned(),
                serde_json::to_value(auth(&alice)).expect("auth"),
            )]
            .into(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        store.create(&mut record).await.expect("create");

        // A browser signed in as Alice (her row read with the session) signs in
        // as Bob in the same request: who it is now is Bob.
        let session = tower_sessions::Session::new(Some(record.id), store, None);
        let before = app::identity::sessions::session_user(&app.state.db, &session)
            .await
            .expect("read")
            .expect("signed in");
        assert_eq!(before.id, alice);
        app::identity::sessions::establish_session(&session, auth(&bob), 3600)
            .await
            .expect("sign in");
        let after = app::identity::sessions::session_user(&app.state.db, &session)
            .await
            .expect("read")
            .expect("signed in");
        assert_eq!(after.id, bob);
        assert_eq!(after.email, "bob@example.com");
    }
);
