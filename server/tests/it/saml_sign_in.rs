//! A SAML connection end to end against SimpleSAMLphp, on both database
//! backends: configured over REST from the IdP's metadata URL, tested,
//! enabled, then used SP-initiated and IdP-initiated, with JIT and a role
//! mapped from the multi-valued groups attribute; and the refusals a
//! browser can meet (another browser's response, a replay, an unverified
//! domain), each with no session and no account.

use crate::common::{Auth, Backend, TestApp};
use crate::on_each_backend;
use crate::saml_real_idp::{SamlIdp, input, sign_in};
use crate::sso_idp::{verified_and_enabled, verified_domain};
use crate::sso_real_idp::{Browser, Page};
use http::StatusCode;
use serde_json::{Value, json};

/// The IdP's page that posts a SAMLResponse, submitted as a browser does.
async fn post_response(browser: &mut Browser, page: &Page, acs: &str) -> Page {
    let mut fields = vec![(
        "SAMLResponse".to_owned(),
        input(page, "SAMLResponse").expect("SAMLResponse"),
    )];
    if let Some(relay) = input(page, "RelayState") {
        fields.push(("RelayState".into(), relay));
    }
    browser.go(acs, Some(fields)).await
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&app.state.db)
        .await
        .expect("count")
}

fn code_of(page: &Page) -> String {
    page.body
        .split("data-code=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no refusal code on {}: {}", page.url, page.body))
        .to_owned()
}

