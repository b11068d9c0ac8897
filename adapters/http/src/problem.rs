//! The API's one error type: every failure becomes `application/problem+json`
//! (RFC 9457) with a machine-readable `code`; 5xx answers never reveal their cause.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_application::ports::store::StoreError;
use ledger_application::queries::QueryError;
use ledger_application::CommandError;
use ledger_domain::ErrorCode;
use serde::Serialize;
use utoipa::ToSchema;

/// A problem answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Its code.
    pub code: ErrorCode,
    /// What happened, for a person.
    pub detail: String,
    /// The index of the batch operation it is about, if any.
    pub operation: Option<usize>,
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
    /// In a batch's answer: the index of the operation it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<usize>,
}

/// The HTTP status of each error code: the one place it is decided (a new code does
/// not compile until it has one).
pub fn status(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::MalformedRequest => StatusCode::BAD_REQUEST,
        C::Unauthorized => StatusCode::UNAUTHORIZED,
        C::Forbidden => StatusCode::FORBIDDEN,
        C::AccountNotFound | C::TransferNotFound | C::NotFound => StatusCode::NOT_FOUND,
        C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::UriTooLong => StatusCode::URI_TOO_LONG,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::AccountExists
        | C::AccountClosed
        | C::TransferExists
        | C::TransferNotPending
        | C::TransferExpired
        | C::PendingTransfers
        | C::ConcurrencyConflict => StatusCode::CONFLICT,
        C::VersionMismatch => StatusCode::PRECONDITION_FAILED,
        C::ValidationFailed
        | C::InvalidAmount
        | C::InvalidCurrency
        | C::InsufficientFunds
        | C::BalanceNotZero
        | C::AmountExceedsPending
        | C::LimitBelowDebt
        | C::CurrencyMismatch
        | C::SameAccount
        | C::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        C::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        C::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl ApiError {
    /// An error with a code of API.md; the status follows from the code.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            status: status(code),
            code,
            detail: detail.into(),
            operation: None,
        }
    }

    /// The same problem, about batch operation `index`.
    pub fn at(mut self, index: usize) -> Self {
        self.operation = Some(index);
        self
    }

    /// The problem+json body.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!(
                "https://ledger.example/problems/{}",
                self.code.as_str().replace('_', "-")
            ),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.as_str().to_owned(),
            operation: self.operation,
        }
    }

    /// 400 `malformed_request`.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedRequest, detail)
    }

    /// 422 `validation_failed`.
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, detail)
    }

    /// 404 `account_not_found`.
    pub fn account_not_found() -> Self {
        Self::new(ErrorCode::AccountNotFound, "no such account")
    }

    /// 500 `internal`; the cause goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            ErrorCode::Internal,
            "an internal error occurred; it has been logged",
        )
    }

    /// 503 `service_unavailable`: the request's time bound passed before it was handed
    /// to the command path, so nothing of it is written.
    pub fn timed_out() -> Self {
        tracing::warn!("request timed out before it was handed over; nothing written");
        Self::new(
            ErrorCode::ServiceUnavailable,
            "the request took longer than the server allows (server.request_timeout_ms); \
             nothing of it was written; retry later",
        )
    }

    /// 503 `service_unavailable`: a request handed over whose work did not end within
    /// twice the time bound; it may yet take effect.
    pub fn outcome_unknown() -> Self {
        tracing::warn!("a request's write did not end in time; its outcome is unknown");
        Self::new(
            ErrorCode::ServiceUnavailable,
            format!(
                "the request was being carried out but did not end in time: it may yet \
                 take effect. {BEFORE_SENDING_AGAIN}"
            ),
        )
    }

    /// 503 `service_unavailable`: a command whose write reached the event store without
    /// an answer to whether it committed (the connection lost as it committed, the
    /// server stopping); it may have taken effect.
    pub fn outcome_lost(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(%cause, "a command's write went unanswered; its outcome is unknown");
        Self::new(
            ErrorCode::ServiceUnavailable,
            format!(
                "the request's write reached the event store, but whether it was committed \
                 is unknown (the answer was lost): it may have taken effect. \
                 {BEFORE_SENDING_AGAIN}"
            ),
        )
    }

    /// 503 `service_unavailable`: this instance serves its most live streams.
    pub fn live_streams_full() -> Self {
        tracing::debug!("a live stream was refused: server.max_live_streams are open");
        Self::new(
            ErrorCode::ServiceUnavailable,
            "this instance already serves as many live streams as it may \
             (server.max_live_streams); retry later, or page through /events",
        )
    }

    /// 429 `rate_limited`: the caller already has its most live streams open.
    pub fn live_streams_of_key_full(per_key: usize) -> Self {
        tracing::debug!(
            "a live stream was refused: its key has server.max_live_streams_per_key open"
        );
        Self::new(
            ErrorCode::RateLimited,
            format!(
                "this key already has {per_key} live streams open on this instance \
                 (server.max_live_streams_per_key); close one, or follow several \
                 accounts on /events/stream"
            ),
        )
    }

    /// 503 `service_unavailable`; the cause goes to the log only.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(%cause, "event store unavailable");
        Self::new(
            ErrorCode::ServiceUnavailable,
            "the event store cannot take the request now (unreachable, or out of disk or \
             memory: the server log says which); retry later",
        )
    }
}

/// What a client whose command may have taken effect should do.
const BEFORE_SENDING_AGAIN: &str = "Read what it changes before sending it again (a command \
    whose Idempotency-Key is replayed answers its outcome when sent again with the same key)";

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match &e {
            CommandError::Unavailable(m) => Self::unavailable(m),
            CommandError::OutcomeUnknown(m) => Self::outcome_lost(m),
            CommandError::Internal(m) => Self::internal(m),
            // A refusal of the service's own mistake (`NotTheTransfersAccounts`): logged,
            // and its text kept from the client.
            CommandError::Refused(r) if r.code() == ErrorCode::Internal => Self::internal(r),
            CommandError::StoredRefusal { code, detail }
            | CommandError::Rejected { code, detail } => Self::new(*code, detail.clone()),
            other => Self::new(other.code(), other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Self::unavailable(m),
            StoreError::Failed(m) | StoreError::Unreadable(m) => Self::internal(m),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Store(e @ StoreError::Unavailable(_)) => Self::from(e),
            QueryError::ReadModel(
                ledger_application::ports::readmodel::ReadModelError::Unavailable(m),
            ) => Self::unavailable(m),
            QueryError::Forbidden(f) => Self::new(ErrorCode::Forbidden, f.to_string()),
            QueryError::AccountNotFound => Self::account_not_found(),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.problem();
        let text = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, text).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        // RFC 9110, section 11.6.1: a 401 names the scheme that would be accepted.
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ledger\""),
            );
        }
        // RFC 9110, section 10.2.3: a 503 says when to try again (the store's bounds
        // are seconds; a client backing off by itself may wait far longer).
        // A 429 made here (a caller's bound on live streams) says it too; the rate
        // limit's own 429 says how long.
        if matches!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
