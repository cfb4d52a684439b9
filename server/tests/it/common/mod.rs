//! Test harness: the real router on a fresh database, SQLite or PostgreSQL.
//!
//! `db_test!` writes each test twice: once on a temporary SQLite file and
//! once in a fresh schema of the PostgreSQL server named by
//! `LATCHKEY_TEST_POSTGRES_URL` (the test command starts one).
#![allow(dead_code)]

use app::ssr::state::AppState;
use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use server::config::{Config, ConfigArgs};
use sqlx::Connection;
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub config: Config,
    _dir: TempDir,
}

/// A directory under the system temp dir, removed with everything in it when
/// dropped. (Not the `tempfile` crate: its extra features on shared
/// dependencies would make the test build recompile what the server build
/// already compiled.)
pub struct TempDir(std::path::PathBuf);

pub fn tempdir() -> TempDir {
    let path = std::env::temp_dir().join(format!(
        "latchkey-test-{}-{}",
        std::process::id(),
        app::ssr::random::lower_alnum(12)
    ));
    std::fs::create_dir_all(&path).expect("create a temp dir");
    TempDir(path)
}

impl TempDir {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PostgreSQL URL for tests, or a panic that says how to get one.
pub fn postgres_url() -> String {
    std::env::var("LATCHKEY_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "LATCHKEY_TEST_POSTGRES_URL is not set. Run `.ci/test` (it starts PostgreSQL), \
             or point it at a server where the tests may create schemas."
        )
    })
}