async fn saml_connection_end_to_end(backend: Backend) {
    let idp = SamlIdp::start().await;
    let (app, public) = TestApp::served(backend).await;
    let (owner, org) = app.org_with_owner("owner@example.com", "Acme").await;
    let path = format!("/api/v1/orgs/{org}/sso");
    let before = app
        .api("GET", &path, Auth::Cookie(&owner), None)
        .await
        .json();
    let acs = before["acs_url"].as_str().expect("acs_url").to_owned();
    let entity = before["sp_entity_id"].as_str().expect("entity").to_owned();
    assert!(acs.starts_with(&public) && acs.ends_with("/acs"), "{acs}");
    idp.register_sp(&entity, &acs, "");

    // A metadata URL that serves no metadata is refused, naming the field.
    let bad = app
        .api(
            "PUT",
            &path,
            Auth::Cookie(&owner),
            Some(
                json!({"protocol": "saml", "provider_label": "SimpleSAMLphp",
                "idp_metadata_url": format!("{}/saml2/idp/nothing.php", idp.base)}),
            ),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(bad.json()["error"]["field"], "idp_metadata_url");

    let res = app
        .api(
            "PUT",
            &path,
            Auth::Cookie(&owner),
            Some(json!({
                "protocol": "saml", "provider_label": "SimpleSAMLphp",
                "idp_metadata_url": idp.metadata_url(),
                "default_role": "member",
                "role_mappings": [{"claim": "groups", "operator": "contains", "value": "admins", "role": "admin"}],
            })),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let sso = res.json();
    assert_eq!(sso["protocol"], "saml");
    assert_eq!(sso["issuer"], Value::String(idp.metadata_url()));
    assert_eq!(sso["idp_metadata_url"], Value::String(idp.metadata_url()));
    // IdP-initiated sign-in is off until the admin turns it on.
    assert_eq!(sso["allow_idp_initiated"], false);
    assert_eq!(sso["allow_sha1"], false);
    assert_eq!(sso["attributes"]["email"], "email");
    assert_eq!(
        sso["idp_certificates"][0]["subject"],
        "CN=SimpleSAMLphp test IdP"
    );
    assert_eq!(sso["client_secret_set"], false);
    let org_id = acs.split('/').nth(4).expect("org id").to_owned();

    // One protocol per organization: OIDC fields cannot replace it.
    let switch = app
        .api(
            "PUT",
            &path,
            Auth::Cookie(&owner),
            Some(json!({"protocol": "oidc", "provider_label": "x",
                "discovery_url": "https://idp.example.com", "client_id": "c", "client_secret": "s"})),
        )
        .await;
    assert_eq!(switch.status, StatusCode::CONFLICT, "{}", switch.body);
    assert_eq!(switch.json()["error"]["code"], "protocol_change");

    // Enable waits for a passed test (and a verified domain).
    verified_domain(&app, &org_id, "example.com").await;
    let early = app
        .api(
            "POST",
            &format!("{path}/enable"),
            Auth::Cookie(&owner),
            None,
        )
        .await;
    assert_eq!(early.json()["error"]["code"], "sso_not_tested");
    let test_url = app
        .api("POST", &format!("{path}/test"), Auth::Cookie(&owner), None)
        .await
        .json()["test_url"]
        .as_str()
        .expect("test_url")
        .to_owned();
    let mut tester = Browser::stopping_at(&format!("{public}/o/"));
    let page = tester.go(&test_url, None).await;
    let page = sign_in(&mut tester, page, "ada", "ada-password").await;
    let done = post_response(&mut tester, &page, &acs).await;
    assert_eq!(done.status, StatusCode::FOUND, "{}", done.body);
    let sso = app
        .api("GET", &path, Auth::Cookie(&owner), None)
        .await
        .json();
    let test = &sso["last_test"];
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(test["result"]["email"], "ada@example.com");
    assert_eq!(test["result"]["email_domain_verified"], true);
    assert_eq!(test["result"]["role"], "admin");
    assert_eq!(test["result"]["claims"]["groups"], json!(["eng", "admins"]));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM users WHERE email = $1",
            "ada@example.com"
        )
        .await,
        0,
        "a test creates no account"
    );
    let enabled = app
        .api(
            "POST",
            &format!("{path}/enable"),
            Auth::Cookie(&owner),
            None,
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);

    // SP-initiated from the login URL: JIT, role from groups, a session.
    let start = format!("{}/start", sso["login_url"].as_str().expect("login url"));
    let mut ada = Browser::new();
    let page = ada.go(&start, None).await;
    let page = sign_in(&mut ada, page, "ada", "ada-password").await;
    let response = input(&page, "SAMLResponse").expect("SAMLResponse");
    // The same response from a browser that did not start the sign-in.
    let mut stranger = Browser::new();
    let refused = post_response(&mut stranger, &page, &acs).await;
    assert_eq!(code_of(&refused), "other_browser");
    let landed = post_response(&mut ada, &page, &acs).await;
    assert_eq!(landed.status, StatusCode::OK, "{}", landed.body);
    assert_eq!(landed.url.path(), format!("/o/{org}"));
    let me = ada.go(&format!("{public}/api/v1/me"), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let role: String = sqlx::query_scalar(
        "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1",
    )
    .bind("ada@example.com")
    .fetch_one(&app.state.db)
    .await
    .expect("member");
    assert_eq!(role, "admin");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM sso_identities WHERE issuer = $1",
            &idp.metadata_url()
        )
        .await,
        1
    );
    // Posted again (its request is answered): refused.
    let again = ada
        .go(&acs, Some(vec![("SAMLResponse".into(), response)]))
        .await;
    assert_ne!(again.status, StatusCode::OK);

    // IdP-initiated, with a local RelayState (once the admin allows it);
    // then the same response again.
    let mut portal = Browser::new();
    let refused_first = format!(
        "{}/saml2/idp/SSOService.php?spentityid={}",
        idp.base, entity
    );
    let page = portal.go(&refused_first, None).await;
    let page = sign_in(&mut portal, page, "ada", "ada-password").await;
    let off = post_response(&mut portal, &page, &acs).await;
    assert_eq!(code_of(&off), "saml_unsolicited");
    let on = app
        .api(
            "PUT",
            &path,
            Auth::Cookie(&owner),
            Some(json!({"provider_label": "SimpleSAMLphp", "allow_idp_initiated": true})),
        )
        .await;
    assert_eq!(on.json()["allow_idp_initiated"], true, "{}", on.body);
    let unsolicited = format!(
        "{}/saml2/idp/SSOService.php?spentityid={}&RelayState=%2Fo%2F{org}%2Fmembers",
        idp.base, entity
    );
    let page = portal.go(&unsolicited, None).await;
    let page = sign_in(&mut portal, page, "ada", "ada-password").await;
    let landed = post_response(&mut portal, &page, &acs).await;
    assert_eq!(
        landed.url.path(),
        format!("/o/{org}/members"),
        "{}",
        landed.body
    );
    let mut replayer = Browser::new();
    let replayed = post_response(&mut replayer, &page, &acs).await;
    assert_eq!(code_of(&replayed), "saml_replayed");
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
    let me = replayer.go(&format!("{public}/api/v1/me"), None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);

    // An email outside the verified domains: refused, audited, no account.
    let mut bob = Browser::new();
    let page = bob.go(&start, None).await;
    let page = sign_in(&mut bob, page, "bob", "bob-password").await;
    let refused = post_response(&mut bob, &page, &acs).await;
    assert_eq!(code_of(&refused), "domain_not_verified");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM users WHERE email = $1",
            "bob@other.test"
        )
        .await,
        0
    );
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE org_id = $1 AND action = 'sso.login_failed'",
    )
    .bind(&org_id)
    .fetch_all(&app.state.db)
    .await
    .expect("audit");
    assert_eq!(
        reasons.len(),
        2,
        "the replay and the domain, not the other browser: {reasons:?}"
    );
    for reason in ["\"domain_not_verified\"", "\"saml_replayed\""] {
        assert!(
            reasons.iter().any(|r| r.contains(reason)),
            "{reason} in {reasons:?}"
        );
    }

    // Garbage posted to the ACS: a clear refusal, not a 500.
    let mut outsider = Browser::new();
    let junk = outsider
        .go(&acs, Some(vec![("SAMLResponse".into(), "PHA+".into())]))
        .await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    assert_eq!(code_of(&junk), "saml_malformed");
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE org_id = $1 AND action = 'sso.login_failed'",
    )
    .bind(&org_id)
    .fetch_one(&app.state.db)
    .await
    .expect("audit");
    assert_eq!(audited, 2, "unsigned noise fills no audit log");

    // The OIDC endpoints know nothing of a SAML connection.
    let initiate = outsider
        .go(
            &format!(
                "{public}/sso/{org_id}/oidc/initiate?iss={}",
                idp.metadata_url()
            ),
            None,
        )
        .await;
    assert_eq!(initiate.status, StatusCode::NOT_FOUND);
}

