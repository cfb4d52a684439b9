//! Every REST route against every kind of caller that must not get through,
//! as one table. The routes come from the OpenAPI document the router
//! serves, so a new route without a row here fails this test.

use crate::common::{Auth, TestApp};
use crate::db_test;
use http::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// One route: its permission (`None`: any signed-in caller) and, for
/// writes, a body of the right shape, so a refusal is the access check's
/// and not the body's.
struct Route {
    method: &'static str,
    path: &'static str,
    permission: Option<&'static str>,
    body: Option<Value>,
}

fn routes() -> Vec<Route> {
    let r = |method, path, permission, body| Route {
        method,
        path,
        permission: Some(permission),
        body,
    };
    vec![
        r("get", "/api/v1/orgs/{org}/members", "members:read", None),
        r(
            "patch",
            "/api/v1/orgs/{org}/members/{user_id}",
            "members:write",
            Some(json!({"role": "viewer"})),
        ),
        r(
            "delete",
            "/api/v1/orgs/{org}/members/{user_id}",
            "members:write",
            None,
        ),
        r(
            "get",
            "/api/v1/orgs/{org}/invitations",
            "members:read",
            None,
        ),
        r(
            "post",
            "/api/v1/orgs/{org}/invitations",
            "members:write",
            Some(json!({"email": "new@matrix.test", "role": "guest"})),
        ),
        r(
            "delete",
            "/api/v1/orgs/{org}/invitations/{id}",
            "members:write",
            None,
        ),
        r("get", "/api/v1/orgs/{org}/roles", "members:read", None),
        r(
            "post",
            "/api/v1/orgs/{org}/roles",
            "roles:write",
            Some(json!({"name": "extra", "description": "", "permissions": []})),
        ),
        r(
            "patch",
            "/api/v1/orgs/{org}/roles/{name}",
            "roles:write",
            Some(json!({"permissions": []})),
        ),
        r(
            "delete",
            "/api/v1/orgs/{org}/roles/{name}",
            "roles:write",
            None,
        ),
        r("get", "/api/v1/orgs/{org}/api-tokens", "tokens:write", None),
        r(
            "post",
            "/api/v1/orgs/{org}/api-tokens",
            "tokens:write",
            Some(json!({"name": "t", "role": "guest"})),
        ),
        r(
            "delete",
            "/api/v1/orgs/{org}/api-tokens/{id}",
            "tokens:write",
            None,
        ),
        r("get", "/api/v1/orgs/{org}/audit-events", "audit:read", None),
        r("get", "/api/v1/orgs/{org}/domains", "domains:read", None),
        r(
            "post",
            "/api/v1/orgs/{org}/domains",
            "domains:write",
            Some(json!({"domain": "new-matrix.example"})),
        ),
        r(
            "post",
            "/api/v1/orgs/{org}/domains/{domain}/verify",
            "domains:write",
            None,
        ),
        r(
            "delete",
            "/api/v1/orgs/{org}/domains/{domain}",
            "domains:write",
            None,
        ),
        r("get", "/api/v1/orgs/{org}/sso", "sso:read", None),
        r(
            "put",
            "/api/v1/orgs/{org}/sso",
            "sso:write",
            Some(
                json!({"provider_label": "X", "discovery_url": "https://idp.example", "client_id": "c"}),
            ),
        ),
        r("delete", "/api/v1/orgs/{org}/sso", "sso:write", None),
        r("post", "/api/v1/orgs/{org}/sso/enable", "sso:write", None),
        r("post", "/api/v1/orgs/{org}/sso/disable", "sso:write", None),
        r("post", "/api/v1/orgs/{org}/sso/test", "sso:write", None),
        r(
            "post",
            "/api/v1/orgs/{org}/sso/approve",
            "sso:write",
            Some(json!({})),
        ),
        r(
            "post",
            "/api/v1/orgs/{org}/sso/saml/sp-key/rotate",
            "sso:write",
            None,
        ),
        r(
            "put",
            "/api/v1/orgs/{org}/sso/provisioning",
            "sso:write",
            Some(json!({"jit_enabled": true, "default_role": "guest", "role_mappings": []})),
        ),
        r("get", "/api/v1/orgs/{org}/setup-links", "sso:write", None),
        r(
            "post",
            "/api/v1/orgs/{org}/setup-links",
            "sso:write",
            Some(json!({"scopes": ["sso"]})),
        ),
        r(
            "delete",
            "/api/v1/orgs/{org}/setup-links/{id}",
            "sso:write",
            None,
        ),
        r("get", "/api/v1/orgs/{org}/security", "sso:read", None),
        r(
            "put",
            "/api/v1/orgs/{org}/security",
            "sso:write",
            Some(json!({"require_mfa": false})),
        ),
        Route {
            method: "get",
            path: "/api/v1/me",
            permission: None,
            body: None,
        },
    ]
}

