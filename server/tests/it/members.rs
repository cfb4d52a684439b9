//! Roles, permissions, members and invitations, through server functions
//! and the REST API alike.

use crate::common::{Auth, Backend, PASSWORD, TestApp, invitation_token};
use crate::db_test;
use http::StatusCode;
use serde_json::json;

db_test!(a_viewer_cannot_change_roles_by_server_fn_or_rest, |app| {
    let (owner, org) = app.org_with_owner("owner@acme.test", "Acme").await;
    let viewer = app.join(&owner, &org, "viewer@acme.test", "viewer").await;
    let member = app.join(&owner, &org, "member@acme.test", "member").await;
    let member_id = app.user_id(&member).await;

    let res = app
        .server_fn(
            "change_member_role",
            &[("org", &org), ("user_id", &member_id), ("role", "admin")],
            Some(&viewer),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert!(
        res.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("members:write"))
    );

    let path = format!("/api/v1/orgs/{org}/members/{member_id}");
    let res = app
        .api(
            "PATCH",
            &path,
            Auth::Cookie(&viewer),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.json()["error"]["code"], "forbidden");

    // A viewer may read members, though.
    let res = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/members"),
            Auth::Cookie(&viewer),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["total"], 3);

    // Tokens act with their own role.
    let mk = |role: &str| json!({"name": format!("{role} token"), "role": role});
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/api-tokens"),
            Auth::Cookie(&owner),
            Some(mk("viewer")),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let viewer_token = res.json()["secret"].as_str().expect("secret").to_owned();
    let res = app
        .api(
            "PATCH",
            &path,
            Auth::Token(&viewer_token),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/api-tokens"),
            Auth::Cookie(&owner),
            Some(mk("admin")),
        )
        .await;
    let admin_token = res.json()["secret"].as_str().expect("secret").to_owned();
    let res = app
        .api(
            "PATCH",
            &path,
            Auth::Token(&admin_token),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["role"], "admin");

    // Nothing changed by the refused calls: the only role change is the admin token's.
    let events = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/audit-events?action=member.role_changed"),
            Auth::Cookie(&owner),
            None,
        )
        .await
        .json();
    let events = events["events"].as_array().expect("events").clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor_type"], "token");
    assert_eq!(
        events[0]["details"],
        json!({"from": "member", "to": "admin"})
    );
});

