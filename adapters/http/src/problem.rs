//! The API's one error type: every failure becomes `application/problem+json`
//! (RFC 9457) with a machine-readable `code`; 5xx answers never reveal their cause.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_application::queries::QueryError;
use ledger_application::CommandError;
use serde::Serialize;
use utoipa::ToSchema;

/// A problem answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// One code of API.md.
    pub code: &'static str,
    /// What happened, for a person.
    pub detail: String,
}

/// The problem+json body.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened.
    pub detail: String,
    /// Machine-readable code.
    pub code: String,
}

/// The status of each error code of API.md.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "malformed_request" => StatusCode::BAD_REQUEST,
        "unauthorized" => StatusCode::UNAUTHORIZED,
        "forbidden" => StatusCode::FORBIDDEN,
        "account_not_found" | "not_found" => StatusCode::NOT_FOUND,
        "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "uri_too_long" => StatusCode::URI_TOO_LONG,
        "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "account_exists" | "account_closed" | "transfer_exists" | "concurrency_conflict" => {
            StatusCode::CONFLICT
        }
        "version_mismatch" => StatusCode::PRECONDITION_FAILED,
        "service_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "internal" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// Every error code of API.md.
pub const CODES: &[&str] = &[
    "malformed_request",
    "unauthorized",
    "forbidden",
    "account_not_found",
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "uri_too_long",
    "unsupported_media_type",
    "account_exists",
    "account_closed",
    "transfer_exists",
    "concurrency_conflict",
    "version_mismatch",
    "validation_failed",
    "invalid_amount",
    "invalid_currency",
    "insufficient_funds",
    "balance_not_zero",
    "currency_mismatch",
    "same_account",
    "idempotency_key_reused",
    "internal",
    "service_unavailable",
];

fn static_code(code: &str) -> &'static str {
    CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("internal")
}

impl ApiError {
    /// An error with a code of API.md; the status follows from the code.
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: status_of(code),
            code,
            detail: detail.into(),
        }
    }

    /// 400 `malformed_request`.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new("malformed_request", detail)
    }

    /// 422 `validation_failed`.
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new("validation_failed", detail)
    }

    /// 404 `account_not_found`.
    pub fn account_not_found() -> Self {
        Self::new("account_not_found", "no such account")
    }

    /// 500 `internal`; the cause goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new("internal", "an internal error occurred; it has been logged")
    }

    /// 503 `service_unavailable`; the cause goes to the log only.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(%cause, "event store unavailable");
        Self::new(
            "service_unavailable",
            "the event store cannot be reached; retry later",
        )
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match &e {
            CommandError::Unavailable(m) => Self::unavailable(m),
            CommandError::Internal(m) => Self::internal(m),
            CommandError::StoredRefusal { code, detail } => {
                Self::new(static_code(code), detail.clone())
            }
            other => Self::new(static_code(other.code()), other.to_string()),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Store(ledger_application::ports::store::StoreError::Unavailable(m)) => {
                Self::unavailable(m)
            }
            QueryError::ReadModel(
                ledger_application::ports::readmodel::ReadModelError::Unavailable(m),
            ) => Self::unavailable(m),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!(
                "https://ledger.example/problems/{}",
                self.code.replace('_', "-")
            ),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
        };
        let text = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, text).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
