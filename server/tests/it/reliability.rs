//! What several instances, shutdowns and database outages must not break:
//! job leases, readiness, migrations applied once, 503 (never 500 or a
//! hang) while the database is away and service again once it is back, and
//! a SIGTERM that lets requests in flight finish.

use crate::common::{Backend, TestApp, fresh_database_url, postgres_url, tempdir};
use crate::db_test;
use crate::processes::Deployment;
use http::StatusCode;
use server::config::{Config, ConfigArgs};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

db_test!(a_job_lease_goes_to_one_instance_at_a_time, |app| {
    use app::ssr::lease::claim;
    let db = &app.state.db;
    assert!(claim(db, "recheck", "inst_a", 60).await.expect("claim"));
    assert!(!claim(db, "recheck", "inst_b", 60).await.expect("claim"));
    // The holder renews its own lease; another job's lease is separate.
    assert!(claim(db, "recheck", "inst_a", 60).await.expect("claim"));
    assert!(claim(db, "cleanup", "inst_b", 60).await.expect("claim"));
    // Once the holder's lease has run out (it died), another takes over.
    sqlx::query("UPDATE job_leases SET expires_at = expires_at - 120 WHERE name = 'recheck'")
        .execute(db)
        .await
        .expect("age the lease");
    assert!(claim(db, "recheck", "inst_b", 60).await.expect("claim"));
    assert!(!claim(db, "recheck", "inst_a", 60).await.expect("claim"));
});

db_test!(readiness_needs_every_migration_and_no_drain, |app| {
    let ready = app.get("/api/v1/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.json()["status"], "ready");
    assert_eq!(ready.json()["migrations"], "applied");

    // A database one migration behind this release: alive, not ready.
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&app.state.db)
    .await
    .expect("forget a migration");
    let ready = app.get("/api/v1/ready", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json()["status"], "migrations_pending");
    assert_eq!(ready.json()["migrations"], "pending");
    assert_eq!(app.get("/api/v1/health", None).await.status, StatusCode::OK);

    // Draining: both say so, with 503, so a load balancer stops sending.
    app.state.draining.store(true, Ordering::Relaxed);
    let health = app.get("/api/v1/health", None).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.json()["status"], "draining");
    assert_eq!(health.json()["database"], "ok");
    let ready = app.get("/api/v1/ready", None).await;
    assert_eq!(ready.json()["status"], "draining");
});

fn config_for(url: &str, dir: &std::path::Path) -> Config {
    Config::from_args(&ConfigArgs {
        database_url: Some(url.to_owned()),
        data_dir: Some(dir.display().to_string()),
        secret_key: Some("k".repeat(48)),
        ..Default::default()
    })
    .expect("config")
}

async fn applied(url: &str) -> (i64, i64) {
    let db = app::ssr::db::connect(url, 1).await.expect("connect");
    sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations")
        .fetch_one(&db)
        .await
        .expect("count")
}

/// Three instances starting at once against an empty database, then three
/// against a database of an older release: each migration runs once
/// (sqlx holds PostgreSQL's advisory lock while it migrates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_started_together_apply_each_migration_once() {
    let known = i64::try_from(app::ssr::db::MIGRATOR.iter().count()).expect("count");
    for older in [0, 10] {
        let dir = tempdir();
        let url = fresh_database_url(Backend::Postgres, dir.path()).await;
        if older > 0 {
            let db = app::ssr::db::connect(&url, 1).await.expect("connect");
            let mut old = sqlx::migrate::Migrator::new(std::path::Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../migrations"
            )))
            .await
            .expect("migrations");
            old.migrations = old.migrations.iter().take(older).cloned().collect();
            old.run(&db).await.expect("an older release's migrations");
            assert_eq!(applied(&url).await, (older as i64, older as i64));
        }
        let config = config_for(&url, dir.path());
        let (a, b, c) = tokio::join!(
            server::init(&config),
            server::init(&config),
            server::init(&config)
        );
        for started in [a, b, c] {
            started.expect("every instance starts");
        }
        assert_eq!(applied(&url).await, (known, known), "from {older}");
    }
}

