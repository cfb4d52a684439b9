//! A test OpenID Provider of our own, for the flow's edge cases: it signs
//! with RSA keys the tests control and misbehaves on request. (The real,
//! independent provider, `oidc-provider`, runs in the browser suite.)

use crate::common::{Auth, Backend, TestApp};
use axum::Router;
use axum::extract::{Form, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::{HeaderMap, StatusCode};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use server::config::ConfigArgs;
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub(crate) const CLIENT_ID: &str = "latchkey-client";
pub(crate) const SECRET: &str = "flow-secret-Kd93jf";

pub(crate) struct Key {
    pub(crate) kid: &'static str,
    pub(crate) signer: rsa::pkcs1v15::SigningKey<sha2::Sha256>,
    pub(crate) jwk: Value,
}

pub(crate) fn key(kid: &'static str, pem: &str) -> Key {
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("test key");
    let public = private.to_public_key();
    Key {
        kid,
        jwk: json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": B64.encode(public.n().to_bytes_be()),
            "e": B64.encode(public.e().to_bytes_be()),
        }),
        signer: rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private),
    }
}

/// What the IdP remembers of an authorization request.
#[derive(Clone)]
pub(crate) struct Grant {
    pub(crate) nonce: String,
    pub(crate) challenge: String,
    pub(crate) redirect_uri: String,
}

/// How the next token response misbehaves (or not).
#[derive(Clone, Default)]
pub(crate) struct Plan {
    /// Changes to the ID token's claims (null removes a claim).
    pub(crate) claims: Vec<(String, Value)>,
    /// Sign with this key id (k1, k2) instead of k1.
    pub(crate) kid: Option<&'static str>,
    /// Names this key id in the header, whatever key signed.
    pub(crate) header_kid: Option<&'static str>,
    pub(crate) header_alg_none: bool,
    pub(crate) tamper_signature: bool,
    pub(crate) userinfo_sub: Option<String>,
    /// Signs with another algorithm and key: `PS256`, `ES256`, `EdDSA`
    /// (keys the IdP publishes), or `HS256` with the client secret.
    pub(crate) alg: Option<jsonwebtoken::Algorithm>,
}

/// Keys for algorithms other than RS256, published beside k1/k2.
pub(crate) fn other_keys() -> Vec<(
    jsonwebtoken::Algorithm,
    &'static str,
    jsonwebtoken::EncodingKey,
)> {
    use jsonwebtoken::{Algorithm, EncodingKey};
    vec![
        (
            Algorithm::PS256,
            "kps",
            EncodingKey::from_rsa_der(include_bytes!("keys/ps256.der")),
        ),
        (
            Algorithm::ES256,
            "kes",
            EncodingKey::from_ec_der(include_bytes!("keys/es256.der")),
        ),
        (
            Algorithm::EdDSA,
            "ked",
            EncodingKey::from_ed_der(include_bytes!("keys/ed25519.der")),
        ),
    ]
}

/// The public half of `keys/ed25519.der` (`openssl pkey -pubout`), which
/// jsonwebtoken cannot derive.
const ED25519_X: &str = "oZw9l9Mayuq6c6GtiSx8a6Jy3r5TgHAdYdxb_VVQu_E";

fn other_jwks() -> Vec<Value> {
    other_keys()
        .into_iter()
        .map(|(alg, kid, key)| {
            if alg == jsonwebtoken::Algorithm::EdDSA {
                return json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": ED25519_X});
            }
            let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg).expect("public key");
            jwk.common.key_id = Some(kid.into());
            serde_json::to_value(jwk).expect("jwk")
        })
        .collect()
}

#[derive(Clone)]
pub(crate) struct Idp {
    pub(crate) base: String,
    pub(crate) grants: Arc<Mutex<HashMap<String, Grant>>>,
    pub(crate) plan: Arc<Mutex<Plan>>,
    /// Published keys; the test adds k2 to simulate a rotation.
    pub(crate) published: Arc<Mutex<Vec<&'static str>>>,
    pub(crate) keys: Arc<Vec<Key>>,
    pub(crate) jwks_fetches: Arc<Mutex<u32>>,
    pub(crate) userinfo: Arc<Mutex<Value>>,
}

impl Idp {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let idp = Self {
            base,
            grants: Arc::default(),
            plan: Arc::default(),
            published: Arc::new(Mutex::new(vec!["k1"])),
            keys: Arc::new(vec![
                key("k1", include_str!("keys/k1.pem")),
                key("k2", include_str!("keys/k2.pem")),
            ]),
            jwks_fetches: Arc::default(),
            userinfo: Arc::new(Mutex::new(json!({}))),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/me", get(userinfo))
            .with_state(idp.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        idp
    }

    pub(crate) fn plan(&self, plan: Plan) {
        *self.plan.lock().expect("lock") = plan;
    }

