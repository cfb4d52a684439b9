//! Setup links: created over REST (URL once, token hashed), opened by a
//! browser without an account, limited to their scopes and to their
//! creator's rights, ended by revocation and expiry, audited as the link.
//! (Every route against link sessions is also a column of the authz matrix.)

use crate::common::{Auth, setup_link_token};
use crate::db_test;
use http::StatusCode;
use serde_json::{Value, json};

/// The error code of a REST (`{"error": {...}}`) or server-function answer.
fn code(res: &crate::common::TestResponse) -> Value {
    let body = res.json();
    match body.get("error") {
        Some(e) => e["code"].clone(),
        None => body["code"].clone(),
    }
}

/// The organization's audit events, newest first, as its owner reads them.
async fn audit_events(app: &crate::common::TestApp, owner: &str, org: &str) -> Value {
    let res = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/audit-events"),
            Auth::Cookie(owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()["events"].clone()
}

fn audit_of(events: &Value, action: &str) -> Value {
    events
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["action"] == action)
        .cloned()
        .unwrap_or_else(|| panic!("no {action} event in {events}"))
}

db_test!(
    creating_answers_the_url_once_and_stores_only_a_hash,
    |app| {
        let (owner, org) = app.org_with_owner("ada@links.test", "Links").await;
        let base = format!("/api/v1/orgs/{org}/setup-links");
        let res = app
            .api(
                "POST",
                &base,
                Auth::Cookie(&owner),
                Some(json!({"scopes": ["sso", "domains", "sso"], "note": "Okta admin at Acme"})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let link = res.json();
        let token = setup_link_token(&link);
        assert!(
            link["url"]
                .as_str()
                .expect("url")
                .ends_with(&format!("/setup/{token}")),
            "{link}"
        );
        assert_eq!(link["scopes"], json!(["domains", "sso"]));
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let expires = link["expires_at"].as_i64().expect("expires_at");
        assert!((expires - (now + 7 * 86_400)).abs() < 60, "default 7 days");

        // Listed with its creator, never with its URL.
        let list = app.api("GET", &base, Auth::Cookie(&owner), None).await;
        assert_eq!(list.status, StatusCode::OK);
        let listed = list.json()[0].clone();
        assert_eq!(listed["id"], link["id"]);
        assert!(listed.get("url").is_none(), "{listed}");
        assert!(!list.body.contains(&token));
        assert_eq!(listed["created_by"], "Test User");
        assert_eq!(listed["note"], "Okta admin at Acme");
        assert_eq!(listed["state"], "active");
        assert_eq!(listed["last_used_at"], Value::Null);

        // The database holds the token's SHA-256, not the token.
        let (stored,): (String,) =
            sqlx::query_as("SELECT token_hash FROM setup_links WHERE id = $1")
                .bind(link["id"].as_str().expect("id"))
                .fetch_one(&app.state.db)
                .await
                .expect("row");
        assert_eq!(stored, app::ssr::crypto::sha256_hex(&token));
        assert_ne!(stored, token);

        // Bad input is refused on its field and creates nothing.
        for (body, code, field) in [
            (json!({"scopes": []}), "invalid_scopes", "scopes"),
            (
                json!({"scopes": ["sso"], "expires_in_days": 0}),
                "invalid_expiry",
                "expires_in_days",
            ),
            (
                json!({"scopes": ["sso"], "expires_in_days": 31}),
                "invalid_expiry",
                "expires_in_days",
            ),
            (
                json!({"scopes": ["sso"], "note": "x".repeat(201)}),
                "invalid_note",
                "note",
            ),
        ] {
            let res = app
                .api("POST", &base, Auth::Cookie(&owner), Some(body))
                .await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
            assert_eq!(res.json()["error"]["code"], code);
            assert_eq!(res.json()["error"]["field"], field);
        }
        let res = app
            .api(
                "POST",
                &base,
                Auth::Cookie(&owner),
                Some(json!({"scopes": ["members"]})),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        let list = app
            .api("GET", &base, Auth::Cookie(&owner), None)
            .await
            .json();
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

        let events = audit_events(&app, &owner, &org).await;
        let created = audit_of(&events, "setup_link.created");
        assert_eq!(created["actor_type"], "user");
        assert_eq!(created["target_id"], link["id"]);
    }
);

db_test!(a_link_session_works_within_its_scopes_as_the_link, |app| {
    let (owner, org) = app.org_with_owner("ada@scoped.test", "Scoped").await;
    let (link, cookie) = app.setup_link(&owner, &org, &["domains", "sso"]).await;
    let link_id = link["id"].as_str().expect("id");
    let as_link = Auth::Cookie(&cookie);

    // In scope: domains and the SSO settings.
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/domains"),
            as_link,
            Some(json!({"domain": "scoped-acme.com"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = app
        .api("GET", &format!("/api/v1/orgs/{org}/sso"), as_link, None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    // Out of scope: provisioning, branding, members, and making more links.
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/orgs/{org}/sso/provisioning"),
            as_link,
            Some(json!({"jit_enabled": true, "default_role": "guest", "role_mappings": []})),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(code(&res), "outside_setup_link");
    for (fn_name, form) in [
        ("get_branding", vec![("org", org.as_str())]),
        ("list_members", vec![("org", org.as_str())]),
        (
            "create_setup_link",
            vec![("org", org.as_str()), ("sso", "on")],
        ),
    ] {
        let res = app.server_fn(fn_name, &form, Some(&cookie)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{fn_name}: {}", res.body);
    }
    // Another organization (of another owner) does not exist for it.
    let (_, other) = app
        .org_with_owner("owner@other-scoped.test", "Other Scoped")
        .await;
    let res = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{other}/domains"),
            as_link,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    // Nobody's account: no `/me`, no organizations of its own.
    let res = app.get("/api/v1/me", Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = app
        .server_fn("create_org", &[("name", "Mine")], Some(&cookie))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // The console knows it is a setup link, from whom.
    let res = app
        .server_fn("console_context", &[("org", &org)], Some(&cookie))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let ctx = res.json();
    assert_eq!(ctx["user"], Value::Null);
    assert_eq!(ctx["setup_link"]["link_id"], link_id);
    assert_eq!(ctx["setup_link"]["created_by"], "Test User");
    let page = app
        .get(
            &format!("/o/{org}/settings/security/domains"),
            Some(&cookie),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("Setting up SSO for Scoped through a setup link from Test User"),
        "{}",
        page.body
    );

    // What it did is the link's, in the audit log; its use is recorded.
    let events = audit_events(&app, &owner, &org).await;
    let added = audit_of(&events, "domain.added");
    assert_eq!(added["actor_type"], "setup_link");
    assert_eq!(added["actor_id"], link_id);
    assert_eq!(added["actor_label"], "Setup link from Test User");
    assert_eq!(audit_of(&events, "setup_link.opened")["actor_id"], link_id);
    let list = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/setup-links"),
            Auth::Cookie(&owner),
            None,
        )
        .await
        .json();
    assert!(list[0]["last_used_at"].as_i64().is_some(), "{list}");
});

db_test!(revoked_and_expired_links_open_nothing, |app| {
    let (owner, org) = app.org_with_owner("ada@revoked.test", "Revoked").await;
    let (link, cookie) = app.setup_link(&owner, &org, &["domains"]).await;
    let id = link["id"].as_str().expect("id");
    let domains = format!("/api/v1/orgs/{org}/domains");
    let res = app.api("GET", &domains, Auth::Cookie(&cookie), None).await;
    assert_eq!(res.status, StatusCode::OK);

    let path = format!("/api/v1/orgs/{org}/setup-links/{id}");
    let res = app.api("DELETE", &path, Auth::Cookie(&owner), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    // The open session stops at once, and the link opens no new one.
    let res = app.api("GET", &domains, Auth::Cookie(&cookie), None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&res), "setup_link_revoked");
    let token = setup_link_token(&link);
    let res = app
        .server_fn("open_setup_link", &[("token", &token)], None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert_eq!(code(&res), "setup_link_revoked");
    assert!(res.session_cookie().is_none());
    let res = app
        .server_fn("setup_link_info", &[("token", &token)], None)
        .await;
    assert_eq!(res.json()["state"], "revoked");
    // Its page says so with 410 Gone; a link never issued is 404.
    let page = app.get(&format!("/setup/{token}"), None).await;
    assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
    assert!(page.body.contains("was revoked"), "{}", page.body);
    let page = app.get("/setup/lks_nope", None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    // Revoking twice: nothing left to revoke.
    let res = app.api("DELETE", &path, Auth::Cookie(&owner), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Expiry: the same, once its time has passed.
    let (link, cookie) = app.setup_link(&owner, &org, &["domains"]).await;
    sqlx::query("UPDATE setup_links SET expires_at = $2 WHERE id = $1")
        .bind(link["id"].as_str().expect("id"))
        .bind(time::OffsetDateTime::now_utc().unix_timestamp() - 1)
        .execute(&app.state.db)
        .await
        .expect("expire");
    let res = app.api("GET", &domains, Auth::Cookie(&cookie), None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&res), "setup_link_expired");
    let res = app
        .server_fn(
            "open_setup_link",
            &[("token", &setup_link_token(&link))],
            None,
        )
        .await;
    assert_eq!(code(&res), "setup_link_expired");

    // A token that was never issued.
    let res = app
        .server_fn("open_setup_link", &[("token", "lks_nope")], None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let audit = audit_events(&app, &owner, &org).await;
    assert_eq!(audit_of(&audit, "setup_link.revoked")["target_id"], id);
});

db_test!(
    a_link_never_has_more_than_its_creator_or_its_scopes,
    |app| {
        let (owner, org) = app.org_with_owner("owner@bounded.test", "Bounded").await;
        let admin = app.join(&owner, &org, "ada@bounded.test", "admin").await;
        let (_, cookie) = app
            .setup_link(&admin, &org, &["domains", "sso", "provisioning"])
            .await;
        let as_link = Auth::Cookie(&cookie);

        // Provisioning through a link hands out roles within the link's own
        // rights only (no `members:read`): not admin, not even member,
        // whatever its creator holds.
        for role in ["admin", "member"] {
            let res = app
                .api(
                    "PUT",
                    &format!("/api/v1/orgs/{org}/sso/provisioning"),
                    as_link,
                    Some(json!({"jit_enabled": true, "default_role": role, "role_mappings": []})),
                )
                .await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{role}: {}", res.body);
        }

        // Its creator becomes a viewer: the link can read domains, no more.
        let admin_id = app.user_id(&admin).await;
        let res = app
            .api(
                "PATCH",
                &format!("/api/v1/orgs/{org}/members/{admin_id}"),
                Auth::Cookie(&owner),
                Some(json!({"role": "viewer"})),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let domains = format!("/api/v1/orgs/{org}/domains");
        let res = app.api("GET", &domains, as_link, None).await;
        assert_eq!(res.status, StatusCode::OK);
        let res = app
            .api(
                "POST",
                &domains,
                as_link,
                Some(json!({"domain": "bounded-acme.com"})),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    }
);

db_test!(a_signed_in_browser_keeps_its_account_session, |app| {
    let (owner, org) = app.org_with_owner("ada@mixed.test", "Mixed").await;
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/setup-links"),
            Auth::Cookie(&owner),
            Some(json!({"scopes": ["sso"]})),
        )
        .await;
    let token = setup_link_token(&res.json());
    let res = app
        .server_fn("open_setup_link", &[("token", &token)], Some(&owner))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(code(&res), "signed_in");
    // Still the owner, with the owner's rights.
    let res = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/members"),
            Auth::Cookie(&owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
});

db_test!(a_link_session_lasts_twelve_hours_at_most, |app| {
    let (owner, org) = app.org_with_owner("ada@lifetime.test", "Lifetime").await;
    // The link works for 7 days; a session opened with it, 12 hours.
    let (_, cookie) = app.setup_link(&owner, &org, &["domains"]).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (expires_at,): (i64,) = sqlx::query_as(
        "SELECT expires_at FROM sessions WHERE user_id IS NULL AND data LIKE '%setup_link%'",
    )
    .fetch_one(&app.state.db)
    .await
    .expect("the link session");
    assert!(
        (expires_at - (now + 12 * 3600)).abs() < 60,
        "{expires_at} vs now {now}"
    );
    // Past that time the store no longer answers for it.
    sqlx::query(
        "UPDATE sessions SET expires_at = $1 WHERE user_id IS NULL AND data LIKE '%setup_link%'",
    )
    .bind(now - 1)
    .execute(&app.state.db)
    .await
    .expect("age the session");
    let res = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/domains"),
            Auth::Cookie(&cookie),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
});

db_test!(
    a_link_made_with_a_token_is_bounded_by_it_and_ends_with_it,
    |app| {
        let (owner, org) = app
            .org_with_owner("owner@tokenlink.test", "Token Link")
            .await;
        let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/roles"),
            Auth::Cookie(&owner),
            Some(json!({"name": "sso-only", "description": "", "permissions": ["sso:read", "sso:write"]})),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let res = app
            .api(
                "POST",
                &format!("/api/v1/orgs/{org}/api-tokens"),
                Auth::Cookie(&owner),
                Some(json!({"name": "automation", "role": "sso-only"})),
            )
            .await;
        let token = res.json();
        let secret = token["secret"].as_str().expect("secret").to_owned();
        let res = app
            .api(
                "POST",
                &format!("/api/v1/orgs/{org}/setup-links"),
                Auth::Token(&secret),
                Some(json!({"scopes": ["domains", "sso"]})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let link = res.json();
        let res = app
            .server_fn(
                "open_setup_link",
                &[("token", &setup_link_token(&link))],
                None,
            )
            .await;
        let cookie = res.session_cookie().expect("a link session");
        // The owner who made the token may do everything, the token only SSO:
        // the link has the domains scope but not the token's missing rights.
        let domains = format!("/api/v1/orgs/{org}/domains");
        let res = app.api("GET", &domains, Auth::Cookie(&cookie), None).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        let sso = format!("/api/v1/orgs/{org}/sso");
        let res = app.api("GET", &sso, Auth::Cookie(&cookie), None).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);

        // Revoking the token revokes the link with it.
        let res = app
            .api(
                "DELETE",
                &format!(
                    "/api/v1/orgs/{org}/api-tokens/{}",
                    token["id"].as_str().expect("id")
                ),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
        let res = app.api("GET", &sso, Auth::Cookie(&cookie), None).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(code(&res), "setup_link_revoked");
        let list = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/setup-links"),
                Auth::Cookie(&owner),
                None,
            )
            .await
            .json();
        assert_eq!(list[0]["state"], "revoked", "{list}");
        let audit = audit_events(&app, &owner, &org).await;
        assert_eq!(
            audit_of(&audit, "setup_link.revoked")["details"]["reason"],
            "token revoked"
        );
    }
);

db_test!(links_end_when_their_creator_leaves, |app| {
    let (owner, org) = app.org_with_owner("owner@leaves.test", "Leaves").await;
    let admin = app.join(&owner, &org, "admin@leaves.test", "admin").await;
    let admin_id = app.user_id(&admin).await;
    let sso = format!("/api/v1/orgs/{org}/sso");
    let member = format!("/api/v1/orgs/{org}/members/{admin_id}");
    for (change, reason) in [
        (
            Some(json!({"status": "deactivated"})),
            "creator deactivated",
        ),
        (None, "creator removed"),
    ] {
        let admin = app
            .sign_in("admin@leaves.test", crate::common::PASSWORD, None)
            .await
            .session_cookie()
            .unwrap_or_else(|| admin.clone());
        let (_, cookie) = app.setup_link(&admin, &org, &["sso"]).await;
        assert_eq!(
            app.api("GET", &sso, Auth::Cookie(&cookie), None)
                .await
                .status,
            StatusCode::OK
        );
        let res = match &change {
            Some(body) => {
                app.api("PATCH", &member, Auth::Cookie(&owner), Some(body.clone()))
                    .await
            }
            None => app.api("DELETE", &member, Auth::Cookie(&owner), None).await,
        };
        assert!(res.status.is_success(), "{}", res.body);
        let res = app.api("GET", &sso, Auth::Cookie(&cookie), None).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{reason}");
        assert_eq!(code(&res), "setup_link_revoked");
        let audit = audit_events(&app, &owner, &org).await;
        assert_eq!(
            audit_of(&audit, "setup_link.revoked")["details"]["reason"],
            reason
        );
        if change.is_some() {
            let res = app
                .api(
                    "PATCH",
                    &member,
                    Auth::Cookie(&owner),
                    Some(json!({"status": "active"})),
                )
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        }
    }
});

/// A test started through a setup link ends with the link: its one-time
/// test link, and a test already at the IdP, are refused once the link is
/// revoked, and nothing is recorded as the connection's test.
async fn test_tickets_and_flows_end_with_their_link(backend: crate::common::Backend) {
    let s = crate::sso_idp::setup(backend).await;
    let (_, cookie) = s.app.setup_link(&s.owner, "flow-co", &["sso"]).await;
    let ticket = |cookie: String| {
        let app = &s.app;
        async move {
            let res = app
                .api(
                    "POST",
                    "/api/v1/orgs/flow-co/sso/test",
                    Auth::Cookie(&cookie),
                    None,
                )
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            let url = res.json()["test_url"]
                .as_str()
                .expect("test_url")
                .to_owned();
            url::Url::parse(&url).expect("url").path().to_owned()
        }
    };
    let unopened = ticket(cookie.clone()).await;
    let opened = ticket(cookie.clone()).await;
    let started = crate::sso_idp::start(&s, &opened).await;
    let links = s
        .app
        .api(
            "GET",
            "/api/v1/orgs/flow-co/setup-links",
            Auth::Cookie(&s.owner),
            None,
        )
        .await
        .json();
    let id = links[0]["id"].as_str().expect("id").to_owned();
    let res = s
        .app
        .api(
            "DELETE",
            &format!("/api/v1/orgs/flow-co/setup-links/{id}"),
            Auth::Cookie(&s.owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let res = s.app.get(&unopened, None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    let res = crate::sso_idp::finish_at_idp(&s, &started).await;
    crate::sso_idp::assert_code(&res, "expired");
    let sso = s
        .app
        .api(
            "GET",
            "/api/v1/orgs/flow-co/sso",
            Auth::Cookie(&s.owner),
            None,
        )
        .await
        .json();
    assert_eq!(sso["last_test"], Value::Null, "{sso}");
}

crate::on_each_backend!(test_tickets_and_flows_end_with_their_link);
