//! JSON errors for the REST API: `{"error": {"code", "message", "field"}}`
//! with the status of the error's kind. Internal details never get here.

use app::error::AppError;
use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `unauthenticated`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request field concerned, if any.
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.kind.status();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.0.code,
                message: self.0.message,
                field: self.0.field,
            },
        };
        let mut res = (status, Json(body)).into_response();
        if status == http::StatusCode::SERVICE_UNAVAILABLE {
            // Unavailable is passing (the database is away): say when to retry.
            res.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("10"),
            );
        }
        res
    }
}

/// For unknown paths under `/api/v1`.
pub async fn not_found() -> ApiError {
    ApiError(AppError::not_found(
        "There is no API endpoint at this path.",
    ))
}
