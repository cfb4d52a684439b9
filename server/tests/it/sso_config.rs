//! SSO configuration: real validation against a provider on 127.0.0.1,
//! the SSRF guard, and a client secret that never leaves the server.

use crate::common::{Auth, Backend, TestApp};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use http::StatusCode;
use serde_json::{Value, json};
use server::config::ConfigArgs;
use std::sync::{Arc, Mutex};

/// A provider whose discovery document and key set the test can spoil.
#[derive(Clone)]
struct Idp {
    base: String,
    doc: Arc<Mutex<Value>>,
    jwks: Arc<Mutex<Value>>,
}

async fn discovery(State(idp): State<Idp>) -> impl IntoResponse {
    axum::Json(idp.doc.lock().expect("lock").clone())
}

async fn jwks(State(idp): State<Idp>) -> impl IntoResponse {
    axum::Json(idp.jwks.lock().expect("lock").clone())
}

impl Idp {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let idp = Self {
            doc: Arc::new(Mutex::new(json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/auth"),
                "token_endpoint": format!("{base}/token"),
                "userinfo_endpoint": format!("{base}/me"),
                "jwks_uri": format!("{base}/jwks"),
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }))),
            jwks: Arc::new(Mutex::new(
                json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1", "n": "sXch", "e": "AQAB"}]}),
            )),
            base,
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route(
                "/moved/.well-known/openid-configuration",
                get(|| async { Redirect::temporary("/.well-known/openid-configuration") }),
            )
            .route(
                "/huge/.well-known/openid-configuration",
                get(|| async { "x".repeat(2 * 1024 * 1024) }),
            )
            .route("/missing-keys", get(|| async { StatusCode::NOT_FOUND }))
            .with_state(idp.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        idp
    }

    fn set(&self, key: &str, value: Value) {
        self.doc.lock().expect("lock")[key] = value;
    }
}

async fn dev_app(backend: Backend) -> TestApp {
    TestApp::with_args(
        backend,
        ConfigArgs {
            allow_private_idp: Some("true".into()),
            ..Default::default()
        },
    )
    .await
}

fn input(idp: &Idp, secret: Option<&str>) -> Value {
    let mut v = json!({"provider_label": "Okta", "discovery_url": idp.base, "client_id": "latchkey-client"});
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
    }
    v
}

const SECRET: &str = "s3cr3t-Zq8Jw2Lp0Vn5";

macro_rules! sso_test {
    ($name:ident, |$app:ident, $idp:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: TestApp, $idp: Idp) $body

            #[tokio::test]
            async fn sqlite() {
                run(dev_app(Backend::Sqlite).await, Idp::start().await).await;
            }

            #[tokio::test]
            async fn postgres() {
                run(dev_app(Backend::Postgres).await, Idp::start().await).await;
            }
        }
    };
}