/// Documented routes anyone may call (the document itself, at
/// `/api/v1/openapi.json`, is public too and fetched below).
const PUBLIC: [(&str, &str); 2] = [("get", "/api/v1/health"), ("get", "/api/v1/ready")];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    OtherOrgMember,
    OtherOrgToken,
    TokenOfRemovedCreator,
    Viewer,
    /// A custom role with `audit:read` only.
    NarrowRole,
    /// A setup-link session for domains and the SSO connection (made by
    /// the owner, who has every right).
    SetupLinkDomainsSso,
    /// A setup-link session for provisioning only.
    SetupLinkProvisioning,
}

const CALLERS: [Caller; 8] = [
    Caller::Anonymous,
    Caller::OtherOrgMember,
    Caller::OtherOrgToken,
    Caller::TokenOfRemovedCreator,
    Caller::Viewer,
    Caller::NarrowRole,
    Caller::SetupLinkDomainsSso,
    Caller::SetupLinkProvisioning,
];

impl Caller {
    /// A setup link's scopes; `None` for every other caller.
    fn link_scopes(self) -> Option<&'static [&'static str]> {
        match self {
            Caller::SetupLinkDomainsSso => Some(&["domains", "sso"]),
            Caller::SetupLinkProvisioning => Some(&["provisioning"]),
            _ => None,
        }
    }
}

/// What a setup link may do with a call of `area` (`None`: no link
/// reaches it): a read of the SSO settings serves both SSO scopes.
fn link_reaches(scopes: &[&str], area: Option<&str>, read: bool) -> bool {
    match area {
        Some("sso") if read => scopes.contains(&"sso") || scopes.contains(&"provisioning"),
        Some(area) => scopes.contains(&area),
        None => false,
    }
}

/// The cell of a setup link: refused (403) outside its scopes, 200 for a
/// read within them, and `None` for a write within them (which would
/// change A; `setup_links.rs` makes those calls).
fn link_cell(scopes: &[&str], area: Option<&str>, read: bool) -> Option<StatusCode> {
    match (link_reaches(scopes, area, read), read) {
        (false, _) => Some(StatusCode::FORBIDDEN),
        (true, true) => Some(StatusCode::OK),
        (true, false) => None,
    }
}

/// Which setup-link scope a REST route belongs to.
fn route_area(method: &str, path: &str) -> Option<&'static str> {
    if path.contains("/domains") {
        Some("domains")
    } else if path.ends_with("/sso/approve") {
        // Deciding which IdP is trusted is never a setup link's.
        None
    } else if path.ends_with("/sso/provisioning") || (method == "get" && path.ends_with("/roles")) {
        // Rules and the default role name roles, so provisioning lists them.
        Some("provisioning")
    } else if path.contains("/sso") {
        Some("sso")
    } else {
        None
    }
}

const VIEWER: [&str; 4] = ["sso:read", "domains:read", "members:read", "audit:read"];

