//! Domain errors: every refusal a command can meet, each with one API error code.

use crate::code::ErrorCode;
use crate::money::MoneyError;
use crate::values::ValueError;

/// Why the domain refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Opening an account whose id is taken.
    #[error("an account with this id already exists")]
    AccountExists,
    /// A command for an account that was never opened.
    #[error("no such account")]
    AccountNotFound,
    /// A command for a closed account.
    #[error("the account is closed")]
    AccountClosed,
    /// A withdrawal, debit or reservation larger than what is available plus the
    /// overdraft limit.
    #[error("insufficient funds: {available} is available and the overdraft limit is {limit}; {requested} was requested")]
    InsufficientFunds {
        /// Available before the command (balance less pending debits), formatted.
        available: String,
        /// The overdraft limit, formatted.
        limit: String,
        /// The amount asked for, formatted.
        requested: String,
    },
    /// Closing an account that still holds money.
    #[error("the balance must be zero to close the account; it is {0}")]
    BalanceNotZero(String),
    /// A transfer between accounts of different currencies. (What is said names the
    /// payer's only: an owner key's payee may be another owner's account, of which it
    /// learns nothing but the id.)
    #[error("the payee's account does not hold {from}, the payer's currency")]
    CurrencyMismatch {
        /// Debited account's currency.
        from: String,
        /// Credited account's currency.
        to: String,
    },
    /// A transfer from an account to itself.
    #[error("a transfer needs two different accounts")]
    SameAccount,
    /// A transfer id that was used before.
    #[error("a transfer with this id already exists")]
    TransferExists,
    /// Closing an account with pending transfers in or out.
    #[error("the account has pending transfers; post or void them first")]
    PendingTransfers,
    /// No transfer with this id.
    #[error("no such transfer")]
    TransferNotFound,
    /// Posting or voiding a transfer that is no longer pending.
    #[error("the transfer is {0}, not pending")]
    TransferNotPending(&'static str),
    /// Posting or voiding a transfer past its `expires_at`.
    #[error("the transfer expired at {0}")]
    TransferExpired(String),
    /// Expiring a pending transfer before its `expires_at`.
    #[error("the transfer does not expire before {0}")]
    TransferNotDue(String),
    /// Posting more than remains of a pending transfer.
    #[error("{requested} was requested but only {remaining} remains pending")]
    AmountExceedsPending {
        /// What remains, formatted.
        remaining: String,
        /// The amount asked for, formatted.
        requested: String,
    },
    /// An overdraft limit that no longer covers what the account owes.
    #[error("an overdraft limit of {limit} does not cover the available {available}")]
    LimitBelowDebt {
        /// Available now, formatted.
        available: String,
        /// The limit asked for, formatted.
        limit: String,
    },
    /// An amount that is not positive, has too many decimals, or overflows.
    #[error("invalid amount: {0}")]
    InvalidAmount(MoneyError),
    /// An unknown currency.
    #[error("invalid currency: {0}")]
    InvalidCurrency(MoneyError),
    /// A value outside its limits.
    #[error("{0}")]
    Validation(ValueError),
    /// A settlement planned on accounts other than the two its transfer names: the
    /// caller's mistake, never the client's (no money moves on the wrong accounts).
    #[error("the accounts given are not those of transfer {0}")]
    NotTheTransfersAccounts(String),
}

impl DomainError {
    /// The machine-readable code of API.md.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::AccountExists => ErrorCode::AccountExists,
            Self::AccountNotFound => ErrorCode::AccountNotFound,
            Self::AccountClosed => ErrorCode::AccountClosed,
            Self::InsufficientFunds { .. } => ErrorCode::InsufficientFunds,
            Self::BalanceNotZero(_) => ErrorCode::BalanceNotZero,
            Self::CurrencyMismatch { .. } => ErrorCode::CurrencyMismatch,
            Self::SameAccount => ErrorCode::SameAccount,
            Self::TransferExists => ErrorCode::TransferExists,
            Self::PendingTransfers => ErrorCode::PendingTransfers,
            Self::TransferNotFound => ErrorCode::TransferNotFound,
            Self::TransferNotPending(_) | Self::TransferNotDue(_) => ErrorCode::TransferNotPending,
            Self::TransferExpired(_) => ErrorCode::TransferExpired,
            Self::AmountExceedsPending { .. } => ErrorCode::AmountExceedsPending,
            Self::LimitBelowDebt { .. } => ErrorCode::LimitBelowDebt,
            Self::InvalidAmount(_) => ErrorCode::InvalidAmount,
            Self::InvalidCurrency(_) => ErrorCode::InvalidCurrency,
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::NotTheTransfersAccounts(_) => ErrorCode::Internal,
        }
    }
}

impl From<MoneyError> for DomainError {
    fn from(e: MoneyError) -> Self {
        match e {
            MoneyError::InvalidCurrency(_) | MoneyError::WithdrawnCurrency(..) => {
                Self::InvalidCurrency(e)
            }
            MoneyError::CurrencyMismatch(from, to) => Self::CurrencyMismatch {
                from: from.to_owned(),
                to: to.to_owned(),
            },
            other => Self::InvalidAmount(other),
        }
    }
}

impl From<ValueError> for DomainError {
    fn from(e: ValueError) -> Self {
        Self::Validation(e)
    }
}
