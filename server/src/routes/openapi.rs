//! The OpenAPI document, generated from the handlers' annotations.

use super::error::{ErrorBody, ErrorDetail};
use super::{api, domains_api, health, orgs_api, security_api, setup_links_api, sso_api};
use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Latchkey API", description = "Organizations, domains and OpenID Connect single sign-on."),
    paths(
        health::health,
        health::ready,
        api::me,
        orgs_api::list_members,
        orgs_api::update_member,
        orgs_api::remove_member,
        orgs_api::create_invitation,
        orgs_api::list_invitations,
        orgs_api::revoke_invitation,
        orgs_api::list_roles,
        orgs_api::create_role,
        orgs_api::update_role,
        orgs_api::delete_role,
        orgs_api::list_tokens,
        orgs_api::create_token,
        orgs_api::revoke_token,
        orgs_api::audit_events,
        domains_api::list,
        domains_api::add,
        domains_api::verify,
        domains_api::remove,
        sso_api::read,
        sso_api::write,
        sso_api::remove,
        sso_api::enable,
        sso_api::disable,
        sso_api::test,
        sso_api::approve,
        sso_api::provisioning,
        sso_api::rotate_sp_key,
        security_api::read,
        security_api::write,
        setup_links_api::create,
        setup_links_api::list,
        setup_links_api::revoke,
    ),
    components(schemas(health::Health, health::Readiness, api::Me, api::MeOrg, ErrorBody, ErrorDetail)),
    modifiers(&Security, &StandardResponses)
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("latchkey_session"))),
        );
    }
}

/// The answers every handler can give besides its own, written into each
/// operation once here rather than on every annotation: 400 for a body that
/// is not JSON or a query that does not parse, 401 without valid
/// credentials, 403 and 404 under an organization, 422 for a body of the
/// wrong shape. Also gives every operation its security and a unique id
/// (`security_read`, not two `read`s).
struct StandardResponses;

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::security::SecurityRequirement;
        let error = |description: &str| {
            utoipa::openapi::ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        let mut ids = std::collections::BTreeMap::<String, usize>::new();
        for item in openapi.paths.paths.values() {
            for op in operations(item) {
                *ids.entry(op.operation_id.clone().unwrap_or_default())
                    .or_default() += 1;
            }
        }
        for (path, item) in &mut openapi.paths.paths {
            let public = ["/api/v1/health", "/api/v1/ready", "/api/v1/openapi.json"]
                .contains(&path.as_str());
            let in_org = path.contains("{org}");
            for op in operations_mut(item) {
                if let Some(id) = op.operation_id.clone()
                    && ids.get(&id).is_some_and(|n| *n > 1)
                    && let Some(tag) = op.tags.as_ref().and_then(|t| t.first())
                {
                    op.operation_id = Some(format!("{tag}_{id}"));
                }
                if public {
                    continue;
                }
                op.security = Some(vec![
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                    SecurityRequirement::new("session", Vec::<String>::new()),
                ]);
                let has_query = op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| matches!(p.parameter_in, ParameterIn::Query))
                });
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description).into());
                };
                add(
                    "401",
                    "Not signed in, or the API token is invalid or revoked",
                );
                if in_org {
                    add("403", "The caller's role lacks the permission this needs");
                    add(
                        "404",
                        "No such organization, or the caller is not a member of it",
                    );
                }
                if has_query {
                    add("400", "The query string does not parse (`invalid_query`)");
                }
                if op.request_body.is_some() {
                    add(
                        "400",
                        "The body is not JSON, or not sent as `application/json` (`invalid_body`)",
                    );
                    add(
                        "422",
                        "The body has the wrong shape or an invalid value; `field` names it",
                    );
                }
            }
        }
    }
}

fn operations(
    item: &utoipa::openapi::PathItem,
) -> impl Iterator<Item = &utoipa::openapi::path::Operation> {
    [&item.get, &item.put, &item.post, &item.delete, &item.patch]
        .into_iter()
        .flatten()
}

fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
