//! Health and readiness for load balancers and orchestrators. Health says
//! whether this process serves and reaches its database; readiness adds
//! whether it should get traffic: not while draining for a shutdown, not
//! while migrations it expects are missing.

use app::ssr::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use serde::Serialize;
use std::sync::atomic::Ordering;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `draining` (shutting down: send no new work) or `unavailable`
    /// (the database cannot be reached).
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub database: &'static str,
    pub version: &'static str,
}

/// Liveness and database reachability.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "system",
    responses(
        (status = 200, description = "Serving, database reachable", body = Health),
        (status = 503, description = "Draining for a shutdown, or the database is unreachable", body = Health)
    )
)]
pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let db_ok = app::ssr::db::ping(&state.db).await;
    let draining = state.draining.load(Ordering::Relaxed);
    let status = match (draining, db_ok) {
        (true, _) => "draining",
        (false, true) => "ok",
        (false, false) => "unavailable",
    };
    let body = Health {
        status,
        database: if db_ok { "ok" } else { "unavailable" },
        version: env!("CARGO_PKG_VERSION"),
    };
    (code(status == "ok"), Json(body))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, `draining`, `database_unavailable` or `migrations_pending`.
    pub status: &'static str,
    /// `applied`, `pending` or `unknown` (database unreachable).
    pub migrations: &'static str,
}

/// Whether this instance should receive traffic.
#[utoipa::path(
    get,
    path = "/api/v1/ready",
    tag = "system",
    responses(
        (status = 200, description = "Ready for traffic", body = Readiness),
        (status = 503, description = "Draining, database unreachable, or migrations this release needs are not applied", body = Readiness)
    )
)]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let pending = if app::ssr::db::ping(&state.db).await {
        app::ssr::db::migrations_pending(&state.db).await.ok()
    } else {
        None
    };
    let migrations = match pending {
        Some(false) => "applied",
        Some(true) => "pending",
        None => "unknown",
    };
    let status = if state.draining.load(Ordering::Relaxed) {
        "draining"
    } else {
        match pending {
            Some(false) => "ready",
            Some(true) => "migrations_pending",
            None => "database_unavailable",
        }
    };
    (
        code(status == "ready"),
        Json(Readiness { status, migrations }),
    )
}

fn code(ok: bool) -> StatusCode {
    if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
