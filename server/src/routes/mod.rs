//! The axum router: REST API, Leptos pages and server functions, static
//! files, sessions and request logging.

pub mod api;
mod branding;
mod caching;
pub mod caller;
mod cross_site;
mod db_outage;
pub mod domains_api;
pub mod error;
pub mod extract;
pub mod health;
pub mod openapi;
pub mod orgs_api;
pub mod panics;
mod saml;
pub mod security_api;
mod security_headers;
mod server_fn_status;
mod setup_links_api;
pub mod sso_api;
mod sso_flow;
mod sso_logout;

use crate::request_log;
use app::ssr::session_store::DbSessionStore;
use app::ssr::state::AppState;
use app::{App, shell};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use std::sync::OnceLock;
use tower_sessions::cookie::{Key, SameSite};
use tower_sessions::{Expiry, SessionManagerLayer};

pub const SESSION_COOKIE: &str = "latchkey_session";

/// The page routes, generated once per process. While Leptos generates them
/// it suppresses resource loading process-wide, so a second generation (a
/// second router, as the tests build) would leave any page rendering at that
/// moment waiting forever for its data.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.settings.secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnSessionEnd)
        .with_signed(Key::from(state.keys.cookie_key()));

    let page_state = state.clone();
    let fallback_state = state.clone();
    let options = state.leptos_options.clone();
    Router::new()
        .nest("/api/v1", api::router())
        .merge(sso_flow::router())
        .merge(sso_logout::router())
        .merge(saml::router())
        .merge(branding::router())
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(page_state.clone());
                app::ssr::security_headers::provide_request_nonce();
                app::ssr::flash::provide_taken();
            },
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(
            move || {
                provide_context(fallback_state.clone());
                app::ssr::security_headers::provide_request_nonce();
            },
            shell,
        ))
        .layer(axum::middleware::from_fn(server_fn_status::apply))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            db_outage::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cross_site::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers::apply,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_log::client_addr,
        ))
        .layer(axum::middleware::from_fn(caching::apply))
        .layer(axum::middleware::from_fn(panics::contain))
        .layer(axum::middleware::from_fn(request_log::log))
        .with_state(state)
}
