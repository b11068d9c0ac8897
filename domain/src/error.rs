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
    /// A withdrawal or debit larger than the balance.
    #[error("insufficient funds: the balance is {balance}, {requested} was requested")]
    InsufficientFunds {
        /// Balance before the command, formatted.
        balance: String,
        /// The amount asked for, formatted.
        requested: String,
    },
    /// Closing an account that still holds money.
    #[error("the balance must be zero to close the account; it is {0}")]
    BalanceNotZero(String),
    /// A transfer between accounts of different currencies.
    #[error("currencies differ: {from} and {to}")]
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
    /// An amount that is not positive, has too many decimals, or overflows.
    #[error("invalid amount: {0}")]
    InvalidAmount(MoneyError),
    /// An unknown currency.
    #[error("invalid currency: {0}")]
    InvalidCurrency(MoneyError),
    /// A value outside its limits.
    #[error("{0}")]
    Validation(ValueError),
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
            Self::InvalidAmount(_) => ErrorCode::InvalidAmount,
            Self::InvalidCurrency(_) => ErrorCode::InvalidCurrency,
            Self::Validation(_) => ErrorCode::ValidationFailed,
        }
    }
}

impl From<MoneyError> for DomainError {
    fn from(e: MoneyError) -> Self {
        match e {
            MoneyError::InvalidCurrency(_) => Self::InvalidCurrency(e),
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
