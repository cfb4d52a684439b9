//! Every refusal of a SAML response, at the ACS, as a fault IdP (Rust,
//! signing with xmlsec through samael) sends it: each is a page with its
//! code, and leaves no session and no account. The last response, well
//! formed, signs in: the set-up is sound, so the refusals are real.

use crate::common::{Auth, Backend, TestApp, TestResponse};
use crate::on_each_backend;
use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::json;

#[allow(dead_code)]
#[path = "../../../app/src/saml/test_idp.rs"]
mod test_idp;
use test_idp::{Shape, TestIdp, b64, strip_declaration};

struct Setup {
    app: TestApp,
    idp: TestIdp,
    acs: String,
    entity: String,
    org: String,
    owner: String,
    login_id: String,
}

async fn setup(backend: Backend) -> Setup {
    setup_on(TestApp::new(backend).await).await
}

async fn setup_on(app: TestApp) -> Setup {
    let idp = TestIdp::new("https://idp.fault.test");
    let (owner, org) = app.org_with_owner("owner@example.com", "Acme").await;
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/orgs/{org}/sso"),
            Auth::Cookie(&owner),
            Some(json!({"protocol": "saml", "provider_label": "Fault IdP",
                "idp_metadata_xml": idp.metadata()})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let sso = res.json();
    let acs = sso["acs_url"].as_str().expect("acs").to_owned();
    let org_id = acs.split('/').nth(4).expect("org id").to_owned();
    crate::sso_idp::verified_and_enabled(&app, &org_id, "example.com").await;
    let login_id = sso["login_url"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .expect("login id")
        .to_owned();
    Setup {
        entity: sso["sp_entity_id"].as_str().expect("entity").to_owned(),
        acs,
        app,
        idp,
        org,
        owner,
        login_id,
    }
}

impl Setup {
    /// An SP-initiated start: the request ID and the browser's binding cookie.
    async fn start(&self) -> (String, String) {
        self.start_at(&format!("/sso/{}/start", self.login_id))
            .await
    }

    /// The same from `path` (the login URL's start, or a test link).
    async fn start_at(&self, path: &str) -> (String, String) {
        let res = self.app.get(path, None).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let cookie = res
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("latchkey_saml_"))
            .expect("binding cookie")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let id = request_id_of(res.location().expect("to the IdP"));
        (id, cookie)
    }

    /// A response shaped for this SP, answering `request` (or unsolicited).
    fn shape(&self, request: Option<&str>) -> Shape {
        Shape {
            in_response_to: request.map(str::to_owned),
            destination: self.acs.clone(),
            audience: self.entity.clone(),
            ..Shape::default()
        }
    }

    async fn post(&self, saml_response: &str, cookie: Option<&str>) -> TestResponse {
        let path = url::Url::parse(&self.acs).expect("acs").path().to_owned();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("SAMLResponse", saml_response)
            .finish();
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.app
            .send(req.body(Body::from(body)).expect("request"))
            .await
    }

    async fn accounts(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email <> 'owner@example.com'")
            .fetch_one(&self.app.state.db)
            .await
            .expect("count")
    }

    /// Posts and expects refusal `code`: no session, no account.
    async fn refused(&self, what: &str, saml_response: &str, cookie: Option<&str>, code: &str) {
        let res = self.post(saml_response, cookie).await;
        assert!(
            res.body.contains(&format!("data-code=\"{code}\"")),
            "{what}: expected {code}, got {} {}",
            res.status,
            res.body
        );
        assert!(res.status.is_client_error(), "{what}: {}", res.status);
        assert_eq!(res.session_set_cookie(), None, "{what}: a session");
        assert_eq!(self.accounts().await, 0, "{what}: an account");
    }
}

/// The ID of the AuthnRequest a start redirects with (HTTP-Redirect
/// binding: deflated, base64, in `SAMLRequest`).
pub(crate) fn request_id_of(location: &str) -> String {
    use base64::Engine as _;
    use std::io::Read as _;
    let url = url::Url::parse(location).expect("redirect URL");
    let (_, request) = url
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .expect("SAMLRequest");
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(request.as_bytes())
        .expect("base64");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .read_to_string(&mut xml)
        .expect("deflated XML");
    let doc = roxmltree::Document::parse(&xml).expect("AuthnRequest");
    doc.root_element().attribute("ID").expect("ID").to_owned()
}

fn altered(xml: &str) -> String {
    b64(&xml.replacen(
        ">ada@example.com</saml:NameID>",
        ">eve@example.com</saml:NameID>",
        1,
    ))
}

async fn every_refusal_leaves_no_session_and_no_account(backend: Backend) {
    let s = setup(backend).await;
    let (id, cookie) = s.start().await;
    let ok = s.shape(Some(&id));
    let sp = |f: fn(&mut Shape)| {
        let mut shape = s.shape(Some(&id));
        f(&mut shape);
        shape
    };

    s.refused(
        "unsigned",
        &s.idp.response(&sp(|x| {
            x.sign_response = false;
            x.sign_assertion = false;
        })),
        Some(&cookie),
        "saml_signature",
    )
    .await;
    let stranger = TestIdp::new("https://idp.fault.test");
    s.refused(
        "signed by another key",
        &stranger.response(&ok),
        Some(&cookie),
        "saml_signature",
    )
    .await;
    s.refused(
        "altered after signing",
        &altered(&s.idp.response_xml(&ok)),
        Some(&cookie),
        "saml_signature",
    )
    .await;
    // XSW: the signed assertion beside an unsigned one naming someone else.
    let signed = s.idp.assertion(&ok, "_a1");
    let evil = strip_declaration(&s.idp.assertion(
        &Shape {
            name_id: "eve@example.com".into(),
            sign_assertion: false,
            ..s.shape(Some(&id))
        },
        "_evil",
    ));
    s.refused(
        "signature wrapping",
        &b64(&s.idp.wrap(&ok, &format!("{evil}{signed}"))),
        Some(&cookie),
        "saml_wrapping",
    )
    .await;
    s.refused(
        "a comment inside the NameID",
        &s.idp.response(&Shape {
            name_id: "ada@example.com<!---->.evil.test".into(),
            ..s.shape(Some(&id))
        }),
        Some(&cookie),
        "saml_comment",
    )
    .await;
    let xml = s.idp.response_xml(&ok);
    let with_dtd = format!(
        "<!DOCTYPE r [<!ENTITY x \"ada@example.com\">]>{}",
        strip_declaration(&xml)
    );
    s.refused("a DTD", &b64(&with_dtd), Some(&cookie), "saml_dtd")
        .await;
    s.refused(
        "SHA-1",
        &s.idp.response(&sp(|x| x.sha1 = true)),
        Some(&cookie),
        "saml_sha1",
    )
    .await;
    s.refused(
        "another Destination",
        &s.idp
            .response(&sp(|x| x.destination = "https://elsewhere.test/acs".into())),
        Some(&cookie),
        "saml_destination",
    )
    .await;
    s.refused(
        "another Audience",
        &s.idp
            .response(&sp(|x| x.audience = "https://elsewhere.test/sp".into())),
        Some(&cookie),
        "saml_audience",
    )
    .await;
    s.refused(
        "another Issuer",
        &s.idp
            .response(&sp(|x| x.issuer = Some("https://idp.other.test".into()))),
        Some(&cookie),
        "saml_issuer",
    )
    .await;
    s.refused(
        "expired",
        &s.idp.response(&sp(|x| {
            x.not_before = -600;
            x.not_on_or_after = -120;
        })),
        Some(&cookie),
        "saml_expired",
    )
    .await;
    s.refused(
        "not yet valid",
        &s.idp.response(&sp(|x| x.not_before = 180)),
        Some(&cookie),
        "saml_not_yet_valid",
    )
    .await;
    s.refused(
        "a failure status",
        &s.idp.response(&sp(|x| {
            x.status = "urn:oasis:names:tc:SAML:2.0:status:Requester".into();
        })),
        Some(&cookie),
        "saml_status",
    )
    .await;
    s.refused(
        "an encrypted assertion the SP key cannot open",
        &b64(&s.idp.wrap(
            &ok,
            "<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>",
        )),
        Some(&cookie),
        "saml_encrypted",
    )
    .await;
    // An answer to a request this browser did not start.
    s.refused(
        "another browser's request",
        &s.idp.response(&ok),
        None,
        "other_browser",
    )
    .await;
    // An InResponseTo Latchkey never sent, with a cookie built to match:
    // the request ID is in every response, so the cookie's value is sealed
    // and one built from the ID binds nothing.
    let forged = format!(
        "latchkey_saml_{}=login._lkforged",
        &app::ssr::crypto::sha256_hex("_lkforged")[..12]
    );
    s.refused(
        "an unknown InResponseTo",
        &s.idp.response(&s.shape(Some("_lkforged"))),
        Some(&forged),
        "other_browser",
    )
    .await;
    // The same for a request this browser did start: a cookie rebuilt
    // from its ID (as the old cookies were) is not this browser's.
    let rebuilt = format!(
        "latchkey_saml_{}=login.{id}",
        &app::ssr::crypto::sha256_hex(&id)[..12]
    );
    s.refused(
        "a binding rebuilt from InResponseTo",
        &s.idp.response(&ok),
        Some(&rebuilt),
        "other_browser",
    )
    .await;
    // A sealed binding of another request does not bind this one.
    let (_, other_cookie) = s.start().await;
    let other_value = other_cookie.split_once('=').expect("cookie").1;
    let moved = format!(
        "latchkey_saml_{}={other_value}",
        &app::ssr::crypto::sha256_hex(&id)[..12]
    );
    s.refused(
        "another request's binding",
        &s.idp.response(&ok),
        Some(&moved),
        "other_browser",
    )
    .await;

    // A cookie forged to claim a test: refused, and nothing is recorded as
    // the connection's test result.
    let forged_test = format!(
        "latchkey_saml_{}=test._lktest",
        &app::ssr::crypto::sha256_hex("_lktest")[..12]
    );
    let garbage = s.idp.response(&Shape {
        sign_response: false,
        sign_assertion: false,
        ..s.shape(Some("_lktest"))
    });
    s.refused(
        "a forged test",
        &garbage,
        Some(&forged_test),
        "other_browser",
    )
    .await;
    let sso = s
        .app
        .api(
            "GET",
            &format!("/api/v1/orgs/{}/sso", s.org),
            Auth::Cookie(&s.owner),
            None,
        )
        .await
        .json();
    assert_eq!(sso["last_test"], serde_json::Value::Null, "{sso}");

    // IdP-initiated: refused when the connection does not allow it...
    let unsolicited = s.idp.response(&s.shape(None));
    let off = s
        .app
        .api(
            "PUT",
            &format!("/api/v1/orgs/{}/sso", s.org),
            Auth::Cookie(&s.owner),
            Some(json!({"provider_label": "Fault IdP", "allow_idp_initiated": false})),
        )
        .await;
    assert_eq!(off.json()["allow_idp_initiated"], false, "{}", off.body);
    s.refused(
        "unsolicited, not allowed",
        &unsolicited,
        None,
        "saml_unsolicited",
    )
    .await;

    // The well-formed answer to the request signs in (so the set-up is
    // sound), once: the same response again is refused.
    let good = s.idp.response(&ok);
    let signed_in = s.post(&good, Some(&cookie)).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert!(signed_in.session_set_cookie().is_some());
    assert_eq!(s.accounts().await, 1);
    let again = s.post(&good, Some(&cookie)).await;
    assert!(
        again.body.contains("data-code=\"expired\""),
        "{}",
        again.body
    );
    assert_eq!(again.session_set_cookie(), None);

    // ...and with it allowed, an unsolicited response works once.
    s.app
        .api(
            "PUT",
            &format!("/api/v1/orgs/{}/sso", s.org),
            Auth::Cookie(&s.owner),
            Some(json!({"provider_label": "Fault IdP", "allow_idp_initiated": true})),
        )
        .await;
    // (A new assertion ID: the fault IdP names every other one `_a1`.)
    let unsolicited_shape = s.shape(None);
    let fresh = b64(&s.idp.wrap(
        &unsolicited_shape,
        &s.idp.assertion(&unsolicited_shape, "_a2"),
    ));
    let first = s.post(&fresh, None).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let replay = s.post(&fresh, None).await;
    assert!(
        replay.body.contains("data-code=\"saml_replayed\""),
        "{}",
        replay.body
    );
    assert_eq!(replay.session_set_cookie(), None);
}

on_each_backend!(every_refusal_leaves_no_session_and_no_account);

/// A change of IdP made while a tested one serves waits for its own test:
/// sign-ins keep using the tested IdP until a test of the new one passes,
/// which puts it into effect.
async fn a_new_idp_waits_for_its_test(backend: Backend) {
    let s = setup(backend).await;
    let path = format!("/api/v1/orgs/{}/sso", s.org);
    // The console's attribute preset: Entra ID's names, metadata kept.
    let res = s
        .app
        .server_fn(
            "save_sso",
            &[
                ("org", s.org.as_str()),
                ("form[protocol]", "saml"),
                ("form[provider_label]", "Fault IdP"),
                ("form[attribute_preset]", "entra"),
                ("form[allow_idp_initiated]", "on"),
            ],
            Some(&s.owner),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let sso = s
        .app
        .api("GET", &path, Auth::Cookie(&s.owner), None)
        .await
        .json();
    assert_eq!(
        sso["attributes"]["email"],
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
    );
    assert_eq!(sso["issuer"], "https://idp.fault.test");
    sqlx::query("UPDATE sso_connections SET last_test_ok = 1, last_test_at = 1")
        .execute(&s.app.state.db)
        .await
        .expect("tested");
    let next = TestIdp::new("https://idp.next.test");
    let staged = s
        .app
        .api(
            "PUT",
            &path,
            Auth::Cookie(&s.owner),
            Some(json!({"provider_label": "Fault IdP", "idp_metadata_xml": next.metadata()})),
        )
        .await
        .json();
    assert_eq!(staged["issuer"], "https://idp.fault.test", "{staged}");
    assert_eq!(staged["pending_change"]["issuer"], "https://idp.next.test");

    // Meanwhile the tested IdP signs people in, and the new one cannot.
    let (id, cookie) = s.start().await;
    let refused = s
        .post(&next.response(&s.shape(Some(&id))), Some(&cookie))
        .await;
    assert!(
        refused.body.contains("data-code=\"saml_"),
        "{}",
        refused.body
    );
    let current = s
        .post(&s.idp.response(&s.shape(Some(&id))), Some(&cookie))
        .await;
    assert_eq!(current.status, StatusCode::SEE_OTHER, "{}", current.body);

    // The test runs against the new IdP; its pass puts it into effect.
    let test_url = s
        .app
        .api(
            "POST",
            &format!("{path}/test"),
            Auth::Cookie(&s.owner),
            None,
        )
        .await
        .json()["test_url"]
        .as_str()
        .expect("test_url")
        .to_owned();
    let test_path = url::Url::parse(&test_url).expect("url").path().to_owned();
    assert!(test_path.starts_with("/saml/"), "{test_path}");
    let (test_id, test_cookie) = s.start_at(&test_path).await;
    assert!(test_cookie.starts_with("latchkey_saml_"), "{test_cookie}");
    let shape = s.shape(Some(&test_id));
    let tested = s
        .post(
            &b64(&next.wrap(&shape, &next.assertion(&shape, "_t1"))),
            Some(&test_cookie),
        )
        .await;
    assert_eq!(tested.status, StatusCode::SEE_OTHER, "{}", tested.body);
    assert_eq!(tested.session_set_cookie(), None, "a test signs nobody in");
    let after = s
        .app
        .api("GET", &path, Auth::Cookie(&s.owner), None)
        .await
        .json();
    assert_eq!(after["issuer"], "https://idp.next.test", "{after}");
    assert_eq!(after["pending_change"], serde_json::Value::Null);
    assert_eq!(after["last_test"]["ok"], true);

    // Now the new IdP signs in and the old one is refused. Ada's account
    // belongs to the old IdP: the new one does not take it over by email
    // until an owner or admin chooses to carry accounts over (audited).
    let (id, cookie) = s.start().await;
    let old = s
        .post(&s.idp.response(&s.shape(Some(&id))), Some(&cookie))
        .await;
    assert!(old.body.contains("data-code=\"saml_"), "{}", old.body);
    let shape = s.shape(Some(&id));
    let new = s
        .post(
            &b64(&next.wrap(&shape, &next.assertion(&shape, "_n1"))),
            Some(&cookie),
        )
        .await;
    assert!(
        new.body.contains("data-code=\"account_of_another_idp\""),
        "{}",
        new.body
    );
    let carry = s
        .app
        .api(
            "PUT",
            &path,
            Auth::Cookie(&s.owner),
            Some(json!({"provider_label": "Fault IdP", "carry_over_accounts": true})),
        )
        .await;
    assert_eq!(carry.json()["carry_over_accounts"], true, "{}", carry.body);
    let (id, cookie) = s.start().await;
    let shape = s.shape(Some(&id));
    let new = s
        .post(
            &b64(&next.wrap(&shape, &next.assertion(&shape, "_n2"))),
            Some(&cookie),
        )
        .await;
    assert_eq!(new.status, StatusCode::SEE_OTHER, "{}", new.body);
    let carried: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'sso.account_carried_over'",
    )
    .fetch_one(&s.app.state.db)
    .await
    .expect("audit");
    assert_eq!(carried, 1);
}

on_each_backend!(a_new_idp_waits_for_its_test);

/// The set-up checklist reads each step's state from the database, on the
/// overview and the SSO page, and points at the step to do next.
async fn the_checklist_follows_the_database(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, org) = app.org_with_owner("owner@example.com", "Fresh").await;
    let fresh = app
        .server_fn("sso_checklist", &[("org", org.as_str())], Some(&owner))
        .await
        .json();
    assert_eq!(fresh["domain_verified"], false, "{fresh}");
    assert_eq!(fresh["protocol"], serde_json::Value::Null);
    let page = app.get(&format!("/o/{org}"), Some(&owner)).await;
    assert!(page.body.contains("0 of 4 steps done"), "{}", page.body);
    assert!(
        page.body.contains(r#"data-step="1" data-state="next""#),
        "{}",
        page.body
    );

    let s = setup(backend).await;
    let saved = checklist(&s).await;
    assert_eq!(
        (
            &saved["domain_verified"],
            &saved["protocol"],
            &saved["test_passed_at"],
            &saved["enabled"]
        ),
        (
            &json!(true),
            &json!("saml"),
            &serde_json::Value::Null,
            &json!(true)
        ),
        "{saved}"
    );
    sqlx::query("UPDATE sso_connections SET last_test_ok = 1, last_test_at = 1700000000")
        .execute(&s.app.state.db)
        .await
        .expect("tested");
    assert_eq!(checklist(&s).await["test_passed_at"], 1_700_000_000);
    let page = s
        .app
        .get(
            &format!("/o/{}/settings/security/sso", s.org),
            Some(&s.owner),
        )
        .await;
    assert!(page.body.contains("4 of 4 steps done"), "{}", page.body);
    assert!(page.body.contains(r#"data-step="5" data-state="todo""#));
}

async fn checklist(s: &Setup) -> serde_json::Value {
    s.app
        .server_fn("sso_checklist", &[("org", s.org.as_str())], Some(&s.owner))
        .await
        .json()
}

on_each_backend!(the_checklist_follows_the_database);

/// OIDC back-channel logout knows nothing of a SAML connection: a logout
/// token posted for a SAML organization is refused before anything is
/// fetched (the IdP's entity ID is no OIDC issuer to ask for keys).
async fn oidc_logout_tokens_are_refused_for_saml_connections(backend: Backend) {
    let s = setup(backend).await;
    let org_id = s.acs.split('/').nth(4).expect("org id").to_owned();
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5mYXVsdC50ZXN0In0.c2ln";
    let req = Request::post(format!("/sso/{org_id}/oidc/backchannel-logout"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("logout_token={token}")))
        .expect("request");
    let res = s.app.send(req).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(
        res.json()["error"]["code"],
        "unknown_connection",
        "{}",
        res.body
    );
}

on_each_backend!(oidc_logout_tokens_are_refused_for_saml_connections);

/// Signature shapes that would make xmlsec fetch or read what they name
/// (it dereferences and transforms references before it checks any key)
/// are refused at the ACS before xmlsec sees them: nothing reaches the
/// listener they point at, and every post is answered (a reference to
/// `/dev/zero` would otherwise hold a blocking thread forever). Posts
/// that keep failing before their signature verified are then refused per
/// address, without being parsed.
async fn references_are_refused_without_being_fetched(backend: Backend) {
    let (app, public) = TestApp::served(backend).await;
    let s = setup_on(app).await;
    let counter = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = counter.local_addr().expect("addr").port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while counter.accept().await.is_ok() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let (id, cookie) = s.start().await;
    let xml = s.idp.response_xml(&s.shape(Some(&id)));
    let target = format!("http://127.0.0.1:{port}/x");
    let shapes = [
        ("an external reference", xml.replacen(r##"URI="#_r1""##, &format!(r#"URI="{target}""#), 1)),
        ("a file reference", xml.replacen(r##"URI="#_r1""##, r#"URI="file:///dev/zero""#, 1)),
        (
            "a manifest",
            xml.replacen(
                "</ds:SignatureValue>",
                &format!(r#"</ds:SignatureValue><ds:Object><ds:Manifest><ds:Reference URI="{target}"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:Manifest></ds:Object>"#),
                1,
            ),
        ),
        (
            "a retrieved key",
            xml.replacen(
                "</ds:SignatureValue>",
                &format!(r#"</ds:SignatureValue><ds:KeyInfo><ds:RetrievalMethod URI="{target}"/></ds:KeyInfo>"#),
                1,
            ),
        ),
        (
            "an XSLT transform",
            xml.replacen(
                r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
                &format!(r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/"><xsl:copy-of select="document('{target}')"/></xsl:template></xsl:stylesheet></ds:Transform>"#),
                1,
            ),
        ),
    ];
    let acs = format!(
        "{public}/saml/{}/acs",
        s.acs.split('/').nth(4).expect("org id")
    );
    let client = reqwest::Client::new();
    let post = |body: String, cookie: Option<String>| {
        let mut req = client
            .post(&acs)
            .timeout(std::time::Duration::from_secs(30))
            .form(&[("SAMLResponse", body)]);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    for (what, doc) in shapes {
        let res = post(b64(&doc), Some(cookie.clone()))
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer ({e})"));
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{what}");
        let body = res.text().await.expect("body");
        assert!(
            body.contains("data-code=\"saml_signature_shape\""),
            "{what}: {body}"
        );
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{what}: the server fetched what the reference named"
        );
    }
    assert_eq!(s.accounts().await, 0);
    // Five refusals so far; fifteen more garbage posts reach the limit of
    // twenty a minute, after which even a well-formed response from this
    // address is refused unread.
    for i in 0..15 {
        let res = post(b64("<nope/>"), None).await.expect("answer");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "garbage {i}");
    }
    let res = post(s.idp.response(&s.shape(Some(&id))), Some(cookie.clone()))
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("data-code=\"too_many_failures\""),
    );
    assert_eq!(s.accounts().await, 0);
}

on_each_backend!(references_are_refused_without_being_fetched);

/// An unsolicited response posted (by any page's auto-submitting form) to a
/// browser that is signed in as someone else does not replace its session
/// without asking; and IdP-initiated sign-in is off until allowed.
async fn an_unsolicited_response_asks_a_signed_in_browser_first(backend: Backend) {
    let s = setup(backend).await;
    let sso = s
        .app
        .api(
            "GET",
            &format!("/api/v1/orgs/{}/sso", s.org),
            Auth::Cookie(&s.owner),
            None,
        )
        .await
        .json();
    assert_eq!(
        sso["allow_idp_initiated"], false,
        "off for a new connection"
    );
    let unsolicited = s.shape(None);
    s.refused(
        "IdP-initiated by default",
        &b64(&s
            .idp
            .wrap(&unsolicited, &s.idp.assertion(&unsolicited, "_u0"))),
        None,
        "saml_unsolicited",
    )
    .await;
    s.app
        .api(
            "PUT",
            &format!("/api/v1/orgs/{}/sso", s.org),
            Auth::Cookie(&s.owner),
            Some(json!({"provider_label": "Fault IdP", "allow_idp_initiated": true})),
        )
        .await;
    let (victim, _) = s
        .app
        .org_with_owner("victim@elsewhere.test", "Victim Co")
        .await;
    let res = s
        .post(
            &b64(&s
                .idp
                .wrap(&unsolicited, &s.idp.assertion(&unsolicited, "_u1"))),
            Some(&victim),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), Some("/login/switch"));
    let me = s.app.get("/api/v1/me", Some(&victim)).await.json();
    assert_eq!(me["email"], "victim@elsewhere.test", "{me}");
}

on_each_backend!(an_unsolicited_response_asks_a_signed_in_browser_first);
