//! ID tokens as real signers make them: PS256, ES256 and EdDSA accepted;
//! HS256 signed with the client secret (which the organization's admin, or
//! anyone who learns the secret, could forge), no nonce, and an audience
//! shared with another client without `azp`, refused.

use crate::common::Backend;
use crate::sso_idp::*;
use http::StatusCode;
use jsonwebtoken::Algorithm;
use serde_json::json;

#[tokio::test]
async fn asymmetric_algorithms_of_real_signers_are_accepted() {
    let s = setup(Backend::Sqlite).await;
    for alg in [Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA] {
        let plan = Plan {
            alg: Some(alg),
            ..Default::default()
        };
        let (res, cookie) = sign_in_with(&s, plan).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{alg:?}: {}", res.body);
        assert!(is_signed_in(&s, &cookie).await, "{alg:?}");
    }
}

/// Each key family is verified by `ring` (the `Jwk` type): a signature
/// altered after signing fails for every one of them, not only for RS256.
#[tokio::test]
async fn altered_signatures_are_refused_for_every_algorithm() {
    let s = setup(Backend::Sqlite).await;
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        let plan = Plan {
            alg: (alg != Algorithm::RS256).then_some(alg),
            tamper_signature: true,
            ..Default::default()
        };
        assert_refused(&s, plan, "id_token").await;
    }
    assert_eq!(users_named(&s, "ada@flow.test").await, 0);
}

#[tokio::test]
async fn forgeable_or_incomplete_id_tokens_are_refused() {
    let s = setup(Backend::Sqlite).await;
    let hs256 = Plan {
        alg: Some(Algorithm::HS256),
        ..Default::default()
    };
    assert_refused(&s, hs256, "id_token").await;
    let no_nonce = Plan {
        claims: vec![("nonce".into(), serde_json::Value::Null)],
        ..Default::default()
    };
    assert_refused(&s, no_nonce, "id_token").await;
    let shared_audience = Plan {
        claims: vec![("aud".into(), json!([CLIENT_ID, "another-client"]))],
        ..Default::default()
    };
    assert_refused(&s, shared_audience, "id_token").await;
    assert_eq!(users_named(&s, "ada@flow.test").await, 0);
}