/// The cell: what `caller` gets from a route that needs `permission`
/// (`None`: a setup link's write within its scopes, not made here).
fn expected(caller: Caller, route: &Route) -> Option<StatusCode> {
    let Some(permission) = route.permission else {
        // `/me`: who you are, for anyone signed in with an account.
        return Some(match caller {
            Caller::Anonymous
            | Caller::TokenOfRemovedCreator
            | Caller::SetupLinkDomainsSso
            | Caller::SetupLinkProvisioning => StatusCode::UNAUTHORIZED,
            _ => StatusCode::OK,
        });
    };
    if let Some(scopes) = caller.link_scopes() {
        return link_cell(
            scopes,
            route_area(route.method, route.path),
            route.method == "get",
        );
    }
    let allowed = |yes: bool| {
        if yes {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        }
    };
    Some(match caller {
        Caller::Anonymous | Caller::TokenOfRemovedCreator => StatusCode::UNAUTHORIZED,
        // Another organization's caller learns nothing, not even that it exists.
        Caller::OtherOrgMember | Caller::OtherOrgToken => StatusCode::NOT_FOUND,
        Caller::Viewer => allowed(VIEWER.contains(&permission)),
        Caller::NarrowRole => allowed(permission == "audit:read"),
        Caller::SetupLinkDomainsSso | Caller::SetupLinkProvisioning => {
            unreachable!("answered above")
        }
    })
}

async fn json_of(
    app: &TestApp,
    method: &str,
    path: &str,
    auth: Auth<'_>,
    body: Option<Value>,
) -> Value {
    let res = app.api(method, path, auth, body).await;
    assert!(
        res.status.is_success(),
        "{method} {path}: {} {}",
        res.status,
        res.body
    );
    res.json()
}

async fn post(app: &TestApp, path: &str, auth: Auth<'_>, body: Value) -> Value {
    json_of(app, "POST", path, auth, Some(body)).await
}

/// Organization A with one of each resource and every kind of caller, and
/// organization B with its owner and a token; emails end in `@{tag}`.
struct Fixture {
    owner: String,
    org: String,
    guest_id: String,
    invitation_id: String,
    token_id: String,
    viewer: String,
    narrow: String,
    other_owner: String,
    /// Session cookies of setup links of A (see [`Caller::link_scopes`]).
    link_domains_sso: String,
    link_provisioning: String,
    /// The secret of a token whose creator was removed since.
    old_secret: String,
    /// The secret of a token of organization B.
    other_secret: String,
}

