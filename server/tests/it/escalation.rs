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

/// An admin token of `user_id`, made straight in the database (as if made
/// while they were an admin).
async fn mint_admin(app: &TestApp, org: &str, user_id: &str) -> String {
    let org_id: String = sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1")
        .bind(org)
        .fetch_one(&app.state.db)
        .await
        .expect("org");
    sqlx::query("UPDATE memberships SET role = 'admin' WHERE user_id = $1 AND org_id = $2")
        .bind(user_id)
        .bind(&org_id)
        .execute(&app.state.db)
        .await
        .expect("admin again");
    app::orgs::tokens::create_token(&app.state.db, &org_id, Some(user_id), "direct", "admin")
        .await
        .expect("token")
        .1
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

    // Demoted to viewer, the admin's admin tokens are revoked (a viewer
    // could not have made them), and that is audited.
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
            .all(|e| e["details"]["reason"] == "creator demoted"),
        "{revoked:#?}"
    );
    // A token made before the demotion and not revoked by it (as tokens of
    // earlier releases were) still acts as a viewer, no more.
    let old = mint(
        &app,
        &tokens,
        Auth::Token(&mint_admin(&app, &org, &admin_id).await),
        "old",
    )
    .await;
    sqlx::query("UPDATE memberships SET role = 'viewer' WHERE user_id = $1")
        .bind(&admin_id)
        .execute(&app.state.db)
        .await
        .expect("demoted behind the API's back");
    let res = app
        .api(
            "PATCH",
            &member_path,
            Auth::Token(&old),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(
        app.get_with_token(&members, &old).await.status,
        StatusCode::OK
    );

    // Deactivated, the admin's tokens are revoked, and that is audited.
    let (token, child) = (old.clone(), old);
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
    assert_eq!(
        revoked[0]["details"]["reason"], "creator deactivated",
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

db_test!(a_demoted_owners_owner_token_has_no_owner_powers, |app| {
    let (ada, org) = app.org_with_owner("ada@owners.test", "Owners").await;
    let bob = app.join(&ada, &org, "bob@owners.test", "owner").await;
    let ada_id = app.user_id(&ada).await;
    let bob_id = app.user_id(&bob).await;
    let tokens = format!("/api/v1/orgs/{org}/api-tokens");
    let owner_token = |name: &'static str| {
        let (app, tokens, ada) = (&app, tokens.clone(), ada.clone());
        async move {
            let res = app
                .api(
                    "POST",
                    &tokens,
                    Auth::Cookie(&ada),
                    Some(json!({"name": name, "role": "owner"})),
                )
                .await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            res.json()["secret"].as_str().expect("secret").to_owned()
        }
    };
    let kept = owner_token("made before").await;
    let member = |id: &str| format!("/api/v1/orgs/{org}/members/{id}");

    // Demoted behind the API's back (tokens of earlier releases were not
    // revoked on demotion): her owner token acts as the admin she is now.
    sqlx::query("UPDATE memberships SET role = 'admin' WHERE user_id = $1")
        .bind(&ada_id)
        .execute(&app.state.db)
        .await
        .expect("demoted");
    let promote = app
        .api(
            "PATCH",
            &member(&ada_id),
            Auth::Token(&kept),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_refused(&promote, "re-promoting herself");
    let demote = app
        .api(
            "PATCH",
            &member(&bob_id),
            Auth::Token(&kept),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_refused(&demote, "demoting the other owner");
    let remove = app
        .api("DELETE", &member(&bob_id), Auth::Token(&kept), None)
        .await;
    assert_refused(&remove, "removing the other owner");
    let me = app
        .get_with_token(&format!("/api/v1/orgs/{org}/members"), &kept)
        .await;
    assert_eq!(me.status, StatusCode::OK, "an admin still reads members");
    let role: String = sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1")
        .bind(&bob_id)
        .fetch_one(&app.state.db)
        .await
        .expect("bob");
    assert_eq!(role, "owner");

    // Demoted through the API, her owner tokens are revoked (audited) and
    // a token her new role could have made stays.
    sqlx::query("UPDATE memberships SET role = 'owner' WHERE user_id = $1")
        .bind(&ada_id)
        .execute(&app.state.db)
        .await
        .expect("owner again");
    let owner = owner_token("owner").await;
    let res = app
        .api(
            "POST",
            &tokens,
            Auth::Cookie(&ada),
            Some(json!({"name": "viewer", "role": "viewer"})),
        )
        .await;
    let viewer = res.json()["secret"].as_str().expect("secret").to_owned();
    let res = app
        .api(
            "PATCH",
            &member(&ada_id),
            Auth::Cookie(&bob),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let members = format!("/api/v1/orgs/{org}/members");
    for t in [&owner, &kept] {
        assert_eq!(
            app.get_with_token(&members, t).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.get_with_token(&members, &viewer).await.status,
        StatusCode::OK
    );
    let revoked = audited(&app, &bob, &org, "token.revoked").await;
    assert_eq!(revoked.len(), 2, "{revoked:#?}");
    assert!(
        revoked
            .iter()
            .all(|e| e["details"]["reason"] == "creator demoted")
    );
});

db_test!(
    a_role_is_not_widened_while_something_will_hand_it_out,
    |app| {
        let (owner, org) = app.org_with_owner("owner@widen.test", "Widen").await;
        custom_role(&app, &owner, &org, "helper", &["audit:read"]).await;
        let role = format!("/api/v1/orgs/{org}/roles/helper");
        let widen = json!({"permissions": ["audit:read", "members:write"]});
        // A pending invitation with the role: its invitee would get the wider one.
        let res = app
            .api(
                "POST",
                &format!("/api/v1/orgs/{org}/invitations"),
                Auth::Cookie(&owner),
                Some(json!({"email": "new@widen.test", "role": "helper"})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let invitation = res.json()["id"].as_str().expect("id").to_owned();
        let res = app
            .api("PATCH", &role, Auth::Cookie(&owner), Some(widen.clone()))
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
        assert!(res.body.contains("pending invitation"), "{}", res.body);
        let res = app
            .api(
                "DELETE",
                &format!("/api/v1/orgs/{org}/invitations/{invitation}"),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert!(res.status.is_success(), "{}", res.body);
        // A mapping rule (or the default role) naming it: the same.
        let org_id: String = sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1")
            .bind(&org)
            .fetch_one(&app.state.db)
            .await
            .expect("org");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        sqlx::query(
        "INSERT INTO sso_connections (org_id, login_id, provider_label, discovery_url, issuer, client_id, \
         client_secret_enc, scopes, claims, session_max_age_secs, created_at, updated_at, role_mappings) \
         VALUES ($1, 'l1', 'X', 'https://idp.widen.test', 'https://idp.widen.test', 'c', '', 'openid', '{}', 3600, $2, $2, $3)",
    )
    .bind(&org_id)
    .bind(now)
    .bind(r#"[{"claim":"groups","operator":"contains","value":"ops","role":"helper"}]"#)
    .execute(&app.state.db)
    .await
    .expect("connection");
        let res = app
            .api("PATCH", &role, Auth::Cookie(&owner), Some(widen.clone()))
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
        assert!(res.body.contains("role mapping rule 1"), "{}", res.body);
        sqlx::query("UPDATE sso_connections SET role_mappings = '[]', default_role = 'helper'")
            .execute(&app.state.db)
            .await
            .expect("default");
        let res = app
            .api("PATCH", &role, Auth::Cookie(&owner), Some(widen.clone()))
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
        sqlx::query("UPDATE sso_connections SET default_role = 'member'")
            .execute(&app.state.db)
            .await
            .expect("default");
        let res = app
            .api("PATCH", &role, Auth::Cookie(&owner), Some(widen))
            .await;
        assert!(res.status.is_success(), "{}", res.body);
    }
);
