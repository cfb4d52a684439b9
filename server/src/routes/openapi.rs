//! The OpenAPI document, generated from the handlers' annotations.

use super::error::{ErrorBody, ErrorDetail};
use super::{api, domains_api, health, orgs_api, security_api, sso_api};
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
        sso_api::provisioning,
        security_api::read,
        security_api::write,
    ),
    components(schemas(health::Health, health::Readiness, api::Me, api::MeOrg, ErrorBody, ErrorDetail)),
    modifiers(&Security)
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

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
