//! Whoever may edit the SSO connection does not thereby decide who signs
//! in as whom: tried as the holder of a setup link and as a member whose
//! custom role holds only `sso:write`, each running an IdP of their own
//! that mints any claim. A change of trust they make waits for an owner's
//! or admin's approval even after its test passes; an account an IdP made
//! is never taken over by another IdP by email alone; an IdP they put in
//! place provisions nobody until an admin turns JIT on; `email_verified`
//! is read for the claim that is the email.

use crate::common::{Auth, Backend, TestResponse};
use crate::sso_idp::*;
use http::StatusCode;
use serde_json::{Value, json};

/// A sign-in (or a test) at `idp` started from `path` and finished at the
/// callback of `s`'s organization, in a browser of its own.
async fn run_at(s: &Setup, idp: &Idp, path: &str, plan: Plan) -> TestResponse {
    idp.plan(plan);
    let res = s.app.get(path, None).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}: {}", res.body);
    let location = res.location().expect("to the IdP").to_owned();
    assert!(
        location.starts_with(&format!("{}/auth?", idp.base)),
        "{path} went to {location}, not to {}",
        idp.base
    );
    let cookie = binding_cookie(&res).expect("binding");
    let query: std::collections::HashMap<String, String> = url::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    let code = idp.authorize(&query);
    let qs = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("code", code.as_str()),
            ("state", query["state"].as_str()),
            ("iss", idp.base.as_str()),
        ])
        .finish();
    s.app
        .get(
            &format!("/sso/{}/oidc/callback?{qs}", s.org_id),
            Some(&cookie),
        )
        .await
}

async fn sso_object(s: &Setup) -> Value {
    s.app
        .api(
            "GET",
            "/api/v1/orgs/flow-co/sso",
            Auth::Cookie(&s.owner),
            None,
        )
        .await
        .json()
}

async fn audited(s: &Setup, action: &str) -> Vec<Value> {
    let res = s
        .app
        .api(
            "GET",
            &format!("/api/v1/orgs/flow-co/audit-events?action={action}&limit=50"),
            Auth::Cookie(&s.owner),
            None,
        )
        .await;
    res.json()["events"].as_array().expect("events").clone()
}

