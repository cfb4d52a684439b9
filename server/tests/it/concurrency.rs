//! Sign-ins at the same moment never fail: 64 browsers of one person (tabs,
//! a 9 a.m. rush) and 64 different people, through the real
//! `oidc-provider`, against `latchkey serve` on SQLite and on PostgreSQL.

use crate::common::{Backend, tempdir};
use crate::on_each_backend;
use crate::processes::{Deployment, connect_real_idp};
use crate::sso_real_idp::{Browser, RealIdp, free_port};
use http::StatusCode;

const AT_ONCE: usize = 64;

async fn sixty_four_sign_ins_at_once_all_succeed(backend: Backend) {
    let idp = RealIdp::start_automatic().await;
    let dir = tempdir();
    let port = free_port();
    let deployment = Deployment::single(backend, dir.path(), port).await;
    let boot = deployment.bootstrap("owner@rush.test", "Rush");
    let server = deployment.serve(Some(port)).await;
    let start = connect_real_idp(
        &server.base(),
        &boot,
        &idp,
        &deployment.database_url,
        "rush.test",
    )
    .await;
    let landing = format!("/o/{}", boot.org);

    for one_person in [true, false] {
        let tasks: Vec<_> = (0..AT_ONCE)
            .map(|n| {
                let (start, landing) = (start.clone(), landing.clone());
                tokio::spawn(async move {
                    let email = if one_person {
                        "ada@rush.test".to_owned()
                    } else {
                        format!("person{n}@rush.test")
                    };
                    let mut browser = Browser::behind_proxy_from(format!("10.1.0.{}", n + 1));
                    let page = browser
                        .go(&format!("{start}?login_hint={email}"), None)
                        .await;
                    (page.status == StatusCode::OK && page.url.path() == landing)
                        .then_some(())
                        .ok_or_else(|| format!("{email}: {} at {}", page.status, page.url))
                })
            })
            .collect();
        let mut failures = Vec::new();
        for task in tasks {
            if let Err(why) = task.await.expect("task") {
                failures.push(why);
            }
        }
        assert!(
            failures.is_empty(),
            "one person: {one_person}; {} of {AT_ONCE} failed: {failures:?}",
            failures.len()
        );
    }
    let db = app::ssr::db::connect(&deployment.database_url, 1)
        .await
        .expect("connect");
    let (users, identities, members): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users WHERE email LIKE '%@rush.test' AND email <> 'owner@rush.test'), \
         (SELECT COUNT(*) FROM sso_identities), \
         (SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email <> 'owner@rush.test')",
    )
    .fetch_one(&db)
    .await
    .expect("counts");
    // One account for Ada however many tabs, one for each of the others.
    let expected = i64::try_from(AT_ONCE + 1).expect("count");
    assert_eq!((users, identities, members), (expected, expected, expected));
}
on_each_backend!(sixty_four_sign_ins_at_once_all_succeed);
