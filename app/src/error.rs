//! The error every server function and API handler returns to callers.
//!
//! It carries a stable machine code, a message written for people and the
//! form field it concerns, and nothing internal: database or library errors
//! are logged where they happen and become [`ErrorKind::Internal`].

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What went wrong, in terms a caller can act on. The HTTP layer maps each
/// kind to a status code; the domain layer never mentions HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Malformed input (a missing field, a value that cannot be parsed).
    BadRequest,
    /// No signed-in user or valid API token.
    Unauthorized,
    /// Signed in, but without the needed permission.
    Forbidden,
    NotFound,
    /// The request clashes with existing state (a taken email or slug).
    Conflict,
    /// Well-formed but refused by a rule (a password that is too short).
    Unprocessable,
    TooManyRequests,
    /// A dependency (the database) is unavailable.
    Unavailable,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    pub kind: ErrorKind,
    /// Stable code for scripts, e.g. `invalid_email`.
    pub code: String,
    /// Human-readable; safe to show as is.
    pub message: String,
    /// The input field the error is about, when there is one.
    pub field: Option<String>,
}

impl AppError {
    pub fn new(kind: ErrorKind, code: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: code.to_owned(),
            message: message.into(),
            field: None,
        }
    }

    /// Attaches the form field this error concerns.
    pub fn on(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, code, message)
    }

    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unprocessable, code, message)
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, "not_found", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            ErrorKind::Unauthorized,
            "unauthenticated",
            "You need to sign in first.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, "forbidden", message)
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorKind::Internal,
            "internal",
            "Something went wrong on our side. Please try again.",
        )
    }

    /// The message for `field`, if this error concerns it.
    pub fn message_for(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The browser could not reach us, or sent arguments we cannot read.
            ServerFnErrorErr::Request(_) => Self::new(
                ErrorKind::Unavailable,
                "network",
                "Could not reach the server. Check your connection and try again.",
            ),
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => Self::bad_request(
                "invalid_input",
                "Some of the form fields are missing or invalid.",
            ),
            _ => Self::internal(),
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The database (or the session store in it) cannot be reached. A page
    /// rendering on the server answers 503 too (the outage guard then
    /// serves its clear page), not 200 with an error panel.
    pub fn database_unavailable() -> Self {
        if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(http::StatusCode::SERVICE_UNAVAILABLE);
        }
        Self::new(
            ErrorKind::Unavailable,
            "database_unavailable",
            "The database is not reachable right now. Please try again.",
        )
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "database error");
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::database_unavailable()
            }
            _ => Self::internal(),
        }
    }
}

#[cfg(feature = "ssr")]
impl ErrorKind {
    /// The HTTP status every HTTP-facing layer answers with for this kind.
    pub fn status(self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Self::BadRequest => S::BAD_REQUEST,
            Self::Unauthorized => S::UNAUTHORIZED,
            Self::Forbidden => S::FORBIDDEN,
            Self::NotFound => S::NOT_FOUND,
            Self::Conflict => S::CONFLICT,
            Self::Unprocessable => S::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests => S::TOO_MANY_REQUESTS,
            Self::Unavailable => S::SERVICE_UNAVAILABLE,
            Self::Internal => S::INTERNAL_SERVER_ERROR,
        }
    }
}