on_each_backend!(saml_connection_end_to_end);

/// Acme and its owner; the SSO object before anything is saved (the SP's
/// addresses to register at the IdP).
async fn acme(app: &TestApp) -> (String, String, Value) {
    let (owner, org) = app.org_with_owner("owner@example.com", "Acme").await;
    let before = app
        .api(
            "GET",
            &format!("/api/v1/orgs/{org}/sso"),
            Auth::Cookie(&owner),
            None,
        )
        .await
        .json();
    (owner, org, before)
}

/// A SAML connection enabled without the console's test (covered above).
async fn enabled_saml_connection(app: &TestApp, owner: &str, org: &str, idp: &SamlIdp) -> Value {
    let path = format!("/api/v1/orgs/{org}/sso");
    let res = app
        .api(
            "PUT",
            &path,
            Auth::Cookie(owner),
            Some(
                json!({"protocol": "saml", "provider_label": "SimpleSAMLphp",
                "idp_metadata_url": idp.metadata_url()}),
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let sso = res.json();
    let org_id = sso["acs_url"]
        .as_str()
        .and_then(|u| u.split('/').nth(4))
        .expect("org id")
        .to_owned();
    verified_and_enabled(app, &org_id, "example.com").await;
    sso
}

async fn saml_single_logout_both_ways(backend: Backend) {
    let idp = SamlIdp::start().await;
    let (app, public) = TestApp::served(backend).await;
    let (owner, org, before) = acme(&app).await;
    let (entity, acs, slo) = (
        before["sp_entity_id"].as_str().expect("entity"),
        before["acs_url"].as_str().expect("acs"),
        before["slo_url"].as_str().expect("slo"),
    );
    let org_id = acs.split('/').nth(4).expect("org id");
    let cert = app::saml::sp::sp_key(&app.state, org_id)
        .await
        .expect("sp key")
        .expect("org")
        .cert_b64();
    // The IdP checks the signatures on our logout messages.
    idp.register_sp(
        entity,
        acs,
        &format!(
            "'SingleLogoutService' => '{slo}', 'certData' => '{cert}', 'validate.logout' => true,"
        ),
    );
    let sso = enabled_saml_connection(&app, &owner, &org, &idp).await;
    let start = format!("{}/start", sso["login_url"].as_str().expect("login url"));
    let me = format!("{public}/api/v1/me");
    let slo_logouts = || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'sso.saml_logout'",
        )
        .fetch_one(&app.state.db)
        .await
        .expect("audit");
        n
    };

    // IdP-initiated: its signed LogoutRequest ends the session here, and
    // our signed answer lets it finish at ReturnTo.
    let mut ada = Browser::stopping_at(&format!("{public}/saml/"));
    let landed = ada_signs_in(&mut ada, &start, acs).await;
    assert_eq!(landed.url.path(), format!("/o/{org}"), "{}", landed.body);
    assert_eq!(ada.go(&me, None).await.status, StatusCode::OK);
    let page = ada
        .go(
            &format!(
                "{0}/saml2/idp/SingleLogoutService.php?ReturnTo={0}/module.php/core/welcome",
                idp.base
            ),
            None,
        )
        .await;
    assert!(
        page.url.as_str().starts_with(slo),
        "{} {}",
        page.url,
        page.body
    );
    let logout_request = page.url.to_string();
    let done = ada.go(&logout_request, None).await;
    assert!(
        done.url.as_str().ends_with("/module.php/core/welcome"),
        "the IdP took our answer: {}",
        done.url
    );
    assert_eq!(ada.go(&me, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(slo_logouts().await, 1);
    // The same LogoutRequest again: refused, nothing more ended.
    let replayed = Browser::new().go(&logout_request, None).await;
    assert_eq!(code_of(&replayed), "saml_replayed");
    assert_eq!(slo_logouts().await, 1);

    // SP-initiated: the console offers it; signing out "and at the IdP"
    // ends the session here, then at the IdP, whose signed answer lands
    // the browser on the sign-in page.
    let mut ada = Browser::new();
    ada_signs_in(&mut ada, &start, acs).await;
    let console = ada.go(&format!("{public}/o/{org}"), None).await;
    assert!(console.body.contains("SimpleSAMLphp"), "{}", console.body);
    let out = ada
        .go(
            &format!("{public}/api/sign_out"),
            Some(vec![("idp".into(), "1".into())]),
        )
        .await;
    assert_eq!(out.url.path(), "/login", "{} {}", out.url, out.body);
    assert_eq!(out.url.query(), Some("signed_out=1"));
    assert_eq!(ada.go(&me, None).await.status, StatusCode::UNAUTHORIZED);
    let answered: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM saml_requests WHERE purpose = 'logout'")
            .fetch_one(&app.state.db)
            .await
            .expect("requests");
    assert_eq!(answered, 0, "the IdP's answer took our LogoutRequest");
}

/// Ada's SP-initiated sign-in, posted to the ACS.
async fn ada_signs_in(browser: &mut Browser, start: &str, acs: &str) -> Page {
    let page = browser.go(start, None).await;
    let page = sign_in(browser, page, "ada", "ada-password").await;
    post_response(browser, &page, acs).await
}

on_each_backend!(saml_single_logout_both_ways);

/// The daily refresh follows a certificate rotation at the IdP, as a
/// change that waits for a test and an owner's approval (whoever answers
/// at the metadata URL does not choose the keys alone), and keeps out
/// metadata that names another IdP.
async fn saml_metadata_refresh_follows_rotation(backend: Backend) {
    let idp = SamlIdp::start().await;
    let (app, public) = TestApp::served(backend).await;
    let (owner, org) = app.org_with_owner("owner@example.com", "Acme").await;
    let sso = enabled_saml_connection(&app, &owner, &org, &idp).await;
    let acs = sso["acs_url"].as_str().expect("acs").to_owned();
    idp.register_sp(sso["sp_entity_id"].as_str().expect("entity"), &acs, "");
    let path = format!("/api/v1/orgs/{org}/sso");
    let before = sso["idp_certificates"][0]["sha256_fingerprint"].clone();
    let age = |secs: i64| {
        sqlx::query("UPDATE sso_connections SET saml_metadata_fetched_at = $1")
            .bind(time::OffsetDateTime::now_utc().unix_timestamp() - secs)
            .execute(&app.state.db)
    };
    // Fresh metadata is left alone.
    let r = app::saml::refresh::refresh_due(&app.state)
        .await
        .expect("refresh");
    assert_eq!(r, app::saml::refresh::Refreshed::default());

    // The IdP rotates its signing key; a day later Latchkey has the new one.
    let rotated = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/CN=SimpleSAMLphp rotated"])
        .arg("-keyout")
        .arg(idp.dir.join("cert/idp.key"))
        .arg("-out")
        .arg(idp.dir.join("cert/idp.pem"))
        .status()
        .expect("openssl");
    assert!(rotated.success());
    age(2 * 3600).await.expect("age");
    let r = app::saml::refresh::refresh_due(&app.state)
        .await
        .expect("refresh");
    assert_eq!(r.updated, 0, "not yet a day old");
    age(25 * 3600).await.expect("age");
    let r = app::saml::refresh::refresh_due(&app.state)
        .await
        .expect("refresh");
    assert_eq!((r.updated, r.staged, r.refused, r.failed), (0, 1, 0, 0));
    let staged = app
        .api("GET", &path, Auth::Cookie(&owner), None)
        .await
        .json();
    assert_eq!(
        staged["idp_certificates"][0]["sha256_fingerprint"], before,
        "{staged}"
    );
    let pending = &staged["pending_change"];
    assert_eq!(pending["waits_for_approval"], true, "{staged}");
    assert_eq!(pending["saved_by"], "metadata refresh");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = $1",
            "sso.metadata_refresh_staged"
        )
        .await,
        1
    );
    // Staged once: the next day's same document stages nothing new.
    age(25 * 3600).await.expect("age");
    let r = app::saml::refresh::refresh_due(&app.state)
        .await
        .expect("refresh");
    assert_eq!((r.updated, r.staged), (0, 1));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = $1",
            "sso.metadata_refresh_staged"
        )
        .await,
        1
    );
    // Approval waits for a passed test of the new keys.
    let approve = format!("{path}/approve");
    let early = app
        .api("POST", &approve, Auth::Cookie(&owner), Some(json!({})))
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    assert_eq!(early.json()["error"]["code"], "change_not_tested");
    let test_url = app
        .api("POST", &format!("{path}/test"), Auth::Cookie(&owner), None)
        .await
        .json()["test_url"]
        .as_str()
        .expect("test_url")
        .to_owned();
    let mut tester = Browser::stopping_at(&format!("{public}/o/"));
    let page = tester.go(&test_url, None).await;
    let page = sign_in(&mut tester, page, "ada", "ada-password").await;
    let done = post_response(&mut tester, &page, &acs).await;
    assert_eq!(done.status, StatusCode::FOUND, "{}", done.body);
    let tested = app
        .api("GET", &path, Auth::Cookie(&owner), None)
        .await
        .json();
    assert!(tested["pending_change"]["tested_at"].is_i64(), "{tested}");
    assert_eq!(tested["idp_certificates"][0]["sha256_fingerprint"], before);
    let approved = app
        .api("POST", &approve, Auth::Cookie(&owner), Some(json!({})))
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    let after = approved.json();
    assert_eq!(
        after["idp_certificates"][0]["subject"],
        "CN=SimpleSAMLphp rotated"
    );
    assert_ne!(after["idp_certificates"][0]["sha256_fingerprint"], before);
    assert_eq!(after["pending_change"], Value::Null);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = $1",
            "sso.change_approved"
        )
        .await,
        1
    );

    // Metadata at that URL that now names another IdP is kept out.
    sqlx::query("UPDATE sso_connections SET issuer = 'https://idp.before.test'")
        .execute(&app.state.db)
        .await
        .expect("issuer");
    age(25 * 3600).await.expect("age");
    let r = app::saml::refresh::refresh_due(&app.state)
        .await
        .expect("refresh");
    assert_eq!((r.updated, r.refused), (0, 1));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = $1",
            "sso.metadata_refresh_refused"
        )
        .await,
        1
    );
}