impl Fixture {
    async fn build(app: &TestApp, tag: &str) -> Self {
        let (owner, org) = app
            .org_with_owner(&format!("owner@{tag}"), &format!("Matrix {tag}"))
            .await;
        let base = format!("/api/v1/orgs/{org}");
        let own = Auth::Cookie(&owner);
        for (name, permissions) in [("auditor", json!(["audit:read"])), ("spare", json!([]))] {
            post(
                app,
                &format!("{base}/roles"),
                own,
                json!({"name": name, "description": "", "permissions": permissions}),
            )
            .await;
        }
        let viewer = app
            .join(&owner, &org, &format!("viewer@{tag}"), "viewer")
            .await;
        let narrow = app
            .join(&owner, &org, &format!("auditor@{tag}"), "auditor")
            .await;
        let guest = app
            .join(&owner, &org, &format!("guest@{tag}"), "guest")
            .await;
        let guest_id = app.user_id(&guest).await;
        let invitation = post(
            app,
            &format!("{base}/invitations"),
            own,
            json!({"email": format!("pending@{tag}"), "role": "guest"}),
        )
        .await;
        let token = post(
            app,
            &format!("{base}/api-tokens"),
            own,
            json!({"name": "ci", "role": "viewer"}),
        )
        .await;
        post(
            app,
            &format!("{base}/domains"),
            own,
            json!({"domain": "matrix.example"}),
        )
        .await;
        let leaver = app
            .join(&owner, &org, &format!("leaver@{tag}"), "admin")
            .await;
        let leaver_id = app.user_id(&leaver).await;
        let old = post(
            app,
            &format!("{base}/api-tokens"),
            Auth::Cookie(&leaver),
            json!({"name": "old", "role": "admin"}),
        )
        .await;
        let res = app
            .api("DELETE", &format!("{base}/members/{leaver_id}"), own, None)
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
        let (other_owner, other) = app
            .org_with_owner(&format!("owner@other-{tag}"), &format!("Other {tag}"))
            .await;
        let other_token = post(
            app,
            &format!("/api/v1/orgs/{other}/api-tokens"),
            Auth::Cookie(&other_owner),
            json!({"name": "b", "role": "admin"}),
        )
        .await;
        let (_, link_domains_sso) = app
            .setup_link(
                &owner,
                &org,
                Caller::SetupLinkDomainsSso.link_scopes().expect("link"),
            )
            .await;
        let (_, link_provisioning) = app
            .setup_link(
                &owner,
                &org,
                Caller::SetupLinkProvisioning.link_scopes().expect("link"),
            )
            .await;
        let text = |v: &Value, key: &str| v[key].as_str().expect(key).to_owned();
        Self {
            link_domains_sso,
            link_provisioning,
            invitation_id: text(&invitation, "id"),
            token_id: text(&token, "id"),
            old_secret: text(&old, "secret"),
            other_secret: text(&other_token, "secret"),
            owner,
            org,
            guest_id,
            viewer,
            narrow,
            other_owner,
        }
    }

    /// The credential `caller` presents.
    fn auth(&self, caller: Caller) -> Auth<'_> {
        match caller {
            Caller::Anonymous => Auth::None,
            Caller::OtherOrgMember => Auth::Cookie(&self.other_owner),
            Caller::OtherOrgToken => Auth::Token(&self.other_secret),
            Caller::TokenOfRemovedCreator => Auth::Token(&self.old_secret),
            Caller::Viewer => Auth::Cookie(&self.viewer),
            Caller::NarrowRole => Auth::Cookie(&self.narrow),
            Caller::SetupLinkDomainsSso => Auth::Cookie(&self.link_domains_sso),
            Caller::SetupLinkProvisioning => Auth::Cookie(&self.link_provisioning),
        }
    }

    /// Nothing any caller tried changed anything of A's.
    async fn assert_unchanged(&self, app: &TestApp) {
        let base = format!("/api/v1/orgs/{}", self.org);
        let own = Auth::Cookie(&self.owner);
        let members = json_of(app, "GET", &format!("{base}/members"), own, None).await;
        assert_eq!(members["total"], 4, "{members}");
        let guest_row = members["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["user_id"] == self.guest_id.as_str())
            .cloned();
        assert_eq!(guest_row.expect("guest still there")["role"], "guest");
        for (list, len) in [
            ("invitations", 1),
            ("api-tokens", 1),
            ("domains", 1),
            ("roles", 7),
            ("setup-links", 2),
        ] {
            let items = json_of(app, "GET", &format!("{base}/{list}"), own, None).await;
            assert_eq!(items.as_array().map(Vec::len), Some(len), "{list}: {items}");
        }
        let sso = json_of(app, "GET", &format!("{base}/sso"), own, None).await;
        assert_eq!(sso["configured"], false, "{sso}");
    }
}

