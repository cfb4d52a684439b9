//! Two `latchkey serve` processes on one PostgreSQL database, behind a load
//! balancer the test steers, against the real `oidc-provider`: they behave
//! as one. A sign-in started on one finishes on the other; a session opened
//! on one works on the other; a member deactivated through one is out on the
//! other at once; a setting saved through one is used by the other's next
//! sign-in; a back-channel logout the IdP sends to one ends the session on
//! the other.

use crate::common::{Backend, fresh_database_url, tempdir};
use crate::processes::{Deployment, Instance, api, connect_real_idp};
use crate::sso_real_idp::{Browser, RealIdp, finish_at_idp, form_of};
use http::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_behave_as_one() {
    let idp = RealIdp::start().await;
    let balancer = Balancer::start().await;
    let dir = tempdir();
    let fleet = Deployment {
        database_url: fresh_database_url(Backend::Postgres, dir.path()).await,
        public: balancer.public(),
        data_dir: dir.path().to_owned(),
        drain_secs: 0,
    };
    let boot = fleet.bootstrap("owner@fleet.test", "Fleet");
    let (token, org) = (boot.token.clone(), boot.org.clone());
    let a = fleet.serve(None).await;
    let b = fleet.serve(None).await;
    let public = fleet.public.clone();
    let db = app::ssr::db::connect(&fleet.database_url, 1)
        .await
        .expect("connect");

    // SSO set up through A.
    balancer.to(&a);
    let start = connect_real_idp(&public, &boot, &idp, &fleet.database_url, "fleet.test").await;

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
    assert_eq!(
        ada.go(&members, None).await.status,
        StatusCode::UNAUTHORIZED
    );

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