/// A TCP hop between Latchkey and PostgreSQL that the test can cut (every
/// connection reset, new ones refused) and restore, as when the database
/// server goes down and comes back.
struct Cable {
    port: u16,
    upstream: String,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Cable {
    async fn connect(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let cable = Self {
            port,
            upstream,
            tasks: Arc::default(),
        };
        cable.serve(listener);
        cable
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().expect("lock").push(pipe.abort_handle());
            }
        });
        self.tasks.lock().expect("lock").push(accept.abort_handle());
    }

    fn cut(&self) {
        for task in self.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
    }

    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the same port again");
        self.serve(listener);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_and_service_resumes_without_a_restart() {
    let dir = tempdir();
    let direct =
        url::Url::parse(&fresh_database_url(Backend::Postgres, dir.path()).await).expect("url");
    let pg = url::Url::parse(&postgres_url()).expect("url");
    let upstream = format!(
        "{}:{}",
        pg.host_str().expect("host"),
        pg.port().unwrap_or(5432)
    );
    let cable = Cable::connect(upstream).await;
    let mut through = direct.clone();
    through.set_port(Some(cable.port)).expect("port");
    let app = TestApp::at_url(through.to_string()).await;
    let cookie = app.sign_up("ada@outage.test").await;
    let (_, org) = app.org_with_owner("owner@outage.test", "Outage").await;
    assert_eq!(
        app.get("/api/v1/me", Some(&cookie)).await.status,
        StatusCode::OK
    );

    cable.cut();
    let health = app.get("/api/v1/health", None).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.json()["database"], "unavailable");
    assert_eq!(health.json()["status"], "unavailable");
    // Signed in, through the API: the JSON error, with a hint when to retry.
    let me = app
        .get_with_token("/api/v1/me", "lk_not_a_real_token")
        .await;
    assert_eq!(me.status, StatusCode::SERVICE_UNAVAILABLE, "{}", me.body);
    assert_eq!(me.json()["error"]["code"], "database_unavailable");
    let me = app.get("/api/v1/me", Some(&cookie)).await;
    assert_eq!(me.status, StatusCode::SERVICE_UNAVAILABLE, "{}", me.body);
    assert!(me.header("retry-after").is_some());
    // Pages: a clear page, not a 500.
    let console = app.get(&format!("/o/{org}"), Some(&cookie)).await;
    assert_eq!(
        console.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        console.body
    );
    assert!(
        console.body.contains("data-code=\"database_unavailable\""),
        "{}",
        console.body
    );
    let sign_in = app
        .server_fn(
            "sign_in",
            &[
                ("email", "ada@outage.test"),
                ("password", crate::common::PASSWORD),
            ],
            None,
        )
        .await;
    assert_eq!(
        sign_in.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        sign_in.body
    );

    // The database is back: the same session works again, no restart.
    cable.restore().await;
    let mut health = app.get("/api/v1/health", None).await;
    for _ in 0..50 {
        if health.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        health = app.get("/api/v1/health", None).await;
    }
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    let me = app.get("/api/v1/me", Some(&cookie)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["email"], "ada@outage.test");
}

/// SIGTERM: health says `draining` while new requests are still answered,
/// then no new connection is accepted, the request in flight finishes with
/// its real answer, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_finishes_requests_in_flight_and_exits_0() {
    let dir = tempdir();
    let port = crate::sso_real_idp::free_port();
    let deployment = Deployment {
        drain_secs: 2,
        ..Deployment::single(Backend::Sqlite, dir.path(), port).await
    };
    let boot = deployment.bootstrap("ops@shutdown.test", "Shutdown");
    let mut server = deployment.serve(Some(port)).await;
    let base = server.base();
    // An identity provider that answers the discovery request only when told.
    let idp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let idp_url = format!("http://{}", idp.local_addr().expect("addr"));
    let (arrived_tx, arrived) = tokio::sync::oneshot::channel();
    let (answer, answer_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = idp.accept().await.expect("accept");
        let mut buf = vec![0; 4096];
        let _ = socket.read(&mut buf).await;
        let _ = arrived_tx.send(());
        let _ = answer_rx.await;
        let _ = socket
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
    });
    let in_flight = tokio::spawn({
        let url = format!("{base}/api/v1/orgs/{}/sso", boot.org);
        let token = boot.token.clone();
        async move {
            reqwest::Client::new()
                .put(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(
                    serde_json::json!({
                        "provider_label": "Slow", "discovery_url": idp_url,
                        "client_id": "c", "client_secret": "s",
                    })
                    .to_string(),
                )
                .send()
                .await
                .expect("the request in flight gets an answer")
        }
    });
    arrived.await.expect("the request reached the IdP");

    server.signal("TERM");
    // Still answering during the drain, and saying so.
    let health = reqwest::get(format!("{base}/api/v1/health"))
        .await
        .expect("answered while draining");
    assert_eq!(health.status().as_u16(), 503);
    let body: serde_json::Value =
        serde_json::from_str(&health.text().await.expect("body")).expect("json");
    assert_eq!(body["status"], "draining");
    // After the drain: no new connections.
    let mut refused = false;
    for _ in 0..60 {
        if reqwest::get(format!("{base}/api/v1/health")).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "still accepting after the drain");
    assert!(
        server.child.try_wait().expect("wait").is_none(),
        "exited with a request in flight"
    );

    // The IdP answers; the request in flight gets its real answer.
    let _ = answer.send(());
    let res = in_flight.await.expect("task");
    assert_eq!(res.status().as_u16(), 422);
    let body: serde_json::Value =
        serde_json::from_str(&res.text().await.expect("body")).expect("json");
    assert_eq!(body["error"]["code"], "invalid_discovery");
    assert_eq!(server.exit_code().await, Some(0), "exit status");
}