db_test!(
    tokens_stop_working_when_revoked_and_roles_in_use_cannot_be_deleted,
    |app| {
        let (owner, org) = app.org_with_owner("o@t.test", "Tok").await;
        let res = app
            .api(
                "POST",
                &format!("/api/v1/orgs/{org}/roles"),
                Auth::Cookie(&owner),
                Some(json!({"name": "auditor", "permissions": ["audit:read"]})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let res = app
            .api(
                "POST",
                &format!("/api/v1/orgs/{org}/api-tokens"),
                Auth::Cookie(&owner),
                Some(json!({"name": "siem", "role": "auditor"})),
            )
            .await;
        let token = res.json()["secret"].as_str().expect("secret").to_owned();
        let token_id = res.json()["id"].as_str().expect("id").to_owned();
        let audit = format!("/api/v1/orgs/{org}/audit-events");
        assert_eq!(
            app.api("GET", &audit, Auth::Token(&token), None)
                .await
                .status,
            StatusCode::OK
        );
        // The custom role grants only what it lists.
        let res = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/members"),
                Auth::Token(&token),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        // Held by a token: cannot be deleted.
        let res = app
            .server_fn(
                "delete_role",
                &[("org", &org), ("name", "auditor")],
                Some(&owner),
            )
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);

        let res = app
            .api(
                "DELETE",
                &format!("/api/v1/orgs/{org}/api-tokens/{token_id}"),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        let res = app.api("GET", &audit, Auth::Token(&token), None).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["error"]["code"], "invalid_token");
        let res = app
            .server_fn(
                "delete_role",
                &[("org", &org), ("name", "auditor")],
                Some(&owner),
            )
            .await;
        assert!(res.status.is_success(), "{}", res.body);

        // Tokens are scoped to their organization.
        let (other_owner, other_org) = app.org_with_owner("o2@t.test", "Other").await;
        let res = app
            .api(
                "POST",
                &format!("/api/v1/orgs/{other_org}/api-tokens"),
                Auth::Cookie(&other_owner),
                Some(json!({"name": "x", "role": "owner"})),
            )
            .await;
        let foreign = res.json()["secret"].as_str().expect("secret").to_owned();
        let res = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/members"),
                Auth::Token(&foreign),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }
);

db_test!(an_organization_keeps_one_active_owner, |app| {
    let (owner, org) = app.org_with_owner("solo@own.test", "Own").await;
    let owner_id = app.user_id(&owner).await;
    let path = format!("/api/v1/orgs/{org}/members/{owner_id}");
    for body in [json!({"role": "admin"}), json!({"status": "deactivated"})] {
        let res = app
            .api("PATCH", &path, Auth::Cookie(&owner), Some(body))
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
        assert_eq!(res.json()["error"]["code"], "last_owner");
    }
    let res = app.api("DELETE", &path, Auth::Cookie(&owner), None).await;
    assert_eq!(res.status, StatusCode::CONFLICT);

    // An admin cannot touch owners or create them.
    let admin = app.join(&owner, &org, "admin@own.test", "admin").await;
    let admin_id = app.user_id(&admin).await;
    let res = app
        .api(
            "PATCH",
            &path,
            Auth::Cookie(&admin),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .api(
            "PATCH",
            &format!("/api/v1/orgs/{org}/members/{admin_id}"),
            Auth::Cookie(&admin),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // With a second owner, the first may step down.
    let res = app
        .api(
            "PATCH",
            &format!("/api/v1/orgs/{org}/members/{admin_id}"),
            Auth::Cookie(&owner),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app
        .api(
            "PATCH",
            &path,
            Auth::Cookie(&owner),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
});

db_test!(
    deactivation_ends_sessions_and_blocks_access_until_reactivated,
    |app| {
        let (owner, org) = app.org_with_owner("boss@deact.test", "Deact").await;
        let colleague = app.join(&owner, &org, "col@deact.test", "member").await;
        let colleague_id = app.user_id(&colleague).await;
        assert_eq!(
            app.get("/api/v1/me", Some(&colleague)).await.status,
            StatusCode::OK
        );

        let res = app
            .server_fn(
                "set_member_active",
                &[
                    ("org", &org),
                    ("user_id", &colleague_id),
                    ("active", "false"),
                ],
                Some(&owner),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.json()["status"], "deactivated");
        assert_eq!(
            app.get("/api/v1/me", Some(&colleague)).await.status,
            StatusCode::UNAUTHORIZED,
            "session ended at once"
        );

        // Signing in again works, but the organization stays closed.
        let again = app
            .sign_in("col@deact.test", PASSWORD, None)
            .await
            .session_cookie()
            .expect("cookie");
        let res = app
            .server_fn("console_context", &[("org", &org)], Some(&again))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);

        app.server_fn(
            "set_member_active",
            &[
                ("org", &org),
                ("user_id", &colleague_id),
                ("active", "true"),
            ],
            Some(&owner),
        )
        .await;
        let res = app
            .server_fn("console_context", &[("org", &org)], Some(&again))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);

        // Removal ends sessions too.
        let res = app
            .api(
                "DELETE",
                &format!("/api/v1/orgs/{org}/members/{colleague_id}"),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get("/api/v1/me", Some(&again)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
);

db_test!(
    invitations_are_single_use_and_expire_and_can_be_revoked,
    |app| {
        let (owner, org) = app.org_with_owner("hr@inv.test", "Inv").await;
        let invite = |email: &'static str| {
            let owner = owner.clone();
            let org = org.clone();
            let app = &app;
            async move {
                let res = app
                    .api(
                        "POST",
                        &format!("/api/v1/orgs/{org}/invitations"),
                        Auth::Cookie(&owner),
                        Some(json!({"email": email, "role": "viewer"})),
                    )
                    .await;
                assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
                res.json()
            }
        };
        // Accept once, then never again.
        let inv = invite("new@inv.test").await;
        let token = invitation_token(&inv);
        let info = app
            .server_fn("invitation_info", &[("token", &token)], None)
            .await
            .json();
        assert_eq!(info["state"], "pending");
        assert_eq!(info["org_name"], "Inv");
        let res = app
            .server_fn(
                "accept_invitation_signup",
                &[("token", &token), ("name", "New"), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(res.location(), Some(format!("/o/{org}").as_str()));
        let cookie = res.session_cookie().expect("signed in");
        let me = app.get("/api/v1/me", Some(&cookie)).await.json();
        assert_eq!(me["orgs"][0]["role"], "viewer");
        let res = app
            .server_fn("accept_invitation", &[("token", &token)], Some(&cookie))
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(res.json()["code"], "invitation_used");
        let members = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/members"),
                Auth::Cookie(&owner),
                None,
            )
            .await
            .json();
        assert_eq!(members["total"], 2);
        let joined = members["members"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["email"] == "new@inv.test").cloned());
        assert_eq!(joined.map(|m| m["source"].clone()), Some(json!("invite")));

        // Inviting a member again is refused.
        let res = app
            .api(
                "POST",
                &format!("/api/v1/orgs/{org}/invitations"),
                Auth::Cookie(&owner),
                Some(json!({"email": "new@inv.test", "role": "viewer"})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT);

        // Revoked.
        let inv = invite("gone@inv.test").await;
        let res = app
            .api(
                "DELETE",
                &format!(
                    "/api/v1/orgs/{org}/invitations/{}",
                    inv["id"].as_str().expect("id")
                ),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        let res = app
            .server_fn(
                "accept_invitation_signup",
                &[
                    ("token", &invitation_token(&inv)),
                    ("name", "G"),
                    ("password", PASSWORD),
                ],
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert!(res.session_cookie().is_none());

        // Expired.
        let inv = invite("late@inv.test").await;
        sqlx::query("UPDATE invitations SET expires_at = 1 WHERE id = $1")
            .bind(inv["id"].as_str().expect("id"))
            .execute(&app.state.db)
            .await
            .expect("expire");
        let late = app.sign_up("late@inv.test").await;
        let res = app
            .server_fn(
                "accept_invitation",
                &[("token", &invitation_token(&inv))],
                Some(&late),
            )
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(res.json()["code"], "invitation_expired");

        // Addressed to someone else.
        let inv = invite("right@inv.test").await;
        let res = app
            .server_fn(
                "accept_invitation",
                &[("token", &invitation_token(&inv))],
                Some(&late),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let me = app.get("/api/v1/me", Some(&late)).await.json();
        assert_eq!(
            me["orgs"].as_array().map(Vec::len),
            Some(0),
            "nothing joined"
        );
    }
);

#[tokio::test]
async fn bad_api_input_gets_specific_errors_and_changes_nothing() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (owner, org) = app.org_with_owner("in@put.test", "Input").await;
    let id = app.user_id(&owner).await;
    let path = format!("/api/v1/orgs/{org}/members/{id}");
    let raw = http::Request::patch(&path)
        .header("cookie", &owner)
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{not json"))
        .expect("request");
    let res = app.send(raw).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"]["code"], "invalid_body");
    let res = app
        .api(
            "PATCH",
            &path,
            Auth::Cookie(&owner),
            Some(json!({"status": "sleeping"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["error"]["field"], "status");
    let res = app
        .api(
            "PATCH",
            &path,
            Auth::Cookie(&owner),
            Some(json!({"rol": "admin"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/invitations"),
            Auth::Cookie(&owner),
            Some(json!({"email": "x@y.test", "role": "wizard"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["error"]["field"], "role");
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/roles"),
            Auth::Cookie(&owner),
            Some(json!({"name": "Bad Name!", "permissions": []})),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/roles"),
            Auth::Cookie(&owner),
            Some(json!({"name": "ok", "permissions": ["root:all"]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["error"]["code"], "unknown_permission");
    let res = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/audit-events?cursor=zzz"),
            Auth::Cookie(&owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/members?page=abc"),
            Auth::Cookie(&owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let me = app.get("/api/v1/me", Some(&owner)).await.json();
    assert_eq!(me["orgs"][0]["role"], "owner", "unchanged");
}

#[tokio::test]
async fn members_can_be_searched_and_paged() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (owner, org) = app.org_with_owner("a-owner@page.test", "Paged").await;
    for i in 0..3 {
        app.join(&owner, &org, &format!("person{i}@page.test"), "member")
            .await;
    }
    let list = |q: &str| {
        let path = format!("/api/v1/orgs/{org}/members?{q}");
        let owner = owner.clone();
        let app = &app;
        async move {
            app.api("GET", &path, Auth::Cookie(&owner), None)
                .await
                .json()
        }
    };
    let page = list("per_page=2&page=1").await;
    assert_eq!(page["total"], 4);
    assert_eq!(page["members"].as_array().map(Vec::len), Some(2));
    let page2 = list("per_page=2&page=2").await;
    assert_eq!(page2["members"].as_array().map(Vec::len), Some(2));
    assert_ne!(
        page["members"][0]["user_id"],
        page2["members"][0]["user_id"]
    );
    let found = list("q=PERSON1").await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["members"][0]["email"], "person1@page.test");
    assert!(
        found["members"][0]["last_login_at"].is_i64(),
        "joining signed them in: {found}"
    );
}

db_test!(
    custom_roles_can_be_edited_only_while_nobody_holds_them,
    |app| {
        let (owner, org) = app.org_with_owner("roles@edit.test", "Editors").await;
        let roles = format!("/api/v1/orgs/{org}/roles");
        let res = app
            .api(
                "POST",
                &roles,
                Auth::Cookie(&owner),
                Some(json!({"name": "support", "permissions": ["members:read"]})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let support = format!("{roles}/support");
        let res = app
            .api(
                "PATCH",
                &support,
                Auth::Cookie(&owner),
                Some(json!({"permissions": ["members:read", "audit:read"]})),
            )
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
        let list = app
            .api("GET", &roles, Auth::Cookie(&owner), None)
            .await
            .json();
        let found = list
            .as_array()
            .and_then(|l| l.iter().find(|r| r["name"] == "support").cloned())
            .expect("support");
        assert_eq!(found["permissions"], json!(["members:read", "audit:read"]));

        // Built-in roles and unknown roles.
        let res = app
            .api(
                "PATCH",
                &format!("{roles}/owner"),
                Auth::Cookie(&owner),
                Some(json!({"permissions": []})),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.json()["error"]["code"], "builtin_role");
        let res = app
            .api(
                "PATCH",
                &format!("{roles}/ghost"),
                Auth::Cookie(&owner),
                Some(json!({"permissions": []})),
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);

        // Held by a member: neither edited nor deleted, and nothing changes.
        let viewer = app.join(&owner, &org, "held@edit.test", "support").await;
        let res = app
            .api(
                "PATCH",
                &support,
                Auth::Cookie(&owner),
                Some(json!({"permissions": []})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(res.json()["error"]["code"], "role_in_use");
        let res = app
            .api("DELETE", &support, Auth::Cookie(&owner), None)
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        let res = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/audit-events?action=role.updated"),
                Auth::Cookie(&viewer),
                None,
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "the role still grants audit:read: {}",
            res.body
        );
        assert_eq!(res.json()["events"].as_array().map(Vec::len), Some(1));

        // Someone without roles:write cannot edit.
        let res = app
            .api(
                "PATCH",
                &support,
                Auth::Cookie(&viewer),
                Some(json!({"permissions": []})),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);

        // Once nobody holds it, it can go.
        let viewer_id = app.user_id(&viewer).await;
        app.api(
            "PATCH",
            &format!("/api/v1/orgs/{org}/members/{viewer_id}"),
            Auth::Cookie(&owner),
            Some(json!({"role": "viewer"})),
        )
        .await;
        let res = app
            .api("DELETE", &support, Auth::Cookie(&owner), None)
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    }
);
