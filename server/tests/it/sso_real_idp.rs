//! Against the real, independent OpenID Provider: the npm package
//! `oidc-provider` (`end2end/idp.mjs`), started here on 127.0.0.1, with
//! Latchkey served on a real socket so the IdP can reach its back-channel
//! logout URI. A first sign-in with role mapping, the profile and role sync
//! at the next one, and the logout the IdP sends when the user signs out
//! there.

use crate::common::{Auth, Backend, TestApp};
use crate::sso_idp::verified_and_enabled;
use http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `node end2end/idp.mjs` on a free port, killed when dropped.
pub(crate) struct RealIdp {
    pub(crate) base: String,
    child: std::process::Child,
}

impl Drop for RealIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RealIdp {
    pub(crate) async fn start() -> Self {
        Self::launch(false).await
    }

    /// In automatic login mode: `/auth` signs in the `login_hint` and
    /// consents with no page, as for load.
    pub(crate) async fn start_automatic() -> Self {
        Self::launch(true).await
    }

    async fn launch(automatic: bool) -> Self {
        // A port picked free can be taken before node binds it (tests run
        // in parallel), so a node that exits is started again elsewhere.
        for _ in 0..3 {
            if let Some(idp) = Self::try_launch(automatic).await {
                return idp;
            }
        }
        panic!("oidc-provider did not start in three attempts");
    }

    async fn try_launch(automatic: bool) -> Option<Self> {
        let port = free_port();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end");
        // Spawning is quick; std keeps the test off tokio's process feature.
        let child = std::process::Command::new("node")
            .arg("idp.mjs")
            .current_dir(&dir)
            .env("E2E_IDP_PORT", port.to_string())
            .env("E2E_IDP_AUTO_LOGIN", if automatic { "1" } else { "0" })
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node end2end/idp.mjs: install Node and run `npm ci` in end2end/ (.ci/test does both)");
        let base = format!("http://127.0.0.1:{port}");
        // Owned before the wait, so a failed start still kills the process.
        let mut idp = Self { base, child };
        let http = reqwest::Client::new();
        // Generous: a loaded 2-core machine runs many tests beside this one.
        for _ in 0..300 {
            let ready = http
                .get(format!("{}/.well-known/openid-configuration", idp.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Some(idp);
            }
            if idp.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("oidc-provider did not start on {} within 30 s", idp.base);
    }
}

impl RealIdp {
    /// Registers Latchkey as a client (dynamic registration) with the URIs
    /// the SSO object `uris` lists; returns `client_id` and `client_secret`.
    pub(crate) async fn register(&self, uris: &Value) -> Value {
        let res = reqwest::Client::new()
            .post(format!("{}/reg", self.base))
            .header("content-type", "application/json")
            .body(
                json!({
                    "redirect_uris": [uris["redirect_uri"]],
                    "backchannel_logout_uri": uris["backchannel_logout_uri"],
                    "backchannel_logout_session_required": true,
                    "post_logout_redirect_uris": [uris["post_logout_redirect_uri"]],
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_basic",
                })
                .to_string(),
            )
            .send()
            .await
            .expect("register at the IdP");
        serde_json::from_str(&res.text().await.expect("body")).expect("client JSON")
    }
}

/// A browser enough for these flows: cookies per origin, redirects
/// followed (POST becomes GET on 302/303, as browsers do).
pub(crate) struct Browser {
    http: reqwest::Client,
    jar: HashMap<String, HashMap<String, String>>,
    /// The address a trusted proxy in front reports for this browser.
    forwarded_for: Option<String>,
    /// Redirects to URLs with this prefix are not followed: the page
    /// returned is the redirect (a stand-in for a site that is not there).
    stop_at: Option<String>,
}

pub(crate) struct Page {
    pub(crate) url: url::Url,
    pub(crate) status: StatusCode,
    pub(crate) body: String,
}

impl Browser {
    pub(crate) fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // A connection per request, so a load balancer in a test
                // can send each one to the instance it chooses.
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
            jar: HashMap::new(),
            forwarded_for: None,
            stop_at: None,
        }
    }

    /// A browser that stops at redirects to `prefix` and returns them.
    pub(crate) fn stopping_at(prefix: &str) -> Self {
        Self {
            stop_at: Some(prefix.to_owned()),
            ..Self::new()
        }
    }

    /// A browser a trusted reverse proxy reports as coming from `ip`.
    pub(crate) fn behind_proxy_from(ip: String) -> Self {
        Self {
            forwarded_for: Some(ip),
            ..Self::new()
        }
    }

    fn origin(url: &url::Url) -> String {
        url.origin().ascii_serialization()
    }

    pub(crate) async fn go(&mut self, url: &str, form: Option<Vec<(String, String)>>) -> Page {
        self.try_go(url, form).await.expect("request")
    }

