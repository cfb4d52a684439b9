//! `latchkey` as real processes: the environment an instance runs with, a
//! started `serve` (killed when dropped), `bootstrap`, and SSO connected to
//! the real `oidc-provider` through the REST API.

use crate::common::{Backend, PASSWORD, fresh_database_url};
use crate::sso_real_idp::{RealIdp, free_port};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What every instance of one deployment shares.
pub(crate) struct Deployment {
    pub(crate) database_url: String,
    pub(crate) public: String,
    pub(crate) data_dir: PathBuf,
    pub(crate) drain_secs: u64,
}

/// What `latchkey bootstrap` made: the owner's API token and the
/// organization's slug.
pub(crate) struct Bootstrapped {
    pub(crate) token: String,
    pub(crate) org: String,
}

impl Deployment {
    /// One instance on `port` with a fresh database of `backend` in `dir`.
    pub(crate) async fn single(backend: Backend, dir: &std::path::Path, port: u16) -> Self {
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}/latchkey.db", dir.display()),
            Backend::Postgres => fresh_database_url(backend, dir).await,
        };
        Self {
            database_url,
            public: format!("http://127.0.0.1:{port}"),
            data_dir: dir.to_owned(),
            drain_secs: 0,
        }
    }

    pub(crate) fn command(&self, port: u16, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LATCHKEY_DATABASE_URL", &self.database_url)
            .env("LATCHKEY_PUBLIC_URL", &self.public)
            .env(
                "LATCHKEY_SECRET_KEY",
                "deploy-secret-key-deploy-secret-key-deploy",
            )
            .env("LATCHKEY_DATA_DIR", &self.data_dir)
            .env("LATCHKEY_BIND", format!("127.0.0.1:{port}"))
            .env("LATCHKEY_ALLOW_PRIVATE_IDP", "true")
            // Tests that load many sign-ins give each browser an address.
            .env("LATCHKEY_TRUSTED_PROXIES", "127.0.0.1")
            .env("LATCHKEY_DRAIN_SECS", self.drain_secs.to_string())
            .env("RUST_LOG", "warn");
        cmd
    }

    pub(crate) fn bootstrap(&self, email: &str, org_name: &str) -> Bootstrapped {
        let out = self
            .command(
                0,
                &[
                    "bootstrap",
                    "--email",
                    email,
                    "--password",
                    PASSWORD,
                    "--org-name",
                    org_name,
                ],
            )
            .output()
            .expect("latchkey bootstrap");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("bootstrap JSON");
        Bootstrapped {
            token: v["api_token"].as_str().expect("token").to_owned(),
            org: v["org_slug"].as_str().expect("slug").to_owned(),
        }
    }

    /// `latchkey serve` on `port` (a free one when `None`), once it answers.
    pub(crate) async fn serve(&self, port: Option<u16>) -> Instance {
        let port = port.unwrap_or_else(free_port);
        let child = self
            .command(port, &["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("latchkey serve");
        let instance = Instance { port, child };
        for _ in 0..100 {
            if reqwest::get(format!("{}/api/v1/health", instance.base()))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("latchkey serve on port {port} did not answer within 10 s");
    }
}

pub(crate) struct Instance {
    pub(crate) port: u16,
    pub(crate) child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
    }

    /// The exit status, waiting up to 10 s for it.
    pub(crate) async fn exit_code(&mut self) -> Option<i32> {
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

/// A REST call with a bearer token; a fresh connection each time, so a
/// load balancer in front chooses anew.
pub(crate) async fn api(
    base: &str,
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
        .request(method.parse().expect("method"), format!("{base}{path}"))
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

/// Connects the organization to the real IdP through the REST API at
/// `base`: registers Latchkey there, saves the connection, then records the
/// verified `domain` and enables SSO in the database (the DNS proof and the
/// connection test have tests of their own). Returns the login URL's
/// `…/start`.
pub(crate) async fn connect_real_idp(
    base: &str,
    boot: &Bootstrapped,
    idp: &RealIdp,
    database_url: &str,
    domain: &str,
) -> String {
    let org = &boot.org;
    let (_, uris) = api(
        base,
        &boot.token,
        "GET",
        &format!("/api/v1/orgs/{org}/sso"),
        None,
    )
    .await;
    let reg = idp.register(&uris).await;
    let (status, sso) = api(
        base,
        &boot.token,
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
    let db = app::ssr::db::connect(database_url, 1)
        .await
        .expect("connect");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    sqlx::query(
        "INSERT INTO domains (id, org_id, domain, status, token, method, created_at, expires_at, verified_at) \
         VALUES ($3, $1, $4, 'verified', 't', 'manual', $2, $2, $2)",
    )
    .bind(&org_id)
    .bind(now)
    .bind(format!("dom_{}", app::ssr::random::lower_alnum(8)))
    .bind(domain)
    .execute(&db)
    .await
    .expect("domain");
    sqlx::query("UPDATE sso_connections SET enabled = 1 WHERE org_id = $1")
        .bind(&org_id)
        .execute(&db)
        .await
        .expect("enable");
    db.close().await;
    format!("{}/start", sso["login_url"].as_str().expect("login url"))
}