    /// The IdP's side of the user signing in: remembers the request and
    /// returns the code it would send back.
    pub(crate) fn authorize(&self, query: &HashMap<String, String>) -> String {
        assert_eq!(query["client_id"], CLIENT_ID);
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["code_challenge_method"], "S256", "PKCE S256 is used");
        assert!(query["scope"].split(' ').any(|s| s == "openid"));
        let code = format!("code-{}", self.grants.lock().expect("lock").len());
        self.grants.lock().expect("lock").insert(
            code.clone(),
            Grant {
                nonce: query["nonce"].clone(),
                challenge: query["code_challenge"].clone(),
                redirect_uri: query["redirect_uri"].clone(),
            },
        );
        code
    }

    pub(crate) fn id_token(&self, grant: &Grant) -> String {
        let plan = self.plan.lock().expect("lock").clone();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut claims = json!({
            "iss": self.base, "sub": "user-1", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
            "nonce": grant.nonce, "email": "ada@flow.test", "email_verified": true,
            "name": "Ada Lovelace", "groups": ["engineering"], "sid": "idp-session-1",
        });
        for (k, v) in plan.claims {
            if v.is_null() {
                claims.as_object_mut().expect("object").remove(&k);
            } else {
                claims[k] = v;
            }
        }
        if let Some(alg) = plan.alg {
            let (kid, key) = match other_keys().into_iter().find(|(a, _, _)| *a == alg) {
                Some((_, kid, key)) => (Some(kid.to_owned()), key),
                None => (
                    None,
                    jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
                ),
            };
            let mut header = jsonwebtoken::Header::new(alg);
            header.kid = kid;
            let token = jsonwebtoken::encode(&header, &claims, &key).expect("signed");
            return if plan.tamper_signature {
                tamper(&token)
            } else {
                token
            };
        }
        let kid = plan.kid.unwrap_or("k1");
        let alg = if plan.header_alg_none {
            "none"
        } else {
            "RS256"
        };
        let named = plan.header_kid.unwrap_or(kid);
        let header = json!({"alg": alg, "kid": named, "typ": "JWT"});
        if plan.header_alg_none {
            return unsigned(&header, &claims);
        }
        let token = self.sign(kid, &header, &claims);
        if plan.tamper_signature {
            return tamper(&token);
        }
        token
    }

    /// A compact JWS of `header` and `claims`, signed RS256 with `kid`.
    pub(crate) fn sign(&self, kid: &str, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let key = self.keys.iter().find(|k| k.kid == kid).expect("kid");
        let sig = key.signer.sign(input.as_bytes()).to_vec();
        format!("{input}.{}", B64.encode(sig))
    }
}

/// A JWT with no signature at all (`alg: none` style).
pub(crate) fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

/// The same token with one byte of its signature flipped.
pub(crate) fn tamper(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').expect("jws");
    let mut sig = B64.decode(sig).expect("b64");
    sig[10] ^= 0x55;
    format!("{input}.{}", B64.encode(sig))
}

pub(crate) async fn discovery(State(idp): State<Idp>) -> impl IntoResponse {
    let b = &idp.base;
    axum::Json(json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/auth"),
        "token_endpoint": format!("{b}/token"),
        "userinfo_endpoint": format!("{b}/me"),
        "jwks_uri": format!("{b}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "authorization_response_iss_parameter_supported": true,
        "end_session_endpoint": format!("{b}/logout"),
    }))
}

pub(crate) async fn jwks(State(idp): State<Idp>) -> impl IntoResponse {
    *idp.jwks_fetches.lock().expect("lock") += 1;
    let published = idp.published.lock().expect("lock").clone();
    let keys: Vec<Value> = idp
        .keys
        .iter()
        .filter(|k| published.contains(&k.kid))
        .map(|k| k.jwk.clone())
        .chain(other_jwks())
        .collect();
    axum::Json(json!({ "keys": keys }))
}

pub(crate) async fn token(
    State(idp): State<Idp>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let grant = idp
        .grants
        .lock()
        .expect("lock")
        .remove(form.get("code").map(String::as_str).unwrap_or_default());
    let Some(grant) = grant else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = B64.encode(sha2::Sha256::digest(verifier.as_bytes()));
    if challenge != grant.challenge || form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "PKCE or redirect_uri mismatch"})),
        )
            .into_response();
    }
    let plan = idp.plan.lock().expect("lock").clone();
    // Userinfo speaks of the ID token's subject unless the plan says not.
    let token_sub = plan
        .claims
        .iter()
        .find(|(k, _)| k == "sub")
        .map(|(_, v)| v.as_str().unwrap_or_default().to_owned())
        .unwrap_or_else(|| "user-1".into());
    let sub = plan.userinfo_sub.clone().unwrap_or(token_sub);
    *idp.userinfo.lock().expect("lock") = json!({"sub": sub, "preferred_username": "ada"});
    axum::Json(json!({
        "access_token": "access-1", "token_type": "Bearer", "expires_in": 300,
        "id_token": idp.id_token(&grant),
    }))
    .into_response()
}