db_test!(every_rest_route_refuses_every_caller_it_should, |app| {
    let fx = Fixture::build(&app, "matrix.test").await;

    // The table covers exactly the routes the server documents.
    let doc = app.get("/api/v1/openapi.json", None).await.json();
    let mut served = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("methods").keys() {
            served.insert((method.clone(), path.clone()));
        }
    }
    let mut tabled: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    tabled.extend(
        PUBLIC
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned())),
    );
    assert_eq!(
        served, tabled,
        "a route without a row (or a row without a route)"
    );

    for (method, path) in PUBLIC {
        let res = app
            .api(&method.to_uppercase(), path, Auth::None, None)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{method} {path}");
    }
    let mut cells = 0;
    for route in routes() {
        let path = route
            .path
            .replace("{org}", &fx.org)
            .replace("{user_id}", &fx.guest_id)
            .replace("{name}", "spare")
            .replace("{domain}", "matrix.example");
        let path = if path.contains("/invitations/") {
            path.replace("{id}", &fx.invitation_id)
        } else {
            path.replace("{id}", &fx.token_id)
        };
        for caller in CALLERS {
            let Some(want) = expected(caller, &route) else {
                continue;
            };
            let res = app
                .api(
                    &route.method.to_uppercase(),
                    &path,
                    fx.auth(caller),
                    route.body.clone(),
                )
                .await;
            assert_eq!(
                res.status, want,
                "{} {} as {caller:?}: {}",
                route.method, route.path, res.body
            );
            cells += 1;
        }
    }
    assert!(
        cells >= routes().len() * (CALLERS.len() - 1),
        "{cells} cells"
    );
    fx.assert_unchanged(&app).await;
});

