//! The SAML protocol layer against a real, independent IdP: Debian's
//! SimpleSAMLphp (`end2end/saml-idp/run.sh`), started here on 127.0.0.1.
//! Its metadata is read, an SP-initiated and an IdP-initiated sign-in go
//! through its login form, and the responses it signs are verified.

use crate::sso_real_idp::{Browser, Page, free_port};
use app::saml::SamlError;
use app::saml::authn_request::authn_request_redirect;
use app::saml::idp_metadata::IdpMetadata;
use app::saml::logout::{
    logout_request_redirect, logout_response_redirect, read_logout_request, read_logout_response,
};
use app::saml::sp_key::SpKey;
use app::saml::verify::{Expectations, verify_response};
use std::path::PathBuf;
use std::time::Duration;

const SP_ENTITY: &str = "https://latchkey.test/saml/org_1/metadata";
const ACS: &str = "http://127.0.0.1:9/saml/org_1/acs";

/// SimpleSAMLphp on a free port with a scratch directory, killed (and the
/// directory removed) when dropped.
pub(crate) struct SamlIdp {
    pub(crate) base: String,
    pub(crate) dir: PathBuf,
    child: std::process::Child,
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl SamlIdp {
    pub(crate) async fn start() -> Self {
        // A port picked free can be taken before PHP binds it (tests run in
        // parallel); PHP then exits and is started again elsewhere.
        for _ in 0..3 {
            if let Some(idp) = Self::try_start().await {
                return idp;
            }
        }
        panic!("SimpleSAMLphp did not start in three attempts");
    }

    async fn try_start() -> Option<Self> {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("latchkey-saml-idp-{}-{port}", std::process::id()));
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/saml-idp/run.sh");
        let child = std::process::Command::new(script)
            .arg(port.to_string())
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("end2end/saml-idp/run.sh: install simplesamlphp, php-cli and php-xml (.ci/test does)");
        let mut idp = Self {
            base: format!("http://127.0.0.1:{port}/simplesaml"),
            dir,
            child,
        };
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if http
                .get(idp.metadata_url())
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Some(idp);
            }
            if idp.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("SimpleSAMLphp did not start on {} within 30 s", idp.base);
    }

    /// Its metadata, fetched as an admin's metadata URL is.
    async fn metadata(&self) -> IdpMetadata {
        let guard = app::sso::net::Guard {
            allow_private: true,
        };
        app::saml::idp_metadata::fetch(guard, &self.metadata_url())
            .await
            .expect("SimpleSAMLphp's metadata")
            .1
    }

    pub(crate) fn metadata_url(&self) -> String {
        format!("{}/saml2/idp/metadata.php", self.base)
    }

    /// Registers the SP (the file is re-read on every request); `extra`
    /// holds more entries of its PHP array.
    pub(crate) fn register_sp(&self, entity_id: &str, acs: &str, extra: &str) {
        let php = format!(
            "<?php\n$metadata['{entity_id}'] = [\n  'AssertionConsumerService' => '{acs}',\n  'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',\n{extra}];\n"
        );
        std::fs::write(self.dir.join("metadata/saml20-sp-remote.php"), php)
            .expect("write SP metadata");
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&#43;", "+")
        .replace("&#x2B;", "+")
        .replace("&#61;", "=")
        .replace("&#x3D;", "=")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the input named `name` on `page`.
pub(crate) fn input(page: &Page, name: &str) -> Option<String> {
    page.body.split("<input").skip(1).find_map(|tag| {
        let tag = tag.split('>').next().unwrap_or_default();
        tag.contains(&format!("name=\"{name}\"")).then(|| {
            tag.split("value=\"")
                .nth(1)
                .and_then(|v| v.split('"').next())
                .map(unescape)
                .unwrap_or_default()
        })
    })
}

/// Answers SimpleSAMLphp's login form, if it shows one, and returns the
/// page that posts the SAMLResponse to the ACS.
pub(crate) async fn sign_in(
    browser: &mut Browser,
    mut page: Page,
    user: &str,
    password: &str,
) -> Page {
    if let Some(auth_state) = input(&page, "AuthState") {
        page = browser
            .go(
                page.url.as_str(),
                Some(vec![
                    ("username".into(), user.into()),
                    ("password".into(), password.into()),
                    ("AuthState".into(), auth_state),
                ]),
            )
            .await;
    }
    assert!(
        page.body.contains("SAMLResponse"),
        "no SAMLResponse form from the IdP: {}",
        page.body
    );
    page
}

fn expect<'a>(request_ids: &'a [&'a str], allow_idp_initiated: bool) -> Expectations<'a> {
    Expectations {
        sp_entity_id: SP_ENTITY,
        acs_url: ACS,
        request_ids,
        allow_idp_initiated,
        allow_sha1: false,
        allow_aes_cbc: false,
        decryption_key: None,
    }
}

#[tokio::test]
async fn simplesamlphp_metadata_and_sign_ins_verify() {
    let idp = SamlIdp::start().await;
    idp.register_sp(SP_ENTITY, ACS, "");

    // Metadata: endpoints and the signing certificate, whose fingerprint
    // openssl computes independently.
    let xml = reqwest::get(idp.metadata_url())
        .await
        .expect("metadata")
        .text()
        .await
        .expect("body");
    let md = IdpMetadata::parse(&xml).expect("SimpleSAMLphp's metadata");
    assert_eq!(md.entity_id, idp.metadata_url());
    assert_eq!(md.sso_url, format!("{}/saml2/idp/SSOService.php", idp.base));
    assert_eq!(
        md.slo_url,
        Some(format!("{}/saml2/idp/SingleLogoutService.php", idp.base))
    );
    assert_eq!(
        md.certificates.len(),
        1,
        "the signing certificate, not the encryption one"
    );
    let openssl = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(idp.dir.join("cert/idp.pem"))
        .output()
        .expect("openssl");
    let fingerprint = String::from_utf8_lossy(&openssl.stdout);
    assert!(
        fingerprint
            .trim()
            .ends_with(&md.certificates[0].sha256_fingerprint),
        "{fingerprint} vs {}",
        md.certificates[0].sha256_fingerprint
    );
    assert_eq!(md.certificates[0].subject, "CN=SimpleSAMLphp test IdP");

    // SP-initiated: our AuthnRequest, the IdP's login form, its response.
    let mut browser = Browser::new();
    let request =
        authn_request_redirect(&md, SP_ENTITY, ACS, "/o/acme", None).expect("AuthnRequest");
    let page = browser.go(&request.url, None).await;
    let page = sign_in(&mut browser, page, "ada", "ada-password").await;
    assert!(page.body.contains(ACS), "the form posts to our ACS");
    assert_eq!(input(&page, "RelayState").as_deref(), Some("/o/acme"));
    let response = input(&page, "SAMLResponse").expect("SAMLResponse");
    let ids = [request.request_id.as_str()];
    let v = verify_response(&response, &md, &expect(&ids, false)).expect("verified");
    assert_eq!(v.issuer, md.entity_id);
    assert_eq!(v.name_id, "ada@example.com");
    assert_eq!(
        v.in_response_to.as_deref(),
        Some(request.request_id.as_str())
    );
    assert_eq!(v.attributes["groups"], vec!["eng", "admins"]);
    assert_eq!(v.attributes["givenName"], vec!["Ada"]);
    assert!(v.session_index.is_some());
    // The same response for another request, or another SP, is refused.
    assert_eq!(
        verify_response(&response, &md, &expect(&["_lkother"], false)),
        Err(SamlError::InResponseTo)
    );
    let other_sp = Expectations {
        sp_entity_id: "https://other.test/sp",
        ..expect(&ids, false)
    };
    assert_eq!(
        verify_response(&response, &md, &other_sp),
        Err(SamlError::Audience)
    );

    // IdP-initiated, from the IdP's session: accepted only when allowed.
    let start = format!(
        "{}/saml2/idp/SSOService.php?spentityid={}&RelayState=%2Fo%2Facme",
        idp.base, SP_ENTITY
    );
    let page = browser.go(&start, None).await;
    let page = sign_in(&mut browser, page, "ada", "ada-password").await;
    let unsolicited = input(&page, "SAMLResponse").expect("SAMLResponse");
    let v = verify_response(&unsolicited, &md, &expect(&[], true)).expect("verified");
    assert_eq!(
        (v.name_id.as_str(), v.in_response_to),
        ("ada@example.com", None)
    );
    assert_eq!(
        verify_response(&unsolicited, &md, &expect(&[], false)),
        Err(SamlError::Unsolicited)
    );

    // Another IdP's certificate: SimpleSAMLphp's signature does not verify.
    let foreign = xml.replace(
        &data_encoding::BASE64.encode(&pem_der(&idp.dir.join("cert/idp.pem"))),
        &data_encoding::BASE64.encode(&other_cert_der()),
    );
    let foreign = IdpMetadata::parse(&foreign).expect("metadata with another certificate");
    assert_eq!(
        verify_response(&unsolicited, &foreign, &expect(&[], true)),
        Err(SamlError::Signature)
    );
}

#[tokio::test]
async fn simplesamlphp_encrypted_assertions_decrypt_with_the_connection_key_only() {
    let idp = SamlIdp::start().await;
    let key = SpKey::generate("Latchkey SP org_1", 30).expect("SP key");
    idp.register_sp(
        SP_ENTITY,
        ACS,
        &format!(
            "'assertion.encryption' => true, 'certData' => '{}',",
            key.cert_b64()
        ),
    );
    let md = idp.metadata().await;

    let mut browser = Browser::new();
    let request = authn_request_redirect(&md, SP_ENTITY, ACS, "", None).expect("AuthnRequest");
    let page = browser.go(&request.url, None).await;
    let page = sign_in(&mut browser, page, "bob", "bob-password").await;
    let response = input(&page, "SAMLResponse").expect("SAMLResponse");
    let raw = data_encoding::BASE64
        .decode(response.as_bytes())
        .expect("base64");
    let raw = String::from_utf8(raw).expect("utf-8");
    assert!(raw.contains("EncryptedAssertion") && !raw.contains("bob@other.test"));

    let ids = [request.request_id.as_str()];
    // SimpleSAMLphp 1.19 encrypts with AES-128-CBC whatever it is told:
    // refused unless the connection allows CBC.
    let cbc_refused = Expectations {
        decryption_key: Some(&key.key_der),
        ..expect(&ids, false)
    };
    assert_eq!(
        verify_response(&response, &md, &cbc_refused),
        Err(SamlError::EncryptionAlgorithm)
    );
    let with_key = Expectations {
        decryption_key: Some(&key.key_der),
        allow_aes_cbc: true,
        ..expect(&ids, false)
    };
    let v = verify_response(&response, &md, &with_key).expect("decrypted and verified");
    assert_eq!(v.name_id, "bob@other.test");
    assert_eq!(v.attributes["groups"], vec!["sales"]);
    assert_eq!(
        verify_response(&response, &md, &expect(&ids, false)),
        Err(SamlError::Encrypted)
    );
    let other = SpKey::generate("someone else", 30).expect("SP key");
    let wrong_key = Expectations {
        decryption_key: Some(&other.key_der),
        allow_aes_cbc: true,
        ..expect(&ids, false)
    };
    assert_eq!(
        verify_response(&response, &md, &wrong_key),
        Err(SamlError::Encrypted)
    );
}

#[tokio::test]
async fn simplesamlphp_single_logout_both_ways_with_signed_messages() {
    const SITE: &str = "http://127.0.0.1:9/";
    const SLO: &str = "http://127.0.0.1:9/saml/org_1/slo";
    let idp = SamlIdp::start().await;
    let key = SpKey::generate("Latchkey SP org_1", 30).expect("SP key");
    // The IdP checks our signatures on AuthnRequests and logout messages.
    idp.register_sp(
        SP_ENTITY,
        ACS,
        &format!(
            "'SingleLogoutService' => '{SLO}', 'certData' => '{}', 'validate.logout' => true, 'validate.authnrequest' => true,",
            key.cert_b64()
        ),
    );
    let md = idp.metadata().await;
    let mut browser = Browser::stopping_at(SITE);
    let sp_key = Some(key.key_der.as_slice());

    // An unsigned AuthnRequest, or one signed with another key, is refused
    // there: no login form, no response.
    let other = SpKey::generate("not ours", 2).expect("key");
    for key in [None, Some(other.key_der.as_slice())] {
        let request = authn_request_redirect(&md, SP_ENTITY, ACS, "", key).expect("AuthnRequest");
        let page = browser.go(&request.url, None).await;
        assert!(
            input(&page, "AuthState").is_none() && !page.body.contains("SAMLResponse"),
            "the IdP took an AuthnRequest it should have refused: {}",
            page.url
        );
    }

    // IdP-initiated: the IdP's signed LogoutRequest names the session; our
    // signed answer lets it finish and return to ReturnTo.
    let session = sp_initiated_sign_in(&mut browser, &md, sp_key).await;
    let page = browser
        .go(
            &format!(
                "{}/saml2/idp/SingleLogoutService.php?ReturnTo={SITE}done",
                idp.base
            ),
            None,
        )
        .await;
    assert!(
        page.url.as_str().starts_with(SLO),
        "sent to our SLO: {}",
        page.url
    );
    let request = read_logout_request(page.url.query().unwrap_or(""), &md, SLO, false)
        .expect("the IdP's LogoutRequest");
    assert_eq!(request.name_id, "ada@example.com");
    assert_eq!(
        request.session_indexes,
        vec![session.session_index.clone().expect("index")]
    );
    let answer = logout_response_redirect(
        &md,
        SP_ENTITY,
        &request.id,
        request.relay_state.as_deref(),
        &key.key_der,
    )
    .expect("LogoutResponse");
    let done = browser.go(&answer, None).await;
    assert_eq!(
        done.url.as_str(),
        format!("{SITE}done"),
        "the IdP accepted our answer"
    );

    // SP-initiated: our signed LogoutRequest, the IdP's signed answer.
    let session = sp_initiated_sign_in(&mut browser, &md, sp_key).await;
    let who = session.signed_out();
    let (id, url) =
        logout_request_redirect(&md, SP_ENTITY, &who, Some("/signed-out"), &key.key_der)
            .expect("LogoutRequest");
    let page = browser.go(&url, None).await;
    assert!(
        page.url.as_str().starts_with(SLO),
        "answered at our SLO: {} {}",
        page.url,
        page.body
    );
    let query = page.url.query().unwrap_or("");
    assert_eq!(
        read_logout_response(query, &md, SLO, &id, false),
        Ok(Some("/signed-out".into()))
    );
    assert_eq!(
        read_logout_response(query, &md, SLO, "_lkother", false),
        Err(SamlError::InResponseTo)
    );

    // A LogoutRequest signed with a key the IdP does not know is refused
    // there: no answer comes back to our SLO.
    let session = sp_initiated_sign_in(&mut browser, &md, sp_key).await;
    let who = session.signed_out();
    let (_, forged) =
        logout_request_redirect(&md, SP_ENTITY, &who, None, &other.key_der).expect("forged");
    let page = browser.go(&forged, None).await;
    assert!(
        !page.url.as_str().starts_with(SITE),
        "the IdP answered a forged request: {}",
        page.url
    );
}

/// An SP-initiated sign-in of `ada` (the request signed with `sp_key`),
/// verified.
async fn sp_initiated_sign_in(
    browser: &mut Browser,
    md: &IdpMetadata,
    sp_key: Option<&[u8]>,
) -> app::saml::verify::VerifiedAssertion {
    let request = authn_request_redirect(md, SP_ENTITY, ACS, "", sp_key).expect("AuthnRequest");
    let page = browser.go(&request.url, None).await;
    let page = sign_in(browser, page, "ada", "ada-password").await;
    let response = input(&page, "SAMLResponse").expect("SAMLResponse");
    let ids = [request.request_id.as_str()];
    verify_response(&response, md, &expect(&ids, false)).expect("verified")
}

fn pem_der(path: &std::path::Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).expect("pem");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    data_encoding::BASE64
        .decode(b64.as_bytes())
        .expect("pem body")
}

/// A certificate of a key SimpleSAMLphp never saw.
fn other_cert_der() -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("latchkey-other-cert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=other",
        ])
        .arg("-keyout")
        .arg(dir.join("k.pem"))
        .arg("-out")
        .arg(dir.join("c.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    let der = pem_der(&dir.join("c.pem"));
    let _ = std::fs::remove_dir_all(&dir);
    der
}
