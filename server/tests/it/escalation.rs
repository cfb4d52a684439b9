//! Nobody grants what they do not hold, and a token never outlives its
//! creator's rights: a member with a narrow custom role, and the holder of
//! an old API token, tried as attackers.

use crate::common::{Auth, PASSWORD, TestApp};
use crate::db_test;
use http::StatusCode;
use serde_json::{Value, json};

async fn custom_role(app: &TestApp, owner: &str, org: &str, name: &str, perms: &[&str]) {
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/roles"),
            Auth::Cookie(owner),
            Some(json!({"name": name, "description": "", "permissions": perms})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
}

/// The actions of the audit log with `prefix`, newest first.
async fn audited(app: &TestApp, owner: &str, org: &str, prefix: &str) -> Vec<Value> {
    let res = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/audit-events?action={prefix}&limit=200"),
            Auth::Cookie(owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()["events"].as_array().expect("events").clone()
}

/// Creates an admin token as `auth`; returns its secret.
async fn mint(app: &TestApp, tokens: &str, auth: Auth<'_>, name: &str) -> String {
    let body = json!({"name": name, "role": "admin"});
    let res = app.api("POST", tokens, auth, Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.json()["secret"].as_str().expect("secret").to_owned()
}

fn assert_refused(res: &crate::common::TestResponse, what: &str) {
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{what}: {}", res.body);
}

db_test!(a_narrow_role_cannot_grant_or_touch_roles_above_it, |app| {
    let (owner, org) = app.org_with_owner("owner@esc.test", "Esc").await;
    custom_role(
        &app,
        &owner,
        &org,
        "people",
        &["members:read", "members:write"],
    )
    .await;
    custom_role(
        &app,
        &owner,
        &org,
        "keys",
        &["members:read", "tokens:write"],
    )
    .await;
    custom_role(&app, &owner, &org, "ssoedit", &["sso:read", "sso:write"]).await;
    let people = app.join(&owner, &org, "people@esc.test", "people").await;
    let keys = app.join(&owner, &org, "keys@esc.test", "keys").await;
    let ssoedit = app.join(&owner, &org, "sso@esc.test", "ssoedit").await;
    let admin = app.join(&owner, &org, "admin@esc.test", "admin").await;
    let member = app.join(&owner, &org, "member@esc.test", "member").await;
    let guest = app.join(&owner, &org, "guest@esc.test", "guest").await;
    let guest_id = app.user_id(&guest).await;
    let people_id = app.user_id(&people).await;
    let admin_id = app.user_id(&admin).await;
    let member_id = app.user_id(&member).await;
    let member_path = |id: &str| format!("/api/v1/orgs/{org}/members/{id}");

    // Members:write does not make its holder an admin, nor anyone else.
    for (id, role) in [
        (&people_id, "admin"),
        (&member_id, "admin"),
        (&member_id, "viewer"),
    ] {
        let res = app
            .api(
                "PATCH",
                &member_path(id),
                Auth::Cookie(&people),
                Some(json!({"role": role})),
            )
            .await;
        assert_refused(&res, &format!("make {id} {role}"));
    }
    // The same through the server function the console uses.
    let res = app
        .server_fn(
            "change_member_role",
            &[("org", &org), ("user_id", &member_id), ("role", "admin")],
            Some(&people),
        )
        .await;
    assert_refused(&res, "server fn role change");
    // Nor can it demote, deactivate or remove someone above it.
    let res = app
        .api(
            "PATCH",
            &member_path(&admin_id),
            Auth::Cookie(&people),
            Some(json!({"role": "guest"})),
        )
        .await;
    assert_refused(&res, "demote an admin");
    let res = app
        .api(
            "PATCH",
            &member_path(&admin_id),
            Auth::Cookie(&people),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_refused(&res, "deactivate an admin");
    let res = app
        .api(
            "DELETE",
            &member_path(&admin_id),
            Auth::Cookie(&people),
            None,
        )
        .await;
    assert_refused(&res, "remove an admin");
    // Nor invite an admin.
    let invite = |role: &str| json!({"email": format!("{role}-invitee@esc.test"), "role": role});
    let invitations = format!("/api/v1/orgs/{org}/invitations");
    let res = app
        .api(
            "POST",
            &invitations,
            Auth::Cookie(&people),
            Some(invite("admin")),
        )
        .await;
    assert_refused(&res, "invite an admin");

    // What it holds, it may give.
    let res = app
        .api(
            "POST",
            &invitations,
            Auth::Cookie(&people),
            Some(invite("people")),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = app
        .api(
            "PATCH",
            &member_path(&guest_id),
            Auth::Cookie(&people),
            Some(json!({"role": "people"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    // Tokens:write does not mint an admin token.
    let tokens = format!("/api/v1/orgs/{org}/api-tokens");
    let res = app
        .api(
            "POST",
            &tokens,
            Auth::Cookie(&keys),
            Some(json!({"name": "t", "role": "admin"})),
        )
        .await;
    assert_refused(&res, "admin token");
    let res = app
        .api(
            "POST",
            &tokens,
            Auth::Cookie(&keys),
            Some(json!({"name": "t", "role": "keys"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);

    // Sso:write does not hand out admin through provisioning.
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/orgs/{org}/sso/provisioning"),
            Auth::Cookie(&ssoedit),
            Some(json!({"jit_enabled": true, "default_role": "admin", "role_mappings": []})),
        )
        .await;
    assert_refused(&res, "admin as default role");
    assert_eq!(res.json()["error"]["field"], "default_role");
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/orgs/{org}/sso/provisioning"),
            Auth::Cookie(&ssoedit),
            Some(
                json!({"jit_enabled": true, "default_role": "guest", "role_mappings": [
                    {"claim": "groups", "operator": "contains", "value": "x", "role": "admin"}
                ]}),
            ),
        )
        .await;
    assert_refused(&res, "admin as a mapping target");
    assert_eq!(res.json()["error"]["field"], "role_mappings[0].role");

    // Nothing changed, and each refusal is on the record.
    let res = app
        .get(
            &format!("/api/v1/orgs/{org}/members?per_page=50"),
            Some(&owner),
        )
        .await;
    let roles: Vec<(String, String)> = res.json()["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "{} {}",
                    m["role"].as_str().unwrap_or_default(),
                    m["status"].as_str().unwrap_or_default()
                ),
            )
        })
        .collect();
    assert!(
        roles.contains(&("admin@esc.test".into(), "admin active".into())),
        "{roles:?}"
    );
    assert!(
        roles.contains(&("people@esc.test".into(), "people active".into())),
        "{roles:?}"
    );
    let refusals = audited(&app, &owner, &org, "role.grant_refused").await;
    assert_eq!(refusals.len(), 11, "{refusals:#?}");
});

db_test!(a_token_never_outlives_its_creators_rights, |app| {
    let (owner, org) = app.org_with_owner("owner@tok.test", "Tok").await;
    let admin = app.join(&owner, &org, "admin@tok.test", "admin").await;
    let admin_id = app.user_id(&admin).await;
    let member = app.join(&owner, &org, "member@tok.test", "member").await;
    let member_id = app.user_id(&member).await;
    let tokens = format!("/api/v1/orgs/{org}/api-tokens");
    let token = mint(&app, &tokens, Auth::Cookie(&admin), "admin's").await;
    // A token made by that token belongs to the same admin.
    let child = mint(&app, &tokens, Auth::Token(&token), "child").await;
    let member_path = format!("/api/v1/orgs/{org}/members/{member_id}");
    let admin_path = format!("/api/v1/orgs/{org}/members/{admin_id}");
    let members = format!("/api/v1/orgs/{org}/members");

    let res = app
        .api(
            "PATCH",
            &member_path,
            Auth::Token(&token),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    // Demoted to viewer, the admin's tokens read as a viewer reads, no more.
    let res = app
        .api(
            "PATCH",
            &admin_path,
            Auth::Cookie(&owner),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    for t in [&token, &child] {
        let res = app
            .api(
                "PATCH",
                &member_path,
                Auth::Token(t),
                Some(json!({"role": "member"})),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        assert_eq!(app.get_with_token(&members, t).await.status, StatusCode::OK);
    }

    // Deactivated, the admin's tokens are revoked, and that is audited.
    let res = app
        .api(
            "PATCH",
            &admin_path,
            Auth::Cookie(&owner),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    for t in [&token, &child] {
        assert_eq!(
            app.get_with_token(&members, t).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let revoked = audited(&app, &owner, &org, "token.revoked").await;
    assert_eq!(revoked.len(), 2, "{revoked:#?}");
    assert!(
        revoked
            .iter()
            .all(|e| e["details"]["reason"] == "creator deactivated"),
        "{revoked:#?}"
    );

    // Reactivating does not bring them back; removing revokes new ones.
    let res = app
        .api(
            "PATCH",
            &admin_path,
            Auth::Cookie(&owner),
            Some(json!({"status": "active", "role": "admin"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        app.get_with_token(&members, &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    // (Deactivation also ended the admin's sessions: they sign in again.)
    let admin = app
        .sign_in("admin@tok.test", PASSWORD, None)
        .await
        .session_cookie()
        .expect("signed in again");
    let fresh = mint(&app, &tokens, Auth::Cookie(&admin), "after").await;
    assert_eq!(
        app.get_with_token(&members, &fresh).await.status,
        StatusCode::OK
    );
    let res = app
        .api("DELETE", &admin_path, Auth::Cookie(&owner), None)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(
        app.get_with_token(&members, &fresh).await.status,
        StatusCode::UNAUTHORIZED
    );
});