    /// As [`Browser::go`], with a failed connection as an error (a server
    /// that was killed) instead of a panic.
    pub(crate) async fn try_go(
        &mut self,
        url: &str,
        form: Option<Vec<(String, String)>>,
    ) -> Result<Page, reqwest::Error> {
        let mut url = url::Url::parse(url).expect("absolute URL");
        let mut form = form;
        for _ in 0..20 {
            let cookies = self
                .jar
                .get(&Self::origin(&url))
                .map(|c| {
                    c.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            let mut req = match form.take() {
                Some(fields) => self.http.post(url.clone()).form(&fields),
                None => self.http.get(url.clone()),
            };
            if let Some(ip) = &self.forwarded_for {
                req = req.header("x-forwarded-for", ip);
            }
            let res = req
                .header("cookie", cookies)
                .header("accept", "text/html")
                .send()
                .await?;
            let jar = self.jar.entry(Self::origin(&url)).or_default();
            for set in res.headers().get_all("set-cookie") {
                let pair = set
                    .to_str()
                    .unwrap_or_default()
                    .split(';')
                    .next()
                    .unwrap_or_default();
                if let Some((k, v)) = pair.split_once('=') {
                    jar.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
            let status = res.status();
            if status.is_redirection() {
                let location = res.headers()["location"].to_str().expect("location");
                url = url.join(location).expect("redirect target");
                if self
                    .stop_at
                    .as_deref()
                    .is_some_and(|p| url.as_str().starts_with(p))
                {
                    return Ok(Page {
                        url,
                        status: StatusCode::FOUND,
                        body: String::new(),
                    });
                }
                continue;
            }
            return Ok(Page {
                url,
                status: StatusCode::from_u16(status.as_u16()).expect("status"),
                body: res.text().await?,
            });
        }
        panic!("too many redirects");
    }
}

/// The first `<form … action="…">` of an oidc-provider page and its hidden
/// inputs.
pub(crate) fn form_of(page: &Page) -> (String, Vec<(String, String)>) {
    let action = page
        .body
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no form on {}: {}", page.url, page.body))
        .replace("&amp;", "&");
    let mut hidden = Vec::new();
    for input in page.body.split("<input").skip(1) {
        let attr = |name: &str| {
            input
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_owned)
        };
        if attr("type").as_deref() == Some("hidden")
            && let (Some(n), Some(v)) = (attr("name"), attr("value"))
        {
            hidden.push((n, v));
        }
    }
    (page.url.join(&action).expect("action").to_string(), hidden)
}

/// Signs in at the IdP's development login (and consents) when it asks;
/// returns the page Latchkey finally shows.
async fn sign_in(browser: &mut Browser, start: &str, idp: &str, login: &str) -> Page {
    let page = browser.go(start, None).await;
    finish_at_idp(browser, page, idp, login).await
}

/// From a page of the IdP: its login and consent forms until the browser
/// is back at Latchkey.
pub(crate) async fn finish_at_idp(
    browser: &mut Browser,
    mut page: Page,
    idp: &str,
    login: &str,
) -> Page {
    while page.url.as_str().starts_with(idp) {
        let (action, mut fields) = form_of(&page);
        if page.body.contains("name=\"login\"") {
            fields.push(("login".into(), login.into()));
            fields.push(("password".into(), "any password".into()));
        }
        page = browser.go(&action, Some(fields)).await;
    }
    page
}

async fn role_and_name(app: &TestApp, email: &str) -> (String, String) {
    sqlx::query_as(
        "SELECT m.role, u.name FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1",
    )
    .bind(email)
    .fetch_one(&app.state.db)
    .await
    .expect("member")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_sync_and_back_channel_logout_with_oidc_provider() {
    let idp = RealIdp::start().await;
    let (app, public) = TestApp::served(Backend::Sqlite).await;
    let (owner, org) = app.org_with_owner("owner@real.test", "Real Co").await;
    let path = format!("/api/v1/orgs/{org}/sso");
    let uris = app
        .api("GET", &path, Auth::Cookie(&owner), None)
        .await
        .json();
    let reg = idp.register(&uris).await;
    let res = app
        .api(
            "PUT",
            &path,
            Auth::Cookie(&owner),
            Some(json!({
                "provider_label": "oidc-provider", "discovery_url": idp.base,
                "client_id": reg["client_id"], "client_secret": reg["client_secret"],
                "scopes": ["openid", "profile", "email", "groups"],
                "default_role": "member",
                "role_mappings": [{"claim": "groups", "operator": "contains", "value": "admins", "role": "admin"}],
            })),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let sso = res.json();
    let org_id = sso["redirect_uri"]
        .as_str()
        .and_then(|u| u.split('/').nth(4))
        .expect("org id")
        .to_owned();
    verified_and_enabled(&app, &org_id, "real.test").await;
    let start = format!("{}/start", sso["login_url"].as_str().expect("login url"));

    let ada = "ada@real.test";
    let profile = |claims: Value| {
        let base = idp.base.clone();
        async move {
            let res = reqwest::Client::new()
                .post(format!("{base}/test/profiles"))
                .body(claims.to_string())
                .send()
                .await
                .expect("profile");
            assert_eq!(res.status().as_u16(), 204);
        }
    };
    profile(json!({"login": ada, "name": "Ada Lovelace", "groups": ["engineering", "admins"]}))
        .await;
    let mut browser = Browser::new();
    let page = sign_in(&mut browser, &start, &idp.base, ada).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.url.path(), format!("/o/{org}"));
    assert_eq!(
        role_and_name(&app, ada).await,
        ("admin".into(), "Ada Lovelace".into())
    );

    // The IdP changes her name and groups; the next sign-in syncs both.
    profile(json!({"login": ada, "name": "Ada King", "groups": ["engineering"]})).await;
    let page = sign_in(&mut browser, &start, &idp.base, ada).await;
    assert_eq!(page.url.path(), format!("/o/{org}"));
    assert_eq!(
        role_and_name(&app, ada).await,
        ("member".into(), "Ada King".into())
    );
    let me = browser.go(&format!("{public}/api/v1/me"), None).await;
    assert_eq!(me.status, StatusCode::OK);

    // Signing out at the IdP: it posts a logout token to Latchkey, which
    // ends the session.
    let confirm = browser.go(&format!("{}/session/end", idp.base), None).await;
    let (action, mut fields) = form_of(&confirm);
    fields.push(("logout".into(), "yes".into()));
    browser.go(&action, Some(fields)).await;
    let me = browser.go(&format!("{public}/api/v1/me"), None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body);
    let logouts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'sso.backchannel_logout'",
    )
    .fetch_one(&app.state.db)
    .await
    .expect("audit");
    assert_eq!(logouts, 1);
}