/// What a server function expects of its caller.
#[derive(Debug, Clone, Copy)]
enum Needs {
    /// A member of the organization in `org` with this permission.
    Permission(&'static str),
    /// Any active member of the organization in `org`.
    Member,
    /// A signed-in user, acting on their own account only.
    SignedIn,
    /// A platform operator.
    Operator,
    /// Nobody in particular: sign-up, sign-in and its steps, public pages.
    Public,
}

/// Every server function: what it needs, and form fields of the right
/// shape (`{org}` is organization A, `{user_id}` its guest member).
fn server_fns() -> Vec<(&'static str, Needs, &'static str)> {
    use Needs::*;
    vec![
        ("sign_up", Public, ""),
        ("sign_in", Public, ""),
        ("sign_in_email", Public, ""),
        ("sign_out", Public, ""),
        ("invitation_info", Public, ""),
        ("accept_invitation_signup", Public, ""),
        ("sso_login_page", Public, ""),
        ("pending_sso_link", Public, ""),
        ("confirm_sso_link", Public, ""),
        ("release_sso_link", Public, ""),
        ("pending_switch", Public, ""),
        ("confirm_switch", Public, ""),
        ("cancel_switch", Public, ""),
        ("verify_mfa", Public, ""),
        ("verify_email", Public, ""),
        ("setup_link_info", Public, ""),
        ("open_setup_link", Public, ""),
        ("create_org", SignedIn, "name=Mine"),
        ("home_target", Public, ""),
        ("my_orgs", SignedIn, ""),
        ("accept_invitation", SignedIn, "token=nope"),
        ("mfa_status", SignedIn, ""),
        ("start_mfa", SignedIn, "password=x"),
        ("confirm_mfa", SignedIn, "code=000000"),
        ("regenerate_recovery_codes", SignedIn, "code=000000"),
        ("disable_mfa", SignedIn, "code=000000"),
        ("operator_pending_domains", Operator, ""),
        ("operator_approve_domain", Operator, "id=nope"),
        ("operator_reject_domain", Operator, "id=nope&reason=no"),
        (
            "operator_verification_link",
            Operator,
            "email=viewer%40fn-matrix.test",
        ),
        ("new_verification_link", Operator, ""),
        ("console_context", Member, "org={org}"),
        ("audit_events", Permission("audit:read"), "org={org}"),
        ("list_members", Permission("members:read"), "org={org}"),
        (
            "change_member_role",
            Permission("members:write"),
            "org={org}&user_id={user_id}&role=viewer",
        ),
        (
            "set_member_active",
            Permission("members:write"),
            "org={org}&user_id={user_id}&active=false",
        ),
        (
            "remove_member",
            Permission("members:write"),
            "org={org}&user_id={user_id}",
        ),
        (
            "invite_member",
            Permission("members:write"),
            "org={org}&email=x%40matrix.test&role=guest",
        ),
        ("list_invitations", Permission("members:read"), "org={org}"),
        ("new_invitation", Permission("members:read"), "org={org}"),
        (
            "revoke_invitation",
            Permission("members:write"),
            "org={org}&id={invitation}",
        ),
        (
            "resend_invitation",
            Permission("members:write"),
            "org={org}&id={invitation}",
        ),
        ("list_roles", Permission("members:read"), "org={org}"),
        (
            "create_role",
            Permission("roles:write"),
            "org={org}&name=extra&description=",
        ),
        (
            "update_role",
            Permission("roles:write"),
            "org={org}&name=spare",
        ),
        (
            "delete_role",
            Permission("roles:write"),
            "org={org}&name=spare",
        ),
        ("list_api_tokens", Permission("tokens:write"), "org={org}"),
        ("new_api_token", Permission("tokens:write"), "org={org}"),
        (
            "create_api_token",
            Permission("tokens:write"),
            "org={org}&name=t&role=guest",
        ),
        (
            "revoke_api_token",
            Permission("tokens:write"),
            "org={org}&id={token}",
        ),
        ("list_domains", Permission("domains:read"), "org={org}"),
        (
            "add_domain",
            Permission("domains:write"),
            "org={org}&domain=new-matrix.example",
        ),
        (
            "verify_domain",
            Permission("domains:write"),
            "org={org}&domain=matrix.example",
        ),
        (
            "restart_domain",
            Permission("domains:write"),
            "org={org}&domain=matrix.example",
        ),
        (
            "remove_domain",
            Permission("domains:write"),
            "org={org}&domain=matrix.example",
        ),
        ("get_require_mfa", Permission("sso:read"), "org={org}"),
        ("set_require_mfa", Permission("sso:write"), "org={org}"),
        ("get_branding", Permission("sso:read"), "org={org}"),
        (
            "save_branding",
            Permission("sso:write"),
            "org={org}&display_name=X&accent_color=%23112233",
        ),
        ("remove_logo", Permission("sso:write"), "org={org}"),
        ("list_setup_links", Permission("sso:write"), "org={org}"),
        ("new_setup_link", Permission("sso:write"), "org={org}"),
        (
            "create_setup_link",
            Permission("sso:write"),
            "org={org}&sso=on",
        ),
        (
            "revoke_setup_link",
            Permission("sso:write"),
            "org={org}&id=nope",
        ),
        ("get_sso", Permission("sso:read"), "org={org}"),
        ("sso_checklist", Permission("sso:read"), "org={org}"),
        ("enable_sso", Permission("sso:write"), "org={org}"),
        ("disable_sso", Permission("sso:write"), "org={org}"),
        ("disconnect_sso", Permission("sso:write"), "org={org}"),
        ("test_sso", Permission("sso:write"), "org={org}"),
        ("approve_sso_change", Permission("sso:write"), "org={org}"),
        ("rotate_saml_sp_key", Permission("sso:write"), "org={org}"),
        (
            "save_provisioning",
            Permission("sso:write"),
            "org={org}&form[default_role]=guest",
        ),
        (
            "save_sso",
            Permission("sso:write"),
            "org={org}&form[provider_label]=X&form[discovery_url]=https%3A%2F%2Fidp.example&form[client_id]=c",
        ),
    ]
}

/// The cell for a server function, or `None` where the caller's own
/// account decides (and the function's own tests cover it). Server
/// functions take the session cookie only: a bearer token is nobody there.
fn expected_fn(caller: Caller, name: &str, needs: Needs) -> Option<StatusCode> {
    let anonymous = matches!(
        caller,
        Caller::Anonymous | Caller::OtherOrgToken | Caller::TokenOfRemovedCreator
    );
    if let (Some(scopes), Needs::Permission(p)) = (caller.link_scopes(), needs) {
        return link_cell(scopes, fn_area(name), p.ends_with(":read"));
    }
    match needs {
        Needs::Public => None,
        // A setup link is a session without an account.
        Needs::SignedIn | Needs::Operator if caller.link_scopes().is_some() => {
            Some(StatusCode::UNAUTHORIZED)
        }
        _ if anonymous => Some(StatusCode::UNAUTHORIZED),
        Needs::SignedIn => None,
        Needs::Operator => Some(StatusCode::FORBIDDEN),
        Needs::Member => Some(match caller {
            Caller::OtherOrgMember => StatusCode::NOT_FOUND,
            _ => StatusCode::OK,
        }),
        Needs::Permission(p) => Some(match caller {
            Caller::OtherOrgMember => StatusCode::NOT_FOUND,
            Caller::Viewer if VIEWER.contains(&p) => StatusCode::OK,
            Caller::NarrowRole if p == "audit:read" => StatusCode::OK,
            _ => StatusCode::FORBIDDEN,
        }),
    }
}

/// Which setup-link scope a server function belongs to.
fn fn_area(name: &str) -> Option<&'static str> {
    match name {
        "list_domains" | "add_domain" | "verify_domain" | "restart_domain" | "remove_domain" => {
            Some("domains")
        }
        "save_provisioning" | "list_roles" => Some("provisioning"),
        "get_sso" | "sso_checklist" | "save_sso" | "enable_sso" | "disable_sso"
        | "disconnect_sso" | "test_sso" | "rotate_saml_sp_key" => Some("sso"),
        _ => None,
    }
}

