//! JSON body and query extractors whose rejections use the API's JSON
//! error format (400 for unreadable input, 422 for the wrong shape).

use super::error::ApiError;
use app::error::AppError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use http::request::Parts;
use serde::de::DeserializeOwned;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(AppError::unprocessable(
                "invalid_body",
                format!(
                    "The request body does not have the expected fields: {}",
                    e.body_text()
                ),
            )
            .into()),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::bad_request(
                "invalid_body",
                "Send the body as JSON with `Content-Type: application/json`.",
            )
            .into()),
            Err(_) => Err(AppError::bad_request(
                "invalid_body",
                "The request body is not valid JSON.",
            )
            .into()),
        }
    }
}

pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|e: QueryRejection| {
                AppError::bad_request(
                    "invalid_query",
                    format!("The query string is not valid: {}", e.body_text()),
                )
                .into()
            })
    }
}