sso_test!(
    save_validates_stores_encrypted_and_never_returns_the_secret,
    |app, idp| {
        let (owner, org) = app.org_with_owner("sec@sso.test", "Sso Co").await;
        let path = format!("/api/v1/orgs/{org}/sso");
        let org_id = app.get("/api/v1/me", Some(&owner)).await.json()["orgs"][0]["org_id"]
            .as_str()
            .expect("id")
            .to_owned();

        // Before anything is entered: the URIs to register at the IdP.
        let before = app
            .api("GET", &path, Auth::Cookie(&owner), None)
            .await
            .json();
        assert_eq!(before["configured"], false);
        assert_eq!(
            before["redirect_uri"],
            format!("{}/sso/{org_id}/oidc/callback", app.config.public_url)
        );
        assert_eq!(
            before["backchannel_logout_uri"],
            format!(
                "{}/sso/{org_id}/oidc/backchannel-logout",
                app.config.public_url
            )
        );
        assert_eq!(
            before["initiate_login_uri"],
            format!("{}/sso/{org_id}/oidc/initiate", app.config.public_url)
        );
        assert_eq!(before["scopes"], json!(["openid", "profile", "email"]));

        // The first save needs a secret.
        let res = app
            .api("PUT", &path, Auth::Cookie(&owner), Some(input(&idp, None)))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.json()["error"]["field"], "client_secret");

        let res = app
            .api(
                "PUT",
                &path,
                Auth::Cookie(&owner),
                Some(input(&idp, Some(SECRET))),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(!res.body.contains(SECRET), "PUT answer leaks the secret");
        let saved = res.json();
        assert_eq!(saved["configured"], true);
        assert_eq!(saved["client_secret_set"], true);
        assert_eq!(saved["issuer"], idp.base.as_str());
        let login_url = saved["login_url"].as_str().expect("login url");
        assert!(
            login_url.starts_with(&format!("{}/sso/", app.config.public_url))
                && login_url.len() > app.config.public_url.len() + 20
        );

        let get = app.api("GET", &path, Auth::Cookie(&owner), None).await;
        assert!(!get.body.contains(SECRET), "GET leaks the secret");
        let fn_body = app
            .server_fn("get_sso", &[("org", &org)], Some(&owner))
            .await;
        assert_eq!(fn_body.status, StatusCode::OK);
        assert!(
            !fn_body.body.contains(SECRET),
            "the server function leaks the secret"
        );
        let audit = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/audit-events?action=sso."),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert!(audit.body.contains("sso.configured") && !audit.body.contains(SECRET));

        // Encrypted at rest, and readable by the server.
        let (stored,): (String,) =
            sqlx::query_as("SELECT client_secret_enc FROM sso_connections WHERE org_id = $1")
                .bind(&org_id)
                .fetch_one(&app.state.db)
                .await
                .expect("row");
        assert!(!stored.contains(SECRET) && stored.starts_with("v1."));
        let plain = stored_secret(&app, &org_id).await;
        assert_eq!(plain, SECRET);

        // Saving without a secret keeps it; a new one rotates it and no session ends.
        let res = app
            .api("PUT", &path, Auth::Cookie(&owner), Some(input(&idp, None)))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(stored_secret(&app, &org_id).await, SECRET);
        let res = app
            .api(
                "PUT",
                &path,
                Auth::Cookie(&owner),
                Some(input(&idp, Some("rotated-secret-value"))),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(stored_secret(&app, &org_id).await, "rotated-secret-value");
        assert_eq!(
            app.get("/api/v1/me", Some(&owner)).await.status,
            StatusCode::OK,
            "rotation keeps sessions"
        );
        assert_eq!(
            app.api("GET", &path, Auth::Cookie(&owner), None)
                .await
                .json()["login_url"],
            saved["login_url"]
        );
    }
);

sso_test!(
    each_provider_problem_is_reported_on_the_discovery_field,
    |app, idp| {
        let (owner, org) = app.org_with_owner("bad@sso.test", "Bad Idp").await;
        let path = format!("/api/v1/orgs/{org}/sso");
        let put = |body: Value| {
            let path = path.clone();
            let owner = owner.clone();
            let app = &app;
            async move {
                app.api("PUT", &path, Auth::Cookie(&owner), Some(body))
                    .await
            }
        };
        let expect_discovery_error = |res: crate::common::TestResponse, needle: &str| {
            assert_eq!(
                res.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{needle}: {}",
                res.body
            );
            let e = res.json();
            assert_eq!(e["error"]["field"], "discovery_url", "{e}");
            assert!(
                e["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(needle)),
                "{needle}: {e}"
            );
        };

        idp.set("issuer", json!("https://someone-else.example.com"));
        expect_discovery_error(
            put(input(&idp, Some(SECRET))).await,
            "says its issuer is https://someone-else.example.com",
        );
        idp.set("issuer", json!(idp.base));

        idp.set("response_types_supported", json!(["id_token"]));
        expect_discovery_error(
            put(input(&idp, Some(SECRET))).await,
            "authorization code flow",
        );
        idp.set("response_types_supported", json!(["code"]));

        *idp.jwks.lock().expect("lock") = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        expect_discovery_error(put(input(&idp, Some(SECRET))).await, "no signing key");

        idp.set("jwks_uri", json!(format!("{}/missing-keys", idp.base)));
        expect_discovery_error(
            put(input(&idp, Some(SECRET))).await,
            "answered with HTTP 404",
        );

        let mut moved = input(&idp, Some(SECRET));
        moved["discovery_url"] = json!(format!(
            "{}/moved/.well-known/openid-configuration",
            idp.base
        ));
        expect_discovery_error(put(moved).await, "redirect");

        let mut huge = input(&idp, Some(SECRET));
        huge["discovery_url"] = json!(format!("{}/huge", idp.base));
        expect_discovery_error(put(huge).await, "more than 1 MiB");

        let mut nowhere = input(&idp, Some(SECRET));
        nowhere["discovery_url"] = json!("http://127.0.0.1:9");
        expect_discovery_error(put(nowhere).await, "could not be reached");

        // Other fields are checked before any request and named.
        for (patch, field) in [
            (json!({"provider_label": ""}), "provider_label"),
            (json!({"client_id": " "}), "client_id"),
            (json!({"scopes": ["profile"]}), "scopes"),
            (json!({"session_max_age_secs": 60}), "session_max_age_hours"),
        ] {
            let mut body = input(&idp, Some(SECRET));
            for (k, v) in patch.as_object().expect("object") {
                body[k] = v.clone();
            }
            let res = put(body).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
            assert_eq!(res.json()["error"]["field"], field);
        }
        assert_eq!(
            app.api("GET", &path, Auth::Cookie(&owner), None)
                .await
                .json()["configured"],
            false,
            "nothing saved"
        );
    }
);

#[tokio::test]
async fn the_ssrf_guard_refuses_private_addresses_and_plain_http() {
    let app = TestApp::new(Backend::Sqlite).await;
    let idp = Idp::start().await;
    let (owner, org) = app.org_with_owner("ssrf@sso.test", "Guarded").await;
    let path = format!("/api/v1/orgs/{org}/sso");
    let port = idp.base.rsplit(':').next().expect("port");
    for (url, needle) in [
        (idp.base.clone(), "must use https"),
        (
            format!("https://127.0.0.1:{port}"),
            "private, local or reserved address",
        ),
        (
            format!("https://localhost:{port}"),
            "private, local or reserved address",
        ),
        (
            "https://169.254.169.254/latest".to_owned(),
            "private, local or reserved address",
        ),
        (
            "https://[::1]/".to_owned(),
            "private, local or reserved address",
        ),
    ] {
        let mut body = input(&idp, Some(SECRET));
        body["discovery_url"] = json!(url);
        let res = app
            .api("PUT", &path, Auth::Cookie(&owner), Some(body))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert!(
            res.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{url}: {}",
            res.body
        );
        // Never which internal address a name resolved to.
        if url.contains("localhost") {
            assert!(
                !res.body.contains("127.0.0.1") && !res.body.contains("::1"),
                "{}",
                res.body
            );
        }
    }
}

sso_test!(only_sso_write_changes_the_configuration, |app, idp| {
    let (owner, org) = app.org_with_owner("own@perm-sso.test", "Perm Sso").await;
    let path = format!("/api/v1/orgs/{org}/sso");
    let member = app.join(&owner, &org, "m@perm-sso.test", "member").await;
    assert_eq!(
        app.api("GET", &path, Auth::Cookie(&member), None)
            .await
            .status,
        StatusCode::OK,
        "members may read"
    );
    let res = app
        .api(
            "PUT",
            &path,
            Auth::Cookie(&member),
            Some(input(&idp, Some(SECRET))),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(
        res.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("sso:write"))
    );
    let res = app
        .server_fn(
            "save_sso",
            &[
                ("org", &org),
                ("form[provider_label]", "X"),
                ("form[discovery_url]", &idp.base),
                ("form[client_id]", "c"),
                ("form[client_secret]", SECRET),
            ],
            Some(&member),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let guest = app.join(&owner, &org, "g@perm-sso.test", "guest").await;
    assert_eq!(
        app.api("GET", &path, Auth::Cookie(&guest), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // The console form saves too, and DELETE removes it.
    let res = app
        .server_fn(
            "save_sso",
            &[
                ("org", &org),
                ("form[provider_label]", "Okta"),
                ("form[discovery_url]", &idp.base),
                ("form[client_id]", "c"),
                ("form[client_secret]", SECRET),
                ("form[scopes]", "openid email"),
            ],
            Some(&owner),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["scopes"], json!(["openid", "email"]));
    assert_eq!(
        app.api("DELETE", &path, Auth::Cookie(&owner), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.api("DELETE", &path, Auth::Cookie(&owner), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
});

sso_test!(
    enable_needs_a_passed_test_and_a_verified_domain_and_keeps_its_domain,
    |app, idp| {
        let (owner, org) = app.org_with_owner("en@sso.test", "Enabler").await;
        let path = format!("/api/v1/orgs/{org}/sso");
        let res = app
            .api(
                "POST",
                &format!("{path}/enable"),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(res.json()["error"]["code"], "sso_not_configured");
        app.api(
            "PUT",
            &path,
            Auth::Cookie(&owner),
            Some(input(&idp, Some(SECRET))),
        )
        .await;
        let res = app
            .api(
                "POST",
                &format!("{path}/enable"),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(res.json()["error"]["code"], "sso_not_tested");

        // A passed test (recorded by the test flow) but no verified domain yet.
        let org_id = app.get("/api/v1/me", Some(&owner)).await.json()["orgs"][0]["org_id"]
            .as_str()
            .expect("id")
            .to_owned();
        sqlx::query(
            "UPDATE sso_connections SET last_test_ok = 1, last_test_at = 1 WHERE org_id = $1",
        )
        .bind(&org_id)
        .execute(&app.state.db)
        .await
        .expect("record a test");
        let res = app
            .api(
                "POST",
                &format!("{path}/enable"),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(res.json()["error"]["code"], "no_verified_domain");

        app.api(
            "POST",
            &format!("/api/v1/orgs/{org}/domains"),
            Auth::Cookie(&owner),
            Some(json!({"domain": "enabler.com"})),
        )
        .await;
        sqlx::query("UPDATE domains SET status = 'verified', method = 'manual', verified_at = 1 WHERE org_id = $1")
        .bind(&org_id)
        .execute(&app.state.db)
        .await
        .expect("verify");
        let res = app
            .api(
                "POST",
                &format!("{path}/enable"),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.json()["enabled"], true);

        // The last verified domain stays while SSO is on.
        let domain = format!("/api/v1/orgs/{org}/domains/enabler.com");
        let res = app.api("DELETE", &domain, Auth::Cookie(&owner), None).await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(res.json()["error"]["code"], "last_verified_domain");

        let res = app
            .api(
                "POST",
                &format!("{path}/disable"),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
        let off = res.json();
        assert_eq!(
            (off["enabled"].clone(), off["configured"].clone()),
            (json!(false), json!(true)),
            "disable keeps the configuration"
        );
        assert_eq!(
            app.api("DELETE", &domain, Auth::Cookie(&owner), None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );

        // Changing the client ID of a tested configuration is staged: the
        // tested one stays in effect until a test of the change passes.
        assert!(
            app.api("GET", &path, Auth::Cookie(&owner), None)
                .await
                .json()["last_test"]
                .is_object()
        );
        let mut changed = input(&idp, None);
        changed["client_id"] = json!("another-client");
        let res = app
            .api("PUT", &path, Auth::Cookie(&owner), Some(changed))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let saved = res.json();
        assert!(saved["last_test"].is_object(), "{saved}");
        assert_eq!(saved["client_id"], "latchkey-client");
        assert_eq!(saved["pending_change"]["client_id"], "another-client");

        let events = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/audit-events?action=sso."),
                Auth::Cookie(&owner),
                None,
            )
            .await
            .json();
        let actions: Vec<&str> = events["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert_eq!(
            actions,
            vec![
                "sso.change_staged",
                "sso.disabled",
                "sso.enabled",
                "sso.configured"
            ]
        );
    }
);

/// The connection's client secret as the server opens it for a code exchange.
async fn stored_secret(app: &TestApp, org_id: &str) -> String {
    let (sealed,): (String,) =
        sqlx::query_as("SELECT client_secret_enc FROM sso_connections WHERE org_id = $1")
            .bind(org_id)
            .fetch_one(&app.state.db)
            .await
            .expect("row");
    app::sso::ssr::open_client_secret(&app.state.keys, org_id, &sealed).expect("decrypt")
}