db_test!(
    every_server_function_refuses_every_caller_it_should,
    |app| {
        let fx = Fixture::build(&app, "fn-matrix.test").await;
        let bearer = |secret: &str| format!("Bearer {secret}");
        let (old_bearer, other_bearer) = (bearer(&fx.old_secret), bearer(&fx.other_secret));

        // The table covers exactly the server functions the app registers.
        let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
            .map(|(path, _)| path.trim_start_matches("/api/").to_owned())
            .collect();
        let tabled: BTreeSet<String> = server_fns()
            .iter()
            .map(|(n, _, _)| (*n).to_owned())
            .collect();
        assert_eq!(
            registered, tabled,
            "a server function without a row (or a row without one)"
        );

        let mut cells = 0;
        for (name, needs, form) in server_fns() {
            let form = form
                .replace("{org}", &fx.org)
                .replace("{user_id}", &fx.guest_id)
                .replace("{invitation}", &fx.invitation_id)
                .replace("{token}", &fx.token_id);
            for caller in CALLERS {
                let Some(want) = expected_fn(caller, name, needs) else {
                    continue;
                };
                let mut req = http::Request::post(format!("/api/{name}"))
                    .header(
                        http::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .header(http::header::ACCEPT, "application/json");
                req = match caller {
                    Caller::Anonymous => req,
                    Caller::OtherOrgMember => req.header(http::header::COOKIE, &fx.other_owner),
                    Caller::OtherOrgToken => req.header(http::header::AUTHORIZATION, &other_bearer),
                    Caller::TokenOfRemovedCreator => {
                        req.header(http::header::AUTHORIZATION, &old_bearer)
                    }
                    Caller::Viewer => req.header(http::header::COOKIE, &fx.viewer),
                    Caller::NarrowRole => req.header(http::header::COOKIE, &fx.narrow),
                    Caller::SetupLinkDomainsSso => {
                        req.header(http::header::COOKIE, &fx.link_domains_sso)
                    }
                    Caller::SetupLinkProvisioning => {
                        req.header(http::header::COOKIE, &fx.link_provisioning)
                    }
                };
                let res = app
                    .send(
                        req.body(axum::body::Body::from(form.clone()))
                            .expect("request"),
                    )
                    .await;
                assert_eq!(res.status, want, "{name} as {caller:?}: {}", res.body);
                cells += 1;
            }
        }
        assert!(cells >= 200, "{cells} cells");
        fx.assert_unchanged(&app).await;
    }
);

// The owner of organization B uses the ids of A's member, invitation,
// token, domain and role under B's own path: each is "not found", and A
// keeps everything.
db_test!(
    ids_of_another_organization_are_not_found_under_ones_own,
    |app| {
        let (owner_a, a) = app.org_with_owner("owner@ids-a.test", "Ids A").await;
        let base_a = format!("/api/v1/orgs/{a}");
        let own_a = Auth::Cookie(&owner_a);
        json_of(
            &app,
            "POST",
            &format!("{base_a}/roles"),
            own_a,
            Some(json!({"name": "spare", "description": "", "permissions": []})),
        )
        .await;
        let member = app.join(&owner_a, &a, "member@ids-a.test", "member").await;
        let member_id = app.user_id(&member).await;
        let invitation = json_of(
            &app,
            "POST",
            &format!("{base_a}/invitations"),
            own_a,
            Some(json!({"email": "p@ids-a.test", "role": "guest"})),
        )
        .await;
        let token = json_of(
            &app,
            "POST",
            &format!("{base_a}/api-tokens"),
            own_a,
            Some(json!({"name": "ci", "role": "viewer"})),
        )
        .await;
        json_of(
            &app,
            "POST",
            &format!("{base_a}/domains"),
            own_a,
            Some(json!({"domain": "ids-a.example"})),
        )
        .await;

        let (owner_b, b) = app.org_with_owner("owner@ids-b.test", "Ids B").await;
        let base_b = format!("/api/v1/orgs/{b}");
        let inv_id = invitation["id"].as_str().expect("id");
        let token_id = token["id"].as_str().expect("id");
        let attempts = [
            (
                "PATCH",
                format!("{base_b}/members/{member_id}"),
                Some(json!({"role": "guest"})),
            ),
            (
                "PATCH",
                format!("{base_b}/members/{member_id}"),
                Some(json!({"status": "deactivated"})),
            ),
            ("DELETE", format!("{base_b}/members/{member_id}"), None),
            ("DELETE", format!("{base_b}/invitations/{inv_id}"), None),
            ("DELETE", format!("{base_b}/api-tokens/{token_id}"), None),
            (
                "POST",
                format!("{base_b}/domains/ids-a.example/verify"),
                None,
            ),
            ("DELETE", format!("{base_b}/domains/ids-a.example"), None),
            (
                "PATCH",
                format!("{base_b}/roles/spare"),
                Some(json!({"permissions": ["audit:read"]})),
            ),
            ("DELETE", format!("{base_b}/roles/spare"), None),
        ];
        for (method, path, body) in attempts {
            let res = app.api(method, &path, Auth::Cookie(&owner_b), body).await;
            assert_eq!(
                res.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                res.body
            );
        }

        let members = json_of(&app, "GET", &format!("{base_a}/members"), own_a, None).await;
        let row = members["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["user_id"] == member_id.as_str())
            .cloned()
            .expect("member kept");
        assert_eq!(
            (row["role"].as_str(), row["status"].as_str()),
            (Some("member"), Some("active"))
        );
        assert_eq!(
            json_of(&app, "GET", &format!("{base_a}/invitations"), own_a, None)
                .await
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert_eq!(
            json_of(&app, "GET", &format!("{base_a}/api-tokens"), own_a, None)
                .await
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert_eq!(
            json_of(&app, "GET", &format!("{base_a}/domains"), own_a, None)
                .await
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let roles = json_of(&app, "GET", &format!("{base_a}/roles"), own_a, None).await;
        let spare = roles
            .as_array()
            .expect("roles")
            .iter()
            .find(|r| r["name"] == "spare")
            .cloned()
            .expect("role kept");
        assert_eq!(spare["permissions"], json!([]));
    }
);