on_each_backend!(saml_metadata_refresh_follows_rotation);

/// With the IdP encrypting assertions to the organization's SP
/// certificate (from its SP metadata), sign-in works through the ACS.
async fn saml_encrypted_assertions_sign_in(backend: Backend) {
    let idp = SamlIdp::start().await;
    let (app, public) = TestApp::served(backend).await;
    let (owner, org, before) = acme(&app).await;
    let (entity, acs) = (
        before["sp_entity_id"].as_str().expect("entity"),
        before["acs_url"].as_str().expect("acs"),
    );
    let metadata = reqwest::get(before["sp_metadata_url"].as_str().expect("metadata url"))
        .await
        .expect("SP metadata")
        .text()
        .await
        .expect("body");
    let cert = metadata
        .split("X509Certificate>")
        .nth(1)
        .and_then(|c| c.split("</").next())
        .expect("the SP certificate in the SP metadata")
        .split_whitespace()
        .collect::<String>();
    idp.register_sp(
        entity,
        acs,
        &format!("'assertion.encryption' => true, 'certData' => '{cert}',"),
    );
    let sso = enabled_saml_connection(&app, &owner, &org, &idp).await;
    let start = format!("{}/start", sso["login_url"].as_str().expect("login url"));
    // SimpleSAMLphp 1.19 encrypts with AES-128-CBC: refused until the
    // admin allows it.
    let mut early = Browser::new();
    let page = early.go(&start, None).await;
    let page = sign_in(&mut early, page, "ada", "ada-password").await;
    let refused = post_response(&mut early, &page, acs).await;
    assert_eq!(code_of(&refused), "saml_encryption_algorithm");
    let allowed = app
        .api(
            "PUT",
            &format!("/api/v1/orgs/{org}/sso"),
            Auth::Cookie(&owner),
            Some(json!({"provider_label": "SimpleSAMLphp", "allow_aes_cbc": true})),
        )
        .await;
    assert_eq!(allowed.json()["allow_aes_cbc"], true, "{}", allowed.body);
    let mut ada = Browser::new();
    let page = ada.go(&start, None).await;
    let page = sign_in(&mut ada, page, "ada", "ada-password").await;
    let raw = data_encoding::BASE64
        .decode(input(&page, "SAMLResponse").expect("response").as_bytes())
        .expect("base64");
    assert!(String::from_utf8_lossy(&raw).contains("EncryptedAssertion"));
    let landed = post_response(&mut ada, &page, acs).await;
    assert_eq!(landed.url.path(), format!("/o/{org}"), "{}", landed.body);
    let me = ada.go(&format!("{public}/api/v1/me"), None).await;
    assert!(me.body.contains("ada@example.com"), "{}", me.body);

    // The SP key is rotated; the IdP still encrypts to the old certificate,
    // which the previous key opens. A second rotation retires it.
    let rotate = format!("/api/v1/orgs/{org}/sso/saml/sp-key/rotate");
    let before = sso["sp_certificate"]["sha256_fingerprint"].clone();
    let rotated = app.api("POST", &rotate, Auth::Cookie(&owner), None).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let rotated = rotated.json();
    assert_ne!(rotated["sp_certificate"]["sha256_fingerprint"], before);
    assert!(!before.is_null());
    let new_metadata = reqwest::get(rotated["sp_metadata_url"].as_str().expect("url"))
        .await
        .expect("SP metadata")
        .text()
        .await
        .expect("body");
    assert!(
        !new_metadata.contains(&cert[..40]),
        "the new certificate is published"
    );
    let signs_in = |browser: Browser| {
        let (start, acs) = (start.clone(), acs.to_owned());
        async move {
            let mut browser = browser;
            let page = browser.go(&start, None).await;
            let page = sign_in(&mut browser, page, "ada", "ada-password").await;
            post_response(&mut browser, &page, &acs).await
        }
    };
    let landed = signs_in(Browser::new()).await;
    assert_eq!(landed.url.path(), format!("/o/{org}"), "{}", landed.body);
    app.api("POST", &rotate, Auth::Cookie(&owner), None).await;
    let refused = signs_in(Browser::new()).await;
    assert_eq!(code_of(&refused), "saml_encrypted");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE action = $1",
            "sso.sp_key_rotated"
        )
        .await,
        2
    );
}

on_each_backend!(saml_encrypted_assertions_sign_in);
