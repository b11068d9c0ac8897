//! The API's error vocabulary: one enum, so that a code that does not exist cannot be
//! written (and each has exactly one HTTP status, decided in the HTTP adapter).

use serde::{Deserialize, Serialize};

/// A machine-readable error code of the API (`code` in a problem answer). Serialized
/// as its snake_case name, which is also how refusals are stored under idempotency keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not JSON, or not the expected shape; a header is unreadable.
    MalformedRequest,
    /// No or unknown token.
    Unauthorized,
    /// The token lacks the role, or admin is disabled.
    Forbidden,
    /// No such account.
    AccountNotFound,
    /// No such transfer.
    TransferNotFound,
    /// No such route.
    NotFound,
    /// The route does not take this method.
    MethodNotAllowed,
    /// The body is too large.
    PayloadTooLarge,
    /// The path and query are too long.
    UriTooLong,
    /// The body is not JSON by its content type.
    UnsupportedMediaType,
    /// The account id is taken.
    AccountExists,
    /// The account is closed.
    AccountClosed,
    /// The transfer id is taken.
    TransferExists,
    /// The transfer is posted, voided or expired.
    TransferNotPending,
    /// The transfer's `expires_at` has passed.
    TransferExpired,
    /// The account has pending transfers.
    PendingTransfers,
    /// Other writers kept winning.
    ConcurrencyConflict,
    /// `If-Match` names no version the account is at.
    VersionMismatch,
    /// A value outside its limits.
    ValidationFailed,
    /// An amount that is not positive, has too many decimals, or overflows.
    InvalidAmount,
    /// An unknown currency.
    InvalidCurrency,
    /// More than the balance.
    InsufficientFunds,
    /// Closing an account that holds money.
    BalanceNotZero,
    /// A transfer between currencies.
    CurrencyMismatch,
    /// A transfer from an account to itself.
    SameAccount,
    /// More than remains of a pending transfer.
    AmountExceedsPending,
    /// An overdraft limit below what the account owes.
    LimitBelowDebt,
    /// An idempotency key reused with another request.
    IdempotencyKeyReused,
    /// The key or token made more requests than its rate allows.
    RateLimited,
    /// A failure whose cause is in the log.
    Internal,
    /// The event store cannot be reached.
    ServiceUnavailable,
}

impl ErrorCode {
    /// Every code, in the order of the API's table.
    pub const ALL: [ErrorCode; 31] = [
        Self::MalformedRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::AccountNotFound,
        Self::TransferNotFound,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::UriTooLong,
        Self::UnsupportedMediaType,
        Self::AccountExists,
        Self::AccountClosed,
        Self::TransferExists,
        Self::TransferNotPending,
        Self::TransferExpired,
        Self::PendingTransfers,
        Self::ConcurrencyConflict,
        Self::VersionMismatch,
        Self::ValidationFailed,
        Self::InvalidAmount,
        Self::InvalidCurrency,
        Self::InsufficientFunds,
        Self::BalanceNotZero,
        Self::CurrencyMismatch,
        Self::SameAccount,
        Self::AmountExceedsPending,
        Self::LimitBelowDebt,
        Self::IdempotencyKeyReused,
        Self::RateLimited,
        Self::Internal,
        Self::ServiceUnavailable,
    ];

    /// The snake_case name (`insufficient_funds`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedRequest => "malformed_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::AccountNotFound => "account_not_found",
            Self::TransferNotFound => "transfer_not_found",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UriTooLong => "uri_too_long",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::AccountExists => "account_exists",
            Self::AccountClosed => "account_closed",
            Self::TransferExists => "transfer_exists",
            Self::TransferNotPending => "transfer_not_pending",
            Self::TransferExpired => "transfer_expired",
            Self::PendingTransfers => "pending_transfers",
            Self::ConcurrencyConflict => "concurrency_conflict",
            Self::VersionMismatch => "version_mismatch",
            Self::ValidationFailed => "validation_failed",
            Self::InvalidAmount => "invalid_amount",
            Self::InvalidCurrency => "invalid_currency",
            Self::InsufficientFunds => "insufficient_funds",
            Self::BalanceNotZero => "balance_not_zero",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::SameAccount => "same_account",
            Self::AmountExceedsPending => "amount_exceeds_pending",
            Self::LimitBelowDebt => "limit_below_debt",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
            Self::ServiceUnavailable => "service_unavailable",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    /// Compares with the API name (`code == "insufficient_funds"`).
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn the_serde_name_is_the_api_name() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
            assert_eq!(code.to_string(), code.as_str());
            assert!(code == code.as_str());
            assert!(code != "no_such_code");
        }
    }
}
