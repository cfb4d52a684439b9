//! Which address is recorded (audit log, limits): `X-Forwarded-For` only
//! from a proxy the operator trusts, and then its right-most untrusted hop.

use crate::common::{Auth, Backend, TestApp};
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, header};
use serde_json::json;
use server::config::ConfigArgs;
use std::net::SocketAddr;

/// Invites someone over a "socket" from `peer` with the given forwarded
/// header, and returns the address the audit log recorded.
async fn recorded_ip(app: &TestApp, peer: &str, forwarded: &str) -> String {
    let (owner, org) = app
        .org_with_owner(&format!("o{}@xff.test", forwarded.len()), "Xff")
        .await;
    let peer: SocketAddr = peer.parse().expect("peer");
    let mut req = Request::post(format!("/api/v1/orgs/{org}/invitations"))
        .header(header::COOKIE, &owner)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", forwarded)
        .body(Body::from(
            json!({"email": "x@xff.test", "role": "member"}).to_string(),
        ))
        .expect("request");
    req.extensions_mut().insert(ConnectInfo(peer));
    let res = app.send(req).await;
    assert_eq!(res.status, http::StatusCode::CREATED, "{}", res.body);
    let events = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/audit-events?action=invitation.created"),
            Auth::Cookie(&owner),
            None,
        )
        .await
        .json();
    events["events"][0]["ip"]
        .as_str()
        .expect("ip recorded")
        .to_owned()
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_trusted_proxies() {
    let direct = TestApp::new(Backend::Sqlite).await;
    // Nobody trusted: a client cannot pick its own address.
    assert_eq!(
        recorded_ip(&direct, "203.0.113.9:4000", "1.2.3.4").await,
        "203.0.113.9"
    );

    let proxied = TestApp::with_args(
        Backend::Sqlite,
        ConfigArgs {
            trusted_proxies: Some("10.0.0.0/8".into()),
            ..ConfigArgs::default()
        },
    )
    .await;
    // Through the proxy: the hop it saw, not what the client prepended.
    assert_eq!(
        recorded_ip(&proxied, "10.0.0.2:4000", "6.6.6.6, 198.51.100.4").await,
        "198.51.100.4"
    );
    // A client that reaches Latchkey directly is not believed either.
    assert_eq!(
        recorded_ip(&proxied, "203.0.113.9:4000", "6.6.6.6, 198.51.100.40").await,
        "203.0.113.9"
    );
}