/// The test link `cookie`'s caller gets, as a path.
async fn test_path(s: &Setup, cookie: &str) -> String {
    let res = s
        .app
        .api(
            "POST",
            "/api/v1/orgs/flow-co/sso/test",
            Auth::Cookie(cookie),
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

/// The two attackers who may edit the connection: a setup link for SSO,
/// and a member whose custom role holds only `sso:write` (and `sso:read`).
async fn attackers(s: &Setup) -> Vec<(&'static str, String)> {
    let (_, link) = s.app.setup_link(&s.owner, "flow-co", &["sso"]).await;
    let res = s
        .app
        .api(
            "POST",
            "/api/v1/orgs/flow-co/roles",
            Auth::Cookie(&s.owner),
            Some(json!({"name": "sso-writer", "description": "", "permissions": ["sso:read", "sso:write"]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let narrow = s
        .app
        .join(&s.owner, "flow-co", "narrow@elsewhere.test", "sso-writer")
        .await;
    vec![("setup link", link), ("sso:write only", narrow)]
}

async fn repoint_waits_for_an_admin(backend: Backend) {
    let s = setup(backend).await;
    // Ada, made by the organization's IdP, is an admin here.
    let (res, _) = sign_in_with(&s, Plan::default()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    sqlx::query("UPDATE memberships SET role = 'admin' WHERE user_id = (SELECT id FROM users WHERE email = 'ada@flow.test')")
        .execute(&s.app.state.db)
        .await
        .expect("admin");
    sqlx::query("UPDATE sso_connections SET last_test_ok = 1, last_test_at = 1")
        .execute(&s.app.state.db)
        .await
        .expect("tested");
    let evil = Idp::start().await;
    for (who, cookie) in attackers(&s).await {
        let body = json!({"provider_label": "TestIdP", "discovery_url": evil.base,
            "client_id": CLIENT_ID, "client_secret": SECRET});
        let res = s
            .app
            .api(
                "PUT",
                "/api/v1/orgs/flow-co/sso",
                Auth::Cookie(&cookie),
                Some(body),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{who}: {}", res.body);
        let staged = res.json();
        assert_eq!(staged["issuer"], s.idp.base, "{who}: nothing applied");
        assert_eq!(
            staged["pending_change"]["waits_for_approval"], true,
            "{who}"
        );
        // The test of their IdP passes, and still changes nothing.
        let test = test_path(&s, &cookie).await;
        let tested = run_at(&s, &evil, &test, Plan::default()).await;
        assert_eq!(
            tested.status,
            StatusCode::SEE_OTHER,
            "{who}: {}",
            tested.body
        );
        let after = sso_object(&s).await;
        assert_eq!(after["issuer"], s.idp.base, "{who}: {after}");
        assert!(
            after["pending_change"]["tested_at"].is_i64(),
            "{who}: {after}"
        );
        // The console says so; only an owner or admin is offered the button.
        let page = "/o/flow-co/settings/security/sso";
        let theirs = s.app.get(page, Some(&cookie)).await;
        assert!(
            theirs.body.contains("data-waits-for-approval"),
            "{who}: {}",
            theirs.body
        );
        assert!(!theirs.body.contains("Approve change"), "{who}");
        let owners = s.app.get(page, Some(&s.owner)).await;
        assert!(owners.body.contains("Approve change"), "{}", owners.body);
        // Nor can they approve it themselves.
        let res = s
            .app
            .api(
                "POST",
                "/api/v1/orgs/flow-co/sso/approve",
                Auth::Cookie(&cookie),
                Some(json!({})),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{who}: {}", res.body);
        // Sign-ins keep going to the organization's own IdP.
        let res = s.app.get(&format!("/sso/{}/start", s.login_id), None).await;
        assert!(
            res.location().is_some_and(|l| l.starts_with(&s.idp.base)),
            "{who}: {:?}",
            res.location()
        );
        let staged_by = audited(&s, "sso.change_staged").await;
        assert!(!staged_by.is_empty(), "{who}");
    }

    // An owner approves (the change stays theirs to make): the new IdP is
    // in effect, but does not take Ada's account over by her email.
    let res = s
        .app
        .api(
            "POST",
            "/api/v1/orgs/flow-co/sso/approve",
            Auth::Cookie(&s.owner),
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["issuer"], evil.base);
    let approved = audited(&s, "sso.change_approved").await;
    assert_eq!(approved[0]["actor_type"], "user", "{approved:?}");
    assert_eq!(approved[0]["details"]["carry_over_accounts"], false);
    let plan = Plan {
        claims: vec![("sub".into(), json!("whoever-i-like"))],
        ..Plan::default()
    };
    let res = run_at(&s, &evil, &format!("/sso/{}/start", s.login_id), plan).await;
    assert_code(&res, "account_of_another_idp");
    assert_eq!(session_cookie(&res), None);
    let refused = audited(&s, "sso.login_failed").await;
    assert_eq!(refused[0]["details"]["reason"], "account_of_another_idp");
}

crate::on_each_backend!(repoint_waits_for_an_admin);

async fn an_idp_set_up_without_an_admin_provisions_nobody(backend: Backend) {
    let s = setup(backend).await;
    let (_, link) = s
        .app
        .setup_link(&s.owner, "flow-co", &["sso", "provisioning"])
        .await;
    // The link disconnects and reconnects to its own IdP.
    let res = s
        .app
        .api(
            "DELETE",
            "/api/v1/orgs/flow-co/sso",
            Auth::Cookie(&link),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let evil = Idp::start().await;
    let body = json!({"provider_label": "Mine", "discovery_url": evil.base,
        "client_id": CLIENT_ID, "client_secret": SECRET});
    let res = s
        .app
        .api(
            "PUT",
            "/api/v1/orgs/flow-co/sso",
            Auth::Cookie(&link),
            Some(body.clone()),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let sso = res.json();
    assert_eq!(
        (&sso["jit_enabled"], &sso["jit_held"]),
        (&json!(false), &json!(true)),
        "{sso}"
    );
    // Nor can it turn JIT on, with the connection or on its own.
    let mut with_jit = body.clone();
    with_jit["jit_enabled"] = json!(true);
    let res = s
        .app
        .api(
            "PUT",
            "/api/v1/orgs/flow-co/sso",
            Auth::Cookie(&link),
            Some(with_jit),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let jit = json!({"jit_enabled": true, "default_role": "guest", "role_mappings": []});
    let res = s
        .app
        .api(
            "PUT",
            "/api/v1/orgs/flow-co/sso/provisioning",
            Auth::Cookie(&link),
            Some(jit.clone()),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "approval_needs_admin");
    // Tested and enabled (as the link can), its IdP still makes no member.
    sqlx::query("UPDATE sso_connections SET last_test_ok = 1, last_test_at = 1, enabled = 1")
        .execute(&s.app.state.db)
        .await
        .expect("enabled");
    let login_id = sso["login_url"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .expect("login")
        .to_owned();
    let plan = Plan {
        claims: vec![("email".into(), json!("ceo@flow.test"))],
        ..Plan::default()
    };
    let res = run_at(&s, &evil, &format!("/sso/{login_id}/start"), plan.clone()).await;
    assert_code(&res, "not_provisioned");
    assert_eq!(users_named(&s, "ceo@flow.test").await, 0);
    // An owner turns JIT on: now it provisions.
    let res = s
        .app
        .api(
            "PUT",
            "/api/v1/orgs/flow-co/sso/provisioning",
            Auth::Cookie(&s.owner),
            Some(jit),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["jit_held"], false);
    let res = run_at(&s, &evil, &format!("/sso/{login_id}/start"), plan).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(users_named(&s, "ceo@flow.test").await, 1);
}

crate::on_each_backend!(an_idp_set_up_without_an_admin_provisions_nobody);

/// `email_verified` speaks of the `email` claim: with the email taken from
/// another claim, that claim's own `_verified` is read instead.
async fn email_verified_is_read_for_the_claim_that_is_the_email(backend: Backend) {
    let s = setup(backend).await;
    let res = put_sso(
        &s.app,
        &s.owner,
        &s.idp,
        json!({"claims": {
        "email": "work_email", "name": "name", "given_name": "given_name",
        "family_name": "family_name", "username": "preferred_username", "groups": "groups"}}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // A verified personal address does not vouch for the work one.
    let unverified = Plan {
        claims: vec![
            ("email".into(), json!("ada@personal.test")),
            ("email_verified".into(), json!(true)),
            ("work_email".into(), json!("ada@flow.test")),
            ("work_email_verified".into(), json!(false)),
        ],
        ..Plan::default()
    };
    assert_refused(&s, unverified, "email_unverified").await;
    // And an unverified personal address says nothing about the work one.
    let verified = Plan {
        claims: vec![
            ("email".into(), json!("ada@personal.test")),
            ("email_verified".into(), json!(false)),
            ("work_email".into(), json!("ada@flow.test")),
        ],
        ..Plan::default()
    };
    let (res, _) = sign_in_with(&s, verified).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

crate::on_each_backend!(email_verified_is_read_for_the_claim_that_is_the_email);

/// What the last test brought back is a person's whole profile at the IdP:
/// its claims are shown to those who may change the connection only.
async fn test_claims_are_for_writers_only(backend: Backend) {
    let s = setup(backend).await;
    let summary = json!({"claims": {"sub": "user-1", "phone": "+1 555"}, "email": "ada@flow.test", "role": "member"});
    sqlx::query(
        "UPDATE sso_connections SET last_test_ok = 1, last_test_at = 1, last_test_claims = $1",
    )
    .bind(summary.to_string())
    .execute(&s.app.state.db)
    .await
    .expect("tested");
    let viewer = s
        .app
        .join(&s.owner, "flow-co", "viewer@elsewhere.test", "viewer")
        .await;
    let read = |cookie: String| {
        let app = &s.app;
        async move {
            app.api(
                "GET",
                "/api/v1/orgs/flow-co/sso",
                Auth::Cookie(&cookie),
                None,
            )
            .await
            .json()["last_test"]["result"]
                .clone()
        }
    };
    let theirs = read(viewer.clone()).await;
    assert_eq!(theirs["email"], "ada@flow.test", "{theirs}");
    assert!(theirs.get("claims").is_none(), "{theirs}");
    let fn_result = s
        .app
        .server_fn("get_sso", &[("org", "flow-co")], Some(&viewer))
        .await
        .json();
    assert!(
        fn_result["last_test"]["result"].get("claims").is_none(),
        "{fn_result}"
    );
    assert_eq!(read(s.owner.clone()).await["claims"]["phone"], "+1 555");
}

crate::on_each_backend!(test_claims_are_for_writers_only);
