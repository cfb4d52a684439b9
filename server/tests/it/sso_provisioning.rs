//! Provisioning at SSO sign-in: just-in-time on and off, role mapping
//! rules and their validation, profile and role sync with audit, concurrent
//! first sign-ins, disconnect and deactivation.

use crate::common::{Auth, Backend};
use crate::sso_idp::*;
use http::StatusCode;
use serde_json::{Value, json};

async fn put_provisioning(s: &Setup, cookie: &str, body: Value) -> crate::common::TestResponse {
    s.app
        .api(
            "PUT",
            "/api/v1/orgs/flow-co/sso/provisioning",
            Auth::Cookie(cookie),
            Some(body),
        )
        .await
}

async fn membership(s: &Setup, email: &str) -> Option<(String, String)> {
    sqlx::query_as(
        "SELECT m.role, m.status FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE u.email = $1 AND m.org_id = $2",
    )
    .bind(email)
    .bind(&s.org_id)
    .fetch_optional(&s.app.state.db)
    .await
    .expect("membership")
}

async fn audit_count(s: &Setup, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = $1")
        .bind(action)
        .fetch_one(&s.app.state.db)
        .await
        .expect("count")
}

fn groups(list: &[&str]) -> Plan {
    Plan {
        claims: vec![("groups".into(), json!(list))],
        ..Default::default()
    }
}

async fn signed_in_ok(s: &Setup, plan: Plan) -> String {
    let (res, cookie) = sign_in_with(s, plan).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    cookie
}