/// A database URL for one test: a new SQLite file, or a new schema.
pub async fn fresh_database_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("test.db").display()),
        Backend::Postgres => {
            let base = postgres_url();
            let schema = format!("t_{}", app::ssr::random::lower_alnum(16));
            let mut conn = sqlx::PgConnection::connect(&base)
                .await
                .expect("connect to the test PostgreSQL server");
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .await
                .expect("create a test schema");
            let _ = conn.close().await;
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options=-c%20search_path%3D{schema}")
        }
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        Self::with_args(backend, ConfigArgs::default()).await
    }

    pub async fn with_args(backend: Backend, mut args: ConfigArgs) -> Self {
        let dir = tempdir();
        args.database_url = Some(fresh_database_url(backend, dir.path()).await);
        Self::in_dir(dir, args).await
    }

    /// An instance served on a free port of 127.0.0.1 (so real IdPs and
    /// browsers can reach it), that port its public URL (allowing IdPs on
    /// private addresses); returns it with that URL.
    pub async fn served(backend: Backend) -> (Self, String) {
        use axum::serve::Listener as _;
        let listener = server::listener::bind(([127, 0, 0, 1], 0).into())
            .await
            .expect("bind");
        let public = format!("http://{}", listener.local_addr().expect("addr"));
        let args = ConfigArgs {
            allow_private_idp: Some("true".into()),
            public_url: Some(public.clone()),
            ..Default::default()
        };
        let app = Self::with_args(backend, args).await;
        let service = app
            .router
            .clone()
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        (app, public)
    }

    /// An instance on the database at `database_url` (e.g. through a proxy
    /// the test controls).
    pub async fn at_url(database_url: String) -> Self {
        let args = ConfigArgs {
            database_url: Some(database_url),
            ..Default::default()
        };
        Self::in_dir(tempdir(), args).await
    }

    async fn in_dir(dir: TempDir, mut args: ConfigArgs) -> Self {
        args.data_dir = Some(dir.path().display().to_string());
        args.secret_key.get_or_insert_with(|| "k".repeat(48));
        let config = Config::from_args(&args).expect("valid test config");
        let state = server::init(&config).await.expect("init");
        let router = server::routes::router(state.clone());
        Self {
            router,
            state,
            config,
            _dir: dir,
        }
    }

    /// A second instance (own caches, own router) on this one's database,
    /// as behind a load balancer.
    pub async fn on_same_database(other: &TestApp) -> Self {
        let dir = tempdir();
        let state = server::init(&other.config).await.expect("init");
        let router = server::routes::router(state.clone());
        Self {
            router,
            state,
            config: other.config.clone(),
            _dir: dir,
        }
    }

    /// Sends through the real router. A request that hangs fails the test
    /// with its method and path instead of stalling the whole run.
    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let what = format!("{} {}", req.method(), req.uri());
        let router = self.router.clone();
        tokio::time::timeout(std::time::Duration::from_secs(30), async move {
            let res = router.oneshot(req).await.expect("infallible");
            TestResponse::read(res).await
        })
        .await
        .unwrap_or_else(|_| panic!("{what} did not complete within 30 s"))
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> TestResponse {
        // As a browser navigation does, so page redirects are real 302s.
        let mut req = Request::get(path).header(header::ACCEPT, "text/html,application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).expect("request")).await
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> TestResponse {
        let req = Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        self.send(req).await
    }

    /// Calls a server function the way the hydrated app does (no HTML accept).
    pub async fn server_fn(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> TestResponse {
        let body = serde_urlencoded(form);
        let mut req = Request::post(format!("/api/{endpoint}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(body)).expect("request"))
            .await
    }

    /// Posts a server function as a plain HTML form (JavaScript disabled).
    pub async fn form_post(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
        referer: &str,
    ) -> TestResponse {
        let req = Request::post(format!("/api/{endpoint}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header(header::REFERER, referer)
            .body(Body::from(serde_urlencoded(form)))
            .expect("request");
        self.send(req).await
    }

    /// Signs a new account up; returns its session cookie (`name=value`).
    pub async fn sign_up(&self, email: &str) -> String {
        let res = self
            .server_fn(
                "sign_up",
                &[
                    ("email", email),
                    ("name", "Test User"),
                    ("password", PASSWORD),
                ],
                None,
            )
            .await;
        assert!(
            res.status.is_success() || res.status.is_redirection(),
            "sign up: {res:?}"
        );
        res.session_cookie().expect("sign up sets a session cookie")
    }

    pub async fn sign_in(&self, email: &str, password: &str, cookie: Option<&str>) -> TestResponse {
        self.server_fn(
            "sign_in",
            &[("email", email), ("password", password), ("return_to", "")],
            cookie,
        )
        .await
    }
}

fn serde_urlencoded(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl TestApp {
    /// A JSON request to the REST API with a session cookie or a bearer token.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        auth: Auth<'_>,
        body: Option<serde_json::Value>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        req = match auth {
            Auth::Cookie(c) => req.header(header::COOKIE, c),
            Auth::Token(t) => req.header(header::AUTHORIZATION, format!("Bearer {t}")),
            Auth::None => req,
        };
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).expect("request")).await
    }

    /// Signs up `owner`, creates `org_name`; returns the owner's cookie and the org slug.
    pub async fn org_with_owner(&self, owner: &str, org_name: &str) -> (String, String) {
        let cookie = self.sign_up(owner).await;
        let res = self
            .server_fn("create_org", &[("name", org_name)], Some(&cookie))
            .await;
        let slug = res
            .location()
            .expect("redirect to the org")
            .trim_start_matches("/o/")
            .to_owned();
        (cookie, slug)
    }

    /// Invites `email` as `role` (as the owner) and has them sign up through
    /// the link; returns their session cookie.
    pub async fn join(&self, owner_cookie: &str, org: &str, email: &str, role: &str) -> String {
        let res = self
            .api(
                "POST",
                &format!("/api/v1/orgs/{org}/invitations"),
                Auth::Cookie(owner_cookie),
                Some(serde_json::json!({"email": email, "role": role})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let token = invitation_token(&res.json());
        let res = self
            .server_fn(
                "accept_invitation_signup",
                &[
                    ("token", &token),
                    ("name", "Invitee"),
                    ("password", PASSWORD),
                ],
                None,
            )
            .await;
        assert!(
            res.status.is_success() || res.status.is_redirection(),
            "{res:?}"
        );
        res.session_cookie().expect("invitee signed in")
    }

    /// Creates a setup link of `org` with `scopes` (as `creator`) and opens
    /// it in a fresh browser; returns the link as created (with its `url`)
    /// and that browser's session cookie.
    pub async fn setup_link(
        &self,
        creator: &str,
        org: &str,
        scopes: &[&str],
    ) -> (serde_json::Value, String) {
        let res = self
            .api(
                "POST",
                &format!("/api/v1/orgs/{org}/setup-links"),
                Auth::Cookie(creator),
                Some(serde_json::json!({ "scopes": scopes })),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let link = res.json();
        let res = self
            .server_fn(
                "open_setup_link",
                &[("token", &setup_link_token(&link))],
                None,
            )
            .await;
        assert!(
            res.status.is_success() || res.status.is_redirection(),
            "{res:?}"
        );
        let cookie = res.session_cookie().expect("a setup-link session");
        (link, cookie)
    }

    /// The id of the member with `email`.
    pub async fn user_id(&self, cookie: &str) -> String {
        self.get("/api/v1/me", Some(cookie)).await.json()["user_id"]
            .as_str()
            .expect("user id")
            .to_owned()
    }
}

pub fn setup_link_token(link: &serde_json::Value) -> String {
    let url = link["url"].as_str().expect("url");
    url.rsplit('/').next().expect("token").to_owned()
}

pub fn invitation_token(invitation: &serde_json::Value) -> String {
    let url = invitation["accept_url"].as_str().expect("accept_url");
    url.rsplit('/').next().expect("token").to_owned()
}

#[derive(Clone, Copy)]
pub enum Auth<'a> {
    Cookie(&'a str),
    Token(&'a str),
    None,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl TestResponse {
    async fn read(res: Response<Body>) -> Self {
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        Self {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The full `Set-Cookie` line of the session cookie.
    pub fn session_set_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("latchkey_session="))
            .map(str::to_owned)
    }

    /// `latchkey_session=<value>` for a `Cookie` header.
    pub fn session_cookie(&self) -> Option<String> {
        self.session_set_cookie()
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
}

/// Runs a test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::common::TestApp) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::common::TestApp::new($crate::common::Backend::Sqlite).await).await;
            }

            #[tokio::test]
            async fn postgres() {
                run($crate::common::TestApp::new($crate::common::Backend::Postgres).await).await;
            }
        }
    };
}

/// One test per database for `async fn $run(Backend)`, named
/// `$run::sqlite` and `$run::postgres`. Multi-threaded, so tests that race
/// requests against each other get real parallelism.
#[macro_export]
macro_rules! on_each_backend {
    ($run:ident) => {
        mod $run {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$run($crate::common::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$run($crate::common::Backend::Postgres).await;
            }
        }
    };
}
