//! Domain verification against a real DNS server on 127.0.0.1.

use crate::common::{Auth, Backend, TestApp};
use crate::dns::TestDns;
use http::StatusCode;
use serde_json::json;
use server::config::ConfigArgs;

async fn app_with_dns(backend: Backend) -> (TestApp, TestDns) {
    let dns = TestDns::start().await;
    let app = TestApp::with_args(
        backend,
        ConfigArgs {
            dns_servers: Some(dns.addr.to_string()),
            dns_timeout_secs: Some("1".into()),
            ..Default::default()
        },
    )
    .await;
    (app, dns)
}

macro_rules! dns_test {
    ($name:ident, |$app:ident, $dns:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: TestApp, $dns: TestDns) $body

            #[tokio::test]
            async fn sqlite() {
                let (app, dns) = app_with_dns(Backend::Sqlite).await;
                run(app, dns).await;
            }

            #[tokio::test]
            async fn postgres() {
                let (app, dns) = app_with_dns(Backend::Postgres).await;
                run(app, dns).await;
            }
        }
    };
}

dns_test!(a_published_record_verifies_the_domain, |app, dns| {
    let (owner, org) = app.org_with_owner("it@acme-dns.test", "Acme DNS").await;
    let domains = format!("/api/v1/orgs/{org}/domains");
    let res = app
        .api(
            "POST",
            &domains,
            Auth::Cookie(&owner),
            Some(json!({"domain": " Acme-DNS.com. "})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let d = res.json();
    assert_eq!(d["domain"], "acme-dns.com");
    assert_eq!(d["status"], "pending");
    assert_eq!(d["txt_record_name"], "_latchkey-challenge.acme-dns.com");
    let value = d["txt_record_value"].as_str().expect("value").to_owned();
    let token = value
        .strip_prefix("latchkey-verification=")
        .expect("prefix");
    assert!(token.len() >= 22, "128 bits or more");
    let verify = format!("{domains}/acme-dns.com/verify");

    // Nothing published yet.
    let d = app
        .api("POST", &verify, Auth::Cookie(&owner), None)
        .await
        .json();
    assert_eq!(d["status"], "pending");
    assert!(
        d["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("No TXT record found at _latchkey-challenge.acme-dns.com")),
        "{d}"
    );
    assert!(d["last_checked_at"].is_i64());

    // A record with another token.
    dns.publish(
        "_latchkey-challenge.acme-dns.com",
        &["latchkey-verification=someoneelse"],
    );
    let d = app
        .api("POST", &verify, Auth::Cookie(&owner), None)
        .await
        .json();
    assert_eq!(d["status"], "pending");
    assert!(
        d["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("token differs")),
        "{d}"
    );

    // Several records, the right one split into two strings.
    let (head, tail) = value.split_at(10);
    dns.publish("_latchkey-challenge.acme-dns.com", &["v=spf1 -all"]);
    dns.publish("_latchkey-challenge.acme-dns.com", &[head, tail]);
    let res = app.api("POST", &verify, Auth::Cookie(&owner), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let d = res.json();
    assert_eq!(d["status"], "verified", "{d}");
    assert_eq!(d["method"], "dns");
    assert!(d["verified_at"].is_i64());
    assert!(d["last_error"].is_null());

    let list = app
        .api("GET", &domains, Auth::Cookie(&owner), None)
        .await
        .json();
    assert_eq!(list[0]["status"], "verified");
    let events = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/audit-events?action=domain."),
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
    assert_eq!(actions, vec!["domain.verified", "domain.added"]);

    // Verified here: another organization can no longer claim it.
    let (other, other_org) = app.org_with_owner("it@rival.test", "Rival").await;
    let res = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{other_org}/domains"),
            Auth::Cookie(&other),
            Some(json!({"domain": "acme-dns.com"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.json()["error"]["code"], "domain_taken");

    // The SSO gate.
    let db = &app.state.db;
    let org_id = app.get("/api/v1/me", Some(&owner)).await.json()["orgs"][0]["org_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let owns = |email: &'static str, org: String| async move {
        app::domains::ssr::org_owns_email_domain(db, &org, email)
            .await
            .expect("query")
    };
    assert!(owns("Ann@ACME-DNS.com", org_id.clone()).await);
    assert!(
        !owns("ann@eu.acme-dns.com", org_id.clone()).await,
        "subdomains are not covered"
    );
    assert!(!owns("ann@other.com", org_id.clone()).await);
    assert!(!owns("not an email", org_id.clone()).await);
    assert!(!owns("ann@acme-dns.com", "o-elsewhere".into()).await);
});

dns_test!(a_silent_dns_server_is_reported_as_a_timeout, |app, dns| {
    let (owner, org) = app.org_with_owner("slow@dns.test", "Slow").await;
    app.api(
        "POST",
        &format!("/api/v1/orgs/{org}/domains"),
        Auth::Cookie(&owner),
        Some(json!({"domain": "slow-dns.com"})),
    )
    .await;
    dns.silence("_latchkey-challenge.slow-dns.com");
    let started = std::time::Instant::now();
    let d = app
        .api(
            "POST",
            &format!("/api/v1/orgs/{org}/domains/slow-dns.com/verify"),
            Auth::Cookie(&owner),
            None,
        )
        .await
        .json();
    assert_eq!(d["status"], "pending");
    assert!(
        d["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("did not answer in time")),
        "{d}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "bounded by the timeout"
    );
});

dns_test!(refused_names_and_permissions, |app, dns| {
    let _ = &dns;
    let (owner, org) = app.org_with_owner("own@names.test", "Names").await;
    let domains = format!("/api/v1/orgs/{org}/domains");
    for (input, needle) in [
        ("com", "public suffix"),
        ("co.uk", "public suffix"),
        ("github.io", "public suffix"),
        ("*.names.com", "Wildcards"),
        ("192.0.2.10", "IP addresses"),
        ("not a domain", "not a valid domain"),
        ("https://names.com", "only the domain name"),
    ] {
        let res = app
            .api(
                "POST",
                &domains,
                Auth::Cookie(&owner),
                Some(json!({"domain": input})),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{input}: {}",
            res.body
        );
        let e = res.json();
        assert_eq!(e["error"]["field"], "domain");
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{input}: {e}"
        );
    }
    let res = app
        .api(
            "POST",
            &domains,
            Auth::Cookie(&owner),
            Some(json!({"domain": "names.com"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = app
        .api(
            "POST",
            &domains,
            Auth::Cookie(&owner),
            Some(json!({"domain": "NAMES.com"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "listed once");
    assert_eq!(
        app.api("GET", &domains, Auth::Cookie(&owner), None)
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // A viewer reads but cannot change.
    let viewer = app.join(&owner, &org, "view@names.test", "viewer").await;
    assert_eq!(
        app.api("GET", &domains, Auth::Cookie(&viewer), None)
            .await
            .status,
        StatusCode::OK
    );
    for (method, path) in [
        ("POST", domains.clone()),
        ("POST", format!("{domains}/names.com/verify")),
        ("DELETE", format!("{domains}/names.com")),
    ] {
        let body =
            (method == "POST" && !path.ends_with("verify")).then(|| json!({"domain": "more.com"}));
        let res = app.api(method, &path, Auth::Cookie(&viewer), body).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert!(
            res.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("domains:write"))
        );
    }
    let res = app
        .server_fn(
            "add_domain",
            &[("org", &org), ("domain", "more.com")],
            Some(&viewer),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .api(
            "DELETE",
            &format!("{domains}/names.com"),
            Auth::Cookie(&owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = app
        .api(
            "DELETE",
            &format!("{domains}/names.com"),
            Auth::Cookie(&owner),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
});

dns_test!(
    operators_approve_and_reject_and_others_cannot,
    |app, dns| {
        let _ = &dns;
        let (owner, org) = app.org_with_owner("own@ops.test", "Ops Co").await;
        let domains = format!("/api/v1/orgs/{org}/domains");
        for d in ["manual-ok.com", "manual-no.com"] {
            app.api(
                "POST",
                &domains,
                Auth::Cookie(&owner),
                Some(json!({"domain": d})),
            )
            .await;
        }
        // Not an operator yet.
        let res = app
            .server_fn("operator_pending_domains", &[], Some(&owner))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let operator = app.sign_up("staff@latchkey.test").await;
        assert!(
            app::identity::accounts::grant_operator(&app.state.db, "staff@latchkey.test")
                .await
                .expect("grant")
        );
        let pending = app
            .server_fn("operator_pending_domains", &[], Some(&operator))
            .await;
        assert_eq!(pending.status, StatusCode::OK, "{}", pending.body);
        let pending = pending.json();
        let id_of = |name: &str| {
            pending
                .as_array()
                .and_then(|l| l.iter().find(|p| p["domain"]["domain"] == name))
                .map(|p| p["domain"]["id"].as_str().unwrap_or_default().to_owned())
                .expect("listed")
        };
        let (ok_id, no_id) = (id_of("manual-ok.com"), id_of("manual-no.com"));
        let res = app
            .server_fn("operator_approve_domain", &[("id", &ok_id)], Some(&owner))
            .await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "owners of the org are not operators"
        );
        let res = app
            .server_fn(
                "operator_approve_domain",
                &[("id", &ok_id)],
                Some(&operator),
            )
            .await;
        assert!(res.status.is_success(), "{}", res.body);
        let res = app
            .server_fn(
                "operator_reject_domain",
                &[("id", &no_id), ("reason", "")],
                Some(&operator),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        let res = app
            .server_fn(
                "operator_reject_domain",
                &[("id", &no_id), ("reason", "Not your company")],
                Some(&operator),
            )
            .await;
        assert!(res.status.is_success(), "{}", res.body);

        let list = app
            .api("GET", &domains, Auth::Cookie(&owner), None)
            .await
            .json();
        let find = |name: &str| {
            list.as_array()
                .and_then(|l| l.iter().find(|d| d["domain"] == name).cloned())
                .expect("domain")
        };
        assert_eq!(find("manual-ok.com")["status"], "verified");
        assert_eq!(find("manual-ok.com")["method"], "manual");
        assert_eq!(find("manual-no.com")["status"], "expired");
        assert!(
            find("manual-no.com")["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("Not your company"))
        );

        // A rejected (expired) domain restarts with a new token.
        let old = find("manual-no.com")["txt_record_value"].clone();
        let res = app
            .server_fn(
                "restart_domain",
                &[("org", &org), ("domain", "manual-no.com")],
                Some(&owner),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.json()["status"], "pending");
        assert_ne!(res.json()["txt_record_value"], old);

        let events = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/audit-events?action=domain."),
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
        for a in ["domain.verified", "domain.rejected", "domain.restarted"] {
            assert!(actions.contains(&a), "{a} in {actions:?}");
        }
    }
);

dns_test!(
    the_background_job_verifies_and_expires_pending_domains,
    |app, dns| {
        let (owner, org) = app.org_with_owner("own@job.test", "Job Co").await;
        let domains = format!("/api/v1/orgs/{org}/domains");
        let fresh = app
            .api(
                "POST",
                &domains,
                Auth::Cookie(&owner),
                Some(json!({"domain": "job-fresh.com"})),
            )
            .await
            .json();
        app.api(
            "POST",
            &domains,
            Auth::Cookie(&owner),
            Some(json!({"domain": "job-old.com"})),
        )
        .await;
        sqlx::query("UPDATE domains SET expires_at = 1 WHERE domain = 'job-old.com'")
            .execute(&app.state.db)
            .await
            .expect("age it");
        dns.publish(
            "_latchkey-challenge.job-fresh.com",
            &[fresh["txt_record_value"].as_str().expect("value")],
        );
        let (expired, verified) =
            app::domains::ssr::recheck_pending(&app.state.db, &app.state.settings)
                .await
                .expect("job");
        assert_eq!((expired, verified), (1, 1));
        let list = app
            .api("GET", &domains, Auth::Cookie(&owner), None)
            .await
            .json();
        let status = |name: &str| {
            list.as_array()
                .and_then(|l| l.iter().find(|d| d["domain"] == name))
                .map(|d| d["status"].clone())
        };
        assert_eq!(status("job-fresh.com"), Some(json!("verified")));
        assert_eq!(status("job-old.com"), Some(json!("expired")));
        let events = app
            .api(
                "GET",
                &format!("/api/v1/orgs/{org}/audit-events?action=domain.expired"),
                Auth::Cookie(&owner),
                None,
            )
            .await
            .json();
        assert_eq!(events["events"][0]["actor_type"], "system");
        // Verifying an expired domain asks for a restart.
        let res = app
            .api(
                "POST",
                &format!("{domains}/job-old.com/verify"),
                Auth::Cookie(&owner),
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(res.json()["error"]["code"], "domain_expired");
    }
);