async fn mapping_and_sync(backend: Backend) {
    let s = setup(backend).await;
    let rules = json!({
        "jit_enabled": true, "default_role": "member",
        "role_mappings": [{"claim": "groups", "operator": "contains", "value": "admins", "role": "admin"}],
    });
    let res = put_provisioning(&s, &s.owner, rules.clone()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["role_mappings"][0]["operator"], "contains");
    assert_eq!(audit_count(&s, "sso.provisioning_updated").await, 1);

    // No rule matches: the default role.
    signed_in_ok(&s, groups(&["engineering"])).await;
    assert_eq!(
        membership(&s, "ada@flow.test").await,
        Some(("member".into(), "active".into()))
    );

    // Second sign-in: in the admins group and renamed at the IdP.
    let mut plan = groups(&["engineering", "admins"]);
    plan.claims.push(("name".into(), json!("Ada King")));
    let cookie = signed_in_ok(&s, plan).await;
    assert_eq!(
        membership(&s, "ada@flow.test").await.map(|m| m.0),
        Some("admin".into())
    );
    let me = s.app.get("/api/v1/me", Some(&cookie)).await.json();
    assert_eq!(me["name"], "Ada King");
    let (details,): (String,) = sqlx::query_as(
        "SELECT details FROM audit_events WHERE action = 'member.role_synced' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&s.app.state.db)
    .await
    .expect("role change audited");
    let details: Value = serde_json::from_str(&details).expect("json");
    assert_eq!(details["from"], "member");
    assert_eq!(details["to"], "admin");
    assert_eq!(details["rule"], "groups contains admins → admin");
    let (details,): (String,) = sqlx::query_as(
        "SELECT details FROM audit_events WHERE action = 'user.profile_synced' AND details LIKE '%\"name\"%'",
    )
    .fetch_one(&s.app.state.db)
    .await
    .expect("name change audited");
    let details: Value = serde_json::from_str(&details).expect("json");
    assert_eq!(
        (details["from"].as_str(), details["to"].as_str()),
        (Some("Ada Lovelace"), Some("Ada King"))
    );

    // With rules, a role set by hand is overwritten at the next sign-in...
    let ada = s.app.user_id(&cookie).await;
    let member_path = format!("/api/v1/orgs/flow-co/members/{ada}");
    let res = s
        .app
        .api(
            "PATCH",
            &member_path,
            Auth::Cookie(&s.owner),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    signed_in_ok(&s, groups(&["admins"])).await;
    assert_eq!(
        membership(&s, "ada@flow.test").await.map(|m| m.0),
        Some("admin".into())
    );

    // ...without rules it stays.
    let res = put_provisioning(
        &s,
        &s.owner,
        json!({"jit_enabled": true, "default_role": "member", "role_mappings": []}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = s
        .app
        .api(
            "PATCH",
            &member_path,
            Auth::Cookie(&s.owner),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    signed_in_ok(&s, groups(&["admins"])).await;
    assert_eq!(
        membership(&s, "ada@flow.test").await.map(|m| m.0),
        Some("viewer".into())
    );
}

crate::on_each_backend!(mapping_and_sync);

#[tokio::test]
async fn bad_rules_are_refused_by_rule_and_field_and_change_nothing() {
    let s = setup(Backend::Sqlite).await;
    let rule = |claim: &str, op: &str, value: &str, role: &str| json!({"claim": claim, "operator": op, "value": value, "role": role});
    let ok = rule("groups", "contains", "admins", "admin");
    let cases = [
        (
            json!([ok, rule("email", "matches", "(unclosed", "member")]),
            "role_mappings[1].value",
            "Rule 2",
        ),
        (
            json!([rule(
                "groups",
                "matches",
                "(a{1,100}){1,100}{1,100}",
                "admin"
            )]),
            "role_mappings[0].value",
            "too large",
        ),
        (
            json!([rule("groups", "contains", "x", "wizard")]),
            "role_mappings[0].role",
            "wizard",
        ),
        (
            json!([rule("groups", "contains", "x", "owner")]),
            "role_mappings[0].role",
            "owner",
        ),
        (
            json!([rule("", "equals", "x", "admin")]),
            "role_mappings[0].claim",
            "Rule 1",
        ),
        (
            json!([rule("groups", "equals", "", "admin")]),
            "role_mappings[0].value",
            "Rule 1",
        ),
    ];
    for (rules, field, says) in cases {
        let res = put_provisioning(
            &s,
            &s.owner,
            json!({"jit_enabled": false, "default_role": "member", "role_mappings": rules}),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            res.body
        );
        let err = &res.json()["error"];
        assert_eq!(err["field"], field, "{}", res.body);
        assert!(
            err["message"].as_str().is_some_and(|m| m.contains(says)),
            "{}",
            res.body
        );
    }
    let res = put_provisioning(
        &s,
        &s.owner,
        json!({"jit_enabled": true, "default_role": "owner", "role_mappings": []}),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json()["error"]["field"], "default_role");
    let res = put_provisioning(
        &s,
        &s.owner,
        json!({"jit_enabled": true, "default_role": "member", "role_mappings": [{"claim": "g", "operator": "like", "value": "x", "role": "admin"}]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);

    // A viewer may read the settings but not change them.
    let viewer = join_before_sso(&s, "vic@flow.test", "viewer").await;
    let res = put_provisioning(
        &s,
        &viewer,
        json!({"jit_enabled": false, "default_role": "viewer", "role_mappings": []}),
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // Nor through the console's server function.
    let res = s
        .app
        .server_fn(
            "save_provisioning",
            &[("org", "flow-co"), ("form[default_role]", "viewer")],
            Some(&viewer),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);

    // The PUT of the whole connection validates the same way.
    let wizard = json!({"role_mappings": [rule("groups", "contains", "x", "wizard")]});
    let res = put_sso(&s.app, &s.owner, &s.idp, wizard).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);

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
    assert_eq!(sso["jit_enabled"], true, "nothing changed");
    assert_eq!(sso["default_role"], "member");
    assert_eq!(sso["role_mappings"], json!([]));
    assert_eq!(audit_count(&s, "sso.provisioning_updated").await, 0);

    // The console form: the blank row is dropped, filled rows are kept.
    let res = s
        .app
        .server_fn(
            "save_provisioning",
            &[
                ("org", "flow-co"),
                ("form[default_role]", "viewer"),
                ("form[rules][0][claim]", "groups"),
                ("form[rules][0][operator]", "matches"),
                ("form[rules][0][value]", "eng-.*"),
                ("form[rules][0][role]", "member"),
                ("form[rules][1][claim]", ""),
                ("form[rules][1][operator]", "contains"),
                ("form[rules][1][value]", ""),
                ("form[rules][1][role]", "member"),
            ],
            Some(&s.owner),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let saved = res.json();
    assert_eq!(saved["jit_enabled"], false, "an unticked box turns JIT off");
    assert_eq!(saved["default_role"], "viewer");
    assert_eq!(saved["role_mappings"].as_array().map(Vec::len), Some(1));

    // A custom role may be mapped, and then cannot be deleted under it.
    let res = s
        .app
        .api(
            "POST",
            "/api/v1/orgs/flow-co/roles",
            Auth::Cookie(&s.owner),
            Some(json!({"name": "engineer", "description": "Engineers", "permissions": ["sso:read"]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = put_provisioning(
        &s,
        &s.owner,
        json!({"jit_enabled": true, "default_role": "member",
            "role_mappings": [rule("groups", "contains", "eng", "engineer")]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = s
        .app
        .api(
            "DELETE",
            "/api/v1/orgs/flow-co/roles/engineer",
            Auth::Cookie(&s.owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "role_in_use");
}

#[tokio::test]
async fn jit_off_lets_in_only_members_and_invitees() {
    let s = setup(Backend::Sqlite).await;
    let res = put_provisioning(
        &s,
        &s.owner,
        json!({"jit_enabled": false, "default_role": "member", "role_mappings": []}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let (res, cookie) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_code(&res, "not_provisioned");
    assert!(res.body.contains("ask an admin of Flow Co"), "{}", res.body);
    assert!(!is_signed_in(&s, &cookie).await);
    assert_eq!(users_named(&s, "ada@flow.test").await, 0, "no account");
    let (details,): (String,) =
        sqlx::query_as("SELECT details FROM audit_events WHERE action = 'sso.login_failed'")
            .fetch_one(&s.app.state.db)
            .await
            .expect("refusal audited");
    assert!(details.contains("not_provisioned"), "{details}");

    // An invitation gets them in, with the invited role (no rules).
    let res = s
        .app
        .api(
            "POST",
            "/api/v1/orgs/flow-co/invitations",
            Auth::Cookie(&s.owner),
            Some(json!({"email": "ada@flow.test", "role": "admin"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    signed_in_ok(&s, Plan::default()).await;
    assert_eq!(
        membership(&s, "ada@flow.test").await,
        Some(("admin".into(), "active".into()))
    );

    // Deactivated: refused, and the open SSO session is ended at once.
    let cookie = signed_in_ok(&s, Plan::default()).await;
    let ada = s.app.user_id(&cookie).await;
    let res = s
        .app
        .api(
            "PATCH",
            &format!("/api/v1/orgs/flow-co/members/{ada}"),
            Auth::Cookie(&s.owner),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(!is_signed_in(&s, &cookie).await, "the SSO session ended");
    let (res, _) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_code(&res, "deactivated");
}

#[tokio::test]
async fn the_test_result_names_the_matching_rule() {
    let s = setup(Backend::Sqlite).await;
    let res = put_provisioning(
        &s,
        &s.owner,
        json!({"jit_enabled": true, "default_role": "viewer", "role_mappings": [
            {"claim": "groups", "operator": "contains", "value": "admins", "role": "admin"},
            {"claim": "email", "operator": "matches", "value": ".*@flow\\.test", "role": "member"},
        ]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = s
        .app
        .api(
            "POST",
            "/api/v1/orgs/flow-co/sso/test",
            Auth::Cookie(&s.owner),
            None,
        )
        .await;
    let test_url = res.json()["test_url"].as_str().expect("url").to_owned();
    let path = test_url
        .strip_prefix(&s.app.state.settings.public_url)
        .expect("absolute")
        .to_owned();
    s.idp.plan(Plan::default());
    let started = start(&s, &path).await;
    finish_at_idp(&s, &started).await;
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
    let result = &sso["last_test"]["result"];
    assert_eq!(result["role"], "member", "{sso}");
    assert_eq!(result["rule_number"], 2);
    assert_eq!(result["rule"], "email matches .*@flow\\.test → member");
    // And the console shows it.
    let page = s
        .app
        .get("/o/flow-co/settings/security", Some(&s.owner))
        .await;
    assert!(page.body.contains("rule 2: email matches"), "{}", page.body);
}

async fn concurrent_first_sign_ins(backend: Backend) {
    let s = setup(backend).await;
    s.idp.plan(Plan::default());
    // Two browsers start and finish at the IdP; their callbacks race.
    let a = start(&s, &format!("/sso/{}/start", s.login_id)).await;
    let b = start(&s, &format!("/sso/{}/start", s.login_id)).await;
    let (ra, rb) = tokio::join!(finish_at(&s, &a, &s.org_id), finish_at(&s, &b, &s.org_id),);
    assert_eq!(ra.status, StatusCode::SEE_OTHER, "{}", ra.body);
    assert_eq!(rb.status, StatusCode::SEE_OTHER, "{}", rb.body);
    let count = |sql: &'static str| {
        let db = s.app.state.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&db)
                .await
                .expect("count")
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM users WHERE email = 'ada@flow.test'").await,
        1
    );
    assert_eq!(count("SELECT COUNT(*) FROM sso_identities").await, 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'ada@flow.test'").await,
        1
    );
}

crate::on_each_backend!(concurrent_first_sign_ins);

async fn disconnect(backend: Backend) {
    let s = setup(backend).await;
    let res = put_provisioning(
        &s,
        &s.owner,
        json!({"jit_enabled": true, "default_role": "member", "role_mappings": [
            {"claim": "groups", "operator": "contains", "value": "admins", "role": "admin"}]}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let cookie = signed_in_ok(&s, groups(&["admins"])).await;
    assert_eq!(
        membership(&s, "ada@flow.test").await.map(|m| m.0),
        Some("admin".into())
    );
    let old_login = s.login_id.clone();

    // Only sso:write may disconnect.
    let viewer = join_before_sso(&s, "vic@flow.test", "viewer").await;
    let res = s
        .app
        .api(
            "DELETE",
            "/api/v1/orgs/flow-co/sso",
            Auth::Cookie(&viewer),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert!(
        is_signed_in(&s, &cookie).await,
        "a refused disconnect ends nothing"
    );
    let res = s
        .app
        .api(
            "DELETE",
            "/api/v1/orgs/flow-co/sso",
            Auth::Cookie(&s.owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert!(!is_signed_in(&s, &cookie).await, "SSO sessions end at once");
    assert!(
        is_signed_in(&s, &s.owner).await,
        "the owner's password session stays"
    );
    assert_eq!(
        membership(&s, "ada@flow.test").await,
        Some(("viewer".into(), "active".into()))
    );
    assert_eq!(
        membership(&s, "owner@flow.test").await.map(|m| m.0),
        Some("owner".into())
    );
    let (details,): (String,) =
        sqlx::query_as("SELECT details FROM audit_events WHERE action = 'sso.disconnected'")
            .fetch_one(&s.app.state.db)
            .await
            .expect("audited");
    let details: Value = serde_json::from_str(&details).expect("json");
    assert_eq!(details["sessions_ended"], 1);
    assert_eq!(details["members_downgraded"], 1);
    let old = s.app.get(&format!("/sso/{old_login}"), None).await;
    assert_eq!(
        old.status,
        StatusCode::NOT_FOUND,
        "the old login URL is gone"
    );

    // Reconnecting gives a new login URL.
    let res = put_sso(&s.app, &s.owner, &s.idp, json!({"client_secret": SECRET})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let login_url = res.json()["login_url"].as_str().expect("url").to_owned();
    assert!(!login_url.ends_with(&old_login), "{login_url}");
}

crate::on_each_backend!(disconnect);