pub(crate) async fn userinfo(
    State(idp): State<Idp>,
    headers: HeaderMap,
) -> axum::response::Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer access-1") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(idp.userinfo.lock().expect("lock").clone()).into_response()
}

/// An organization with a verified domain and SSO saved and enabled.
pub(crate) struct Setup {
    pub(crate) app: TestApp,
    pub(crate) owner: String,
    pub(crate) idp: Idp,
    pub(crate) org_id: String,
    pub(crate) login_id: String,
}

pub(crate) async fn setup(backend: Backend) -> Setup {
    let app = TestApp::with_args(
        backend,
        ConfigArgs {
            allow_private_idp: Some("true".into()),
            ..Default::default()
        },
    )
    .await;
    let idp = Idp::start().await;
    let (owner, org) = app.org_with_owner("owner@flow.test", "Flow Co").await;
    assert_eq!(org, "flow-co");
    let res = put_sso(&app, &owner, &idp, json!({"client_secret": SECRET})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let sso = res.json();
    let login_url = sso["login_url"].as_str().expect("login url");
    let login_id = login_url.rsplit('/').next().expect("id").to_owned();
    let org_id: String = sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1")
        .bind(&org)
        .fetch_one(&app.state.db)
        .await
        .expect("org id");
    verified_and_enabled(&app, &org_id, "flow.test").await;
    Setup {
        app,
        owner,
        idp,
        org_id,
        login_id,
    }
}

/// `PUT /api/v1/orgs/flow-co/sso` as `cookie`: the test IdP's settings,
/// with `extra`'s fields added or replaced.
pub(crate) async fn put_sso(
    app: &TestApp,
    cookie: &str,
    idp: &Idp,
    extra: Value,
) -> crate::common::TestResponse {
    let mut body =
        json!({"provider_label": "TestIdP", "discovery_url": idp.base, "client_id": CLIENT_ID});
    for (k, v) in extra.as_object().expect("an object") {
        body[k] = v.clone();
    }
    app.api(
        "PUT",
        "/api/v1/orgs/flow-co/sso",
        Auth::Cookie(cookie),
        Some(body),
    )
    .await
}

/// Domain verification and the passed test have their own tests; here the
/// organization simply has a verified `domain` and SSO enabled.
pub(crate) async fn verified_and_enabled(app: &TestApp, org_id: &str, domain: &str) {
    verified_domain(app, org_id, domain).await;
    sqlx::query("UPDATE sso_connections SET enabled = 1 WHERE org_id = $1")
        .bind(org_id)
        .execute(&app.state.db)
        .await
        .expect("enable");
}

/// `domain`, verified for the organization (straight into the database).
pub(crate) async fn verified_domain(app: &TestApp, org_id: &str, domain: &str) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    sqlx::query(
        "INSERT INTO domains (id, org_id, domain, status, token, method, created_at, expires_at, verified_at) \
         VALUES ($3, $1, $4, 'verified', 't', 'manual', $2, $2, $2)",
    )
    .bind(org_id)
    .bind(now)
    .bind(format!("dom_{}", app::ssr::random::lower_alnum(8)))
    .bind(domain)
    .execute(&app.state.db)
    .await
    .expect("verified domain");
}

/// Another organization whose connection uses the same test IdP (one
/// issuer shared by two organizations), with `domain` verified, enabled.
pub(crate) struct OtherOrg {
    pub(crate) id: String,
    pub(crate) slug: String,
    pub(crate) login_id: String,
}

