//! `kill -9` in the middle of a steady stream of SSO sign-ins (against the
//! real `oidc-provider`) and console writes, then a restart: everything
//! that was answered 2xx is there, nothing is half-written, and SQLite's
//! file passes its integrity check.

use crate::common::{Backend, tempdir};
use crate::on_each_backend;
use crate::processes::{Deployment, api, connect_real_idp};
use crate::sso_real_idp::{Browser, RealIdp, free_port};
use http::StatusCode;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn killed_mid_stream_keeps_every_acknowledged_write(backend: Backend) {
    let idp = RealIdp::start_automatic().await;
    let dir = tempdir();
    let port = free_port();
    let deployment = Deployment::single(backend, dir.path(), port).await;
    let boot = deployment.bootstrap("owner@crash.test", "Crash");
    let mut server = deployment.serve(Some(port)).await;
    let base = server.base();
    let start = connect_real_idp(&base, &boot, &idp, &deployment.database_url, "crash.test").await;
    let landing = format!("/o/{}", boot.org);

    // Two workers sign new people in, two create invitations, until the
    // server is gone; each keeps what was acknowledged.
    let counter = Arc::new(AtomicUsize::new(0));
    let signed_in: Arc<Mutex<Vec<(String, Browser)>>> = Arc::default();
    let invited: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let (counter, signed_in, start, landing) = (
            counter.clone(),
            signed_in.clone(),
            start.clone(),
            landing.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let email = format!("p{n}@crash.test");
                // Each person from their own address: the per-address limit
                // on sign-in starts is not what this test is about.
                let mut browser =
                    Browser::behind_proxy_from(format!("10.0.{}.{}", n / 250, n % 250 + 1));
                match browser
                    .try_go(&format!("{start}?login_hint={email}"), None)
                    .await
                {
                    Ok(page) if page.status == StatusCode::OK && page.url.path() == landing => {
                        signed_in.lock().expect("lock").push((email, browser));
                    }
                    Ok(page) => panic!("{email}: {} at {}: {}", page.status, page.url, page.body),
                    Err(_) => return,
                }
            }
        }));
    }
    for _ in 0..2 {
        let (counter, invited, base, boot_token, org) = (
            counter.clone(),
            invited.clone(),
            base.clone(),
            boot.token.clone(),
            boot.org.clone(),
        );
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let email = format!("i{}@crash.test", counter.fetch_add(1, Ordering::Relaxed));
                let sent = client
                    .post(format!("{base}/api/v1/orgs/{org}/invitations"))
                    .bearer_auth(&boot_token)
                    .header("content-type", "application/json")
                    .body(json!({"email": email, "role": "member"}).to_string())
                    .send()
                    .await;
                match sent {
                    Ok(res) if res.status().as_u16() == 201 => {
                        invited.lock().expect("lock").push(email);
                    }
                    Ok(res) => panic!("{email}: {}", res.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    // Somewhere in the stream, without warning.
    let at = 1500 + u64::from(rand::random::<u16>() % 1500);
    tokio::time::sleep(Duration::from_millis(at)).await;
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    for worker in workers {
        worker.await.expect("worker");
    }
    let signed_in = std::mem::take(&mut *signed_in.lock().expect("lock"));
    let invited = std::mem::take(&mut *invited.lock().expect("lock"));
    assert!(
        !signed_in.is_empty() && !invited.is_empty(),
        "killed after {at} ms with {} sign-ins and {} invitations acknowledged",
        signed_in.len(),
        invited.len()
    );

    if matches!(backend, Backend::Sqlite) {
        let db = app::ssr::db::connect(&deployment.database_url, 1)
            .await
            .expect("open the file");
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&db)
            .await
            .expect("integrity check");
        assert_eq!(check, "ok");
        db.close().await;
    }
    let server = deployment.serve(Some(port)).await;
    let base = server.base();

    // Every acknowledged sign-in: its session still opens, as its person.
    for (email, mut browser) in signed_in {
        let me = browser.go(&format!("{base}/api/v1/me"), None).await;
        assert_eq!(me.status, StatusCode::OK, "{email}: {}", me.body);
        assert!(me.body.contains(&email), "{email}: {}", me.body);
    }
    // Every acknowledged invitation is listed.
    let (status, list) = api(
        &base,
        &boot.token,
        "GET",
        &format!("/api/v1/orgs/{}/invitations", boot.org),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = list
        .as_array()
        .expect("invitations")
        .iter()
        .filter_map(|i| i["email"].as_str())
        .collect();
    for email in &invited {
        assert!(listed.contains(&email.as_str()), "{email} lost");
    }
    // Nothing half-written: each sign-in is one transaction, so no account
    // without its membership and identity, no session without its user,
    // no invitation without its audit event.
    let db = app::ssr::db::connect(&deployment.database_url, 1)
        .await
        .expect("connect");
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&db)
                .await
                .expect(sql)
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM users u WHERE u.email LIKE 'p%' AND (NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id) OR NOT EXISTS (SELECT 1 FROM sso_identities i WHERE i.user_id = u.id))").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM sessions s WHERE s.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM invitations i WHERE NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.action = 'invitation.created' AND a.target_id = i.id)").await,
        0
    );
}
on_each_backend!(killed_mid_stream_keeps_every_acknowledged_write);
