//! Two `latchkey serve` processes on one PostgreSQL database, behind a load
//! balancer the test steers, against the real `oidc-provider`: they behave
//! as one. A sign-in started on one finishes on the other; a session opened
//! on one works on the other; a member deactivated through one is out on the
//! other at once; a setting saved through one is used by the other's next
//! sign-in; a back-channel logout the IdP sends to one ends the session on
//! the other.

use crate::common::{Backend, PASSWORD, TempDir, fresh_database_url, tempdir};
use crate::sso_real_idp::{Browser, RealIdp, finish_at_idp, form_of, free_port};
use http::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// A TCP load balancer: each new connection goes to the instance chosen
/// last (the test's clients open a connection per request).
struct Balancer {
    port: u16,
    target: Arc<Mutex<u16>>,
}

impl Balancer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let target = Arc::new(Mutex::new(0u16));
        let shared = target.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = *shared.lock().expect("lock");
                tokio::spawn(async move {
                    if let Ok(mut server) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { port, target }
    }

    /// Sends new connections to `instance` from now on.
    fn to(&self, instance: &Instance) {
        *self.target.lock().expect("lock") = instance.port;
    }

    fn public(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

struct Instance {
    port: u16,
    child: std::process::Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment every instance shares: database, public URL, secret key.
struct Fleet {
    database_url: String,
    public: String,
    dir: TempDir,
}

impl Fleet {
    fn command(&self, port: u16, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LATCHKEY_DATABASE_URL", &self.database_url)
            .env("LATCHKEY_PUBLIC_URL", &self.public)
            .env(
                "LATCHKEY_SECRET_KEY",
                "fleet-secret-key-fleet-secret-key-fleet",
            )
            .env("LATCHKEY_DATA_DIR", self.dir.path().join(port.to_string()))
            .env("LATCHKEY_BIND", format!("127.0.0.1:{port}"))
            .env("LATCHKEY_ALLOW_PRIVATE_IDP", "true")
            .env("RUST_LOG", "warn");
        cmd
    }

    async fn start(&self, index: usize) -> Instance {
        let port = free_port();
        let child = self
            .command(port, &["serve"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("latchkey serve");
        let instance = Instance { port, child };
        for _ in 0..100 {
            if reqwest::get(format!("http://127.0.0.1:{port}/api/v1/health"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("instance {index} did not answer within 10 s");
    }
}

/// A REST call with a bearer token, through the balancer.
async fn api(
    public: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut req = client
        .request(method.parse().expect("method"), format!("{public}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_behave_as_one() {
    let idp = RealIdp::start().await;
    let balancer = Balancer::start().await;
    let dir = tempdir();
    let fleet = Fleet {
        database_url: fresh_database_url(Backend::Postgres, dir.path()).await,
        public: balancer.public(),
        dir,
    };
    let boot = fleet
        .command(
            0,
            &[
                "bootstrap",
                "--email",
                "owner@fleet.test",
                "--password",
                PASSWORD,
                "--org-name",
                "Fleet",
            ],
        )
        .output()
        .expect("bootstrap");
    assert!(
        boot.status.success(),
        "{}",
        String::from_utf8_lossy(&boot.stderr)
    );
    let boot: Value = serde_json::from_slice(&boot.stdout).expect("json");
    let (token, org) = (
        boot["api_token"].as_str().expect("token").to_owned(),
        boot["org_slug"].as_str().expect("slug").to_owned(),
    );
    let a = fleet.start(0).await;
    let b = fleet.start(1).await;
    let public = fleet.public.clone();

    // SSO set up through A.
    balancer.to(&a);
    let (_, uris) = api(
        &public,
        &token,
        "GET",
        &format!("/api/v1/orgs/{org}/sso"),
        None,
    )
    .await;
    let reg = reqwest::Client::new()
        .post(format!("{}/reg", idp.base))
        .header("content-type", "application/json")
        .body(
            json!({
                "redirect_uris": [uris["redirect_uri"]],
                "backchannel_logout_uri": uris["backchannel_logout_uri"],
                "backchannel_logout_session_required": true,
                "post_logout_redirect_uris": [uris["post_logout_redirect_uri"]],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            })
            .to_string(),
        )
        .send()
        .await
        .expect("register");
    let reg: Value = serde_json::from_str(&reg.text().await.expect("body")).expect("client");
    let (status, sso) = api(
        &public,
        &token,
        "PUT",
        &format!("/api/v1/orgs/{org}/sso"),
        Some(json!({
            "provider_label": "oidc-provider", "discovery_url": idp.base,
            "client_id": reg["client_id"], "client_secret": reg["client_secret"],
            "scopes": ["openid", "profile", "email"], "default_role": "member",
        })),
    )
    .await;
    assert_eq!(status, 200, "{sso}");
    let org_id = sso["redirect_uri"]
        .as_str()
        .and_then(|u| u.split('/').nth(4))
        .expect("org id")
        .to_owned();
    // The domain's DNS proof and the connection test have their own tests;
    // here they are recorded directly.
    let db = app::ssr::db::connect(&fleet.database_url, 1)
        .await
        .expect("connect");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    sqlx::query(
        "INSERT INTO domains (id, org_id, domain, status, token, method, created_at, expires_at, verified_at) \
         VALUES ('dom_fleet', $1, 'fleet.test', 'verified', 't', 'manual', $2, $2, $2)",
    )
    .bind(&org_id)
    .bind(now)
    .execute(&db)
    .await
    .expect("domain");
    sqlx::query("UPDATE sso_connections SET enabled = 1 WHERE org_id = $1")
        .bind(&org_id)
        .execute(&db)
        .await
        .expect("enable");
    let start = format!("{}/start", sso["login_url"].as_str().expect("login url"));

    // A sign-in started on A finishes on B.
    let mut ada = Browser::new();
    let at_idp = ada.go(&start, None).await;
    assert!(at_idp.url.as_str().starts_with(&idp.base), "{}", at_idp.url);
    balancer.to(&b);
    let page = finish_at_idp(&mut ada, at_idp, &idp.base, "ada@fleet.test").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.url.path(), format!("/o/{org}"));

    // The session opened on B works on A.
    balancer.to(&a);
    let me = ada.go(&format!("{public}/api/v1/me"), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let me: Value = serde_json::from_str(&me.body).expect("json");
    assert_eq!(me["email"], "ada@fleet.test");
    let members = format!("{public}/api/v1/orgs/{org}/members");
    assert_eq!(ada.go(&members, None).await.status, StatusCode::OK);

    // Deactivated through A: out on B at once.
    let (status, _) = api(
        &public,
        &token,
        "PATCH",
        &format!(
            "/api/v1/orgs/{org}/members/{}",
            me["user_id"].as_str().expect("id")
        ),
        Some(json!({"status": "deactivated"})),
    )
    .await;
    assert_eq!(status, 200);
    // (Deactivation ends the sessions she opened through this
    // organization's SSO.)
    balancer.to(&b);
    assert_eq!(ada.go(&members, None).await.status, StatusCode::UNAUTHORIZED);

    // A setting saved through A is what B's next sign-in uses.
    balancer.to(&a);
    let (status, body) = api(
        &public,
        &token,
        "PUT",
        &format!("/api/v1/orgs/{org}/sso/provisioning"),
        Some(json!({"jit_enabled": true, "default_role": "viewer", "role_mappings": []})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    balancer.to(&b);
    let mut grace = Browser::new();
    let page = grace.go(&start, None).await;
    let page = finish_at_idp(&mut grace, page, &idp.base, "grace@fleet.test").await;
    assert_eq!(page.url.path(), format!("/o/{org}"), "{}", page.body);
    let role: String = sqlx::query_scalar(
        "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'grace@fleet.test'",
    )
    .fetch_one(&db)
    .await
    .expect("grace's role");
    assert_eq!(role, "viewer");

    // Grace signs out at the IdP, which posts the logout token to B; her
    // session is over on A too.
    let confirm = grace.go(&format!("{}/session/end", idp.base), None).await;
    let (action, mut fields) = form_of(&confirm);
    fields.push(("logout".into(), "yes".into()));
    grace.go(&action, Some(fields)).await;
    balancer.to(&a);
    let me = grace.go(&format!("{public}/api/v1/me"), None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body);
}