pub(crate) async fn second_org(s: &Setup, name: &str, domain: &str) -> OtherOrg {
    let (owner, slug) = s.app.org_with_owner(&format!("owner@{domain}"), name).await;
    let body = json!({
        "provider_label": "TestIdP", "discovery_url": s.idp.base,
        "client_id": CLIENT_ID, "client_secret": SECRET,
    });
    let res = s
        .app
        .api(
            "PUT",
            &format!("/api/v1/orgs/{slug}/sso"),
            Auth::Cookie(&owner),
            Some(body),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let login_id = res.json()["login_url"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .expect("login url")
        .to_owned();
    let id: String = sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1")
        .bind(&slug)
        .fetch_one(&s.app.state.db)
        .await
        .expect("org id");
    verified_and_enabled(&s.app, &id, domain).await;
    OtherOrg { id, slug, login_id }
}

/// A full sign-in at `org` with `plan`; the callback's answer.
pub(crate) async fn sign_in_at(
    s: &Setup,
    org: &OtherOrg,
    plan: Plan,
) -> crate::common::TestResponse {
    s.idp.plan(plan);
    let started = start(s, &format!("/sso/{}/start", org.login_id)).await;
    finish_at(s, &started, &org.id).await
}

/// Signs in at the IdP for a started flow and comes back to the callback
/// of `org_id` (the flow's own organization, or another to test refusals).
pub(crate) async fn finish_at(
    s: &Setup,
    started: &Started,
    org_id: &str,
) -> crate::common::TestResponse {
    let code = s.idp.authorize(&started.query);
    let query = [
        ("code", code.as_str()),
        ("state", started.query["state"].as_str()),
        ("iss", s.idp.base.as_str()),
    ];
    callback_at(s, org_id, &query, Some(&started.cookie)).await
}

/// The session cookie a response set, as a `Cookie` header value.
pub(crate) fn session_cookie(res: &crate::common::TestResponse) -> Option<String> {
    res.headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("latchkey_session="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// The cookie that binds a flow to the browser that started it.
pub(crate) fn binding_cookie(res: &crate::common::TestResponse) -> Option<String> {
    res.headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("latchkey_sso_"))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

pub(crate) struct Started {
    pub(crate) cookie: String,
    pub(crate) query: HashMap<String, String>,
}

pub(crate) async fn start(s: &Setup, path_and_query: &str) -> Started {
    let res = s.app.get(path_and_query, None).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let location = res.location().expect("to the IdP");
    assert!(
        location.starts_with(&format!("{}/auth?", s.idp.base)),
        "{location}"
    );
    let url = url::Url::parse(location).expect("url");
    assert!(
        session_cookie(&res).is_none(),
        "an anonymous start opens no server session"
    );
    Started {
        cookie: binding_cookie(&res).expect("the flow is bound to the browser"),
        query: url.query_pairs().into_owned().collect(),
    }
}

pub(crate) async fn callback(
    s: &Setup,
    query: &[(&str, &str)],
    cookie: Option<&str>,
) -> crate::common::TestResponse {
    callback_at(s, &s.org_id, query, cookie).await
}

async fn callback_at(
    s: &Setup,
    org_id: &str,
    query: &[(&str, &str)],
    cookie: Option<&str>,
) -> crate::common::TestResponse {
    let qs = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    s.app
        .get(&format!("/sso/{org_id}/oidc/callback?{qs}"), cookie)
        .await
}

/// The refusal page names the refusal's code.
pub(crate) fn assert_code(res: &crate::common::TestResponse, code: &str) {
    assert!(
        res.body.contains(&format!("data-code=\"{code}\"")),
        "expected {code}: {} {}",
        res.status,
        res.body
    );
}

pub(crate) async fn is_signed_in(s: &Setup, cookie: &str) -> bool {
    s.app.get("/api/v1/me", Some(cookie)).await.status == StatusCode::OK
}

pub(crate) async fn users_named(s: &Setup, email: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&s.app.state.db)
        .await
        .expect("count")
}

/// The IdP signs the user in and sends the browser back, as it should.
pub(crate) async fn finish_at_idp(s: &Setup, started: &Started) -> crate::common::TestResponse {
    let code = s.idp.authorize(&started.query);
    callback(
        s,
        &[
            ("code", &code),
            ("state", &started.query["state"]),
            ("iss", &s.idp.base),
        ],
        Some(&started.cookie),
    )
    .await
}

/// A full sign-in with `plan`; returns the callback's answer and cookie.
pub(crate) async fn sign_in_with(s: &Setup, plan: Plan) -> (crate::common::TestResponse, String) {
    s.idp.plan(plan);
    let started = start(s, &format!("/sso/{}/start", s.login_id)).await;
    let res = finish_at_idp(s, &started).await;
    let cookie = session_cookie(&res).unwrap_or(started.cookie);
    (res, cookie)
}

pub(crate) async fn assert_refused(s: &Setup, plan: Plan, code: &str) {
    let (res, cookie) = sign_in_with(s, plan).await;
    assert!(
        res.status.is_client_error(),
        "{code}: expected a refusal, got {} {}",
        res.status,
        res.body
    );
    assert_code(&res, code);
    assert!(!is_signed_in(s, &cookie).await, "{code}: no session");
}

/// `email` joins `flow-co` through an invitation and a password, as it
/// could before the organization turned SSO on (sign-up, invited or not,
/// is refused in its domains while it is on); returns their cookie.
pub(crate) async fn join_before_sso(s: &Setup, email: &str, role: &str) -> String {
    let enabled = |on: i64| {
        sqlx::query("UPDATE sso_connections SET enabled = $2 WHERE org_id = $1")
            .bind(&s.org_id)
            .bind(on)
            .execute(&s.app.state.db)
    };
    enabled(0).await.expect("sso off");
    let cookie = s.app.join(&s.owner, "flow-co", email, role).await;
    enabled(1).await.expect("sso on");
    cookie
}
