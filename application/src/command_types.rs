//! The command side's vocabulary: who asks (context), what is asked (actions), what
//! comes back (the account's new state) and why a command did not happen.

use ledger_domain::{
    Account, AccountCommand, AccountId, AccountStatus, Currency, Decimal, DomainError, ErrorCode,
    Money, MoneyError, Note, Owner, Versioned,
};
use serde::{Deserialize, Serialize};

use crate::ports::store::StoreError;
use crate::repository::LoadError;

/// Who asks, under which request, with which key and precondition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandContext {
    /// The caller: its actor name (recorded in the events) and its role.
    pub principal: crate::access::Principal,
    /// The request id, recorded in event metadata.
    pub request_id: Option<String>,
    /// The idempotency key, if the caller gave one.
    pub idempotency_key: Option<String>,
    /// The versions the caller expects the (first) account to be at (`If-Match`).
    pub if_match: Option<IfMatch>,
}

/// An `If-Match` precondition on the (first) account of a command. On an account that
/// does not exist it never holds (RFC 9110: there is no current version to match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any version of an existing account.
    Any,
    /// Any of these versions (strong comparison: the caller's tags that name no version
    /// exactly, such as `W/"5"` or `"05"`, are left out, as they can never match).
    Versions(Vec<u64>),
}

impl IfMatch {
    /// Whether an account at `version` (0: it does not exist) satisfies it.
    pub fn holds_at(&self, version: u64) -> bool {
        version > 0
            && match self {
                Self::Any => true,
                Self::Versions(v) => v.contains(&version),
            }
    }

    /// Its canonical text (for idempotency fingerprints): `*`, or `tags:` and the
    /// versions named, sorted and without repeats; no header at all is the empty text,
    /// so a list naming no version (`W/"3"`) is told apart from no precondition.
    pub fn canonical(&self) -> String {
        match self {
            Self::Any => "*".into(),
            Self::Versions(v) => {
                let named: std::collections::BTreeSet<u64> = v.iter().copied().collect();
                let list: Vec<String> = named.iter().map(u64::to_string).collect();
                format!("tags:{}", list.join(","))
            }
        }
    }
}

/// An account's state right after a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountReply {
    /// Id.
    pub account_id: String,
    /// Owner.
    pub owner: String,
    /// Currency.
    pub currency: Currency,
    /// Posted balance.
    pub balance: Money,
    /// Balance less pending transfers out.
    pub available: Money,
    /// What remains of pending transfers out.
    pub pending_out: Money,
    /// What remains of pending transfers in.
    pub pending_in: Money,
    /// How far below zero `available` may go.
    pub overdraft_limit: Money,
    /// Open or closed.
    pub status: AccountStatus,
    /// Stream version.
    pub version: u64,
}

impl AccountReply {
    /// The reply for an opened account's state.
    pub fn from_state(state: &Versioned<Account>) -> Option<Self> {
        state.state.details().map(|d| Self {
            account_id: d.id.to_string(),
            owner: d.owner.to_string(),
            currency: d.currency,
            balance: d.balance,
            available: d.available(),
            pending_out: d.pending_out,
            pending_in: d.pending_in,
            overdraft_limit: d.overdraft_limit,
            status: d.status,
            version: state.version,
        })
    }
}

/// Why a command did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// The domain refused it.
    #[error(transparent)]
    Refused(#[from] DomainError),
    /// A refusal stored under the idempotency key, returned again.
    #[error("{detail}")]
    StoredRefusal {
        /// Its code.
        code: ErrorCode,
        /// Its message.
        detail: String,
    },
    /// A value the request layer refused (in an atomic batch, judged in its turn so the
    /// batch's refusal names the first refused operation).
    #[error("{detail}")]
    Rejected {
        /// Its code.
        code: ErrorCode,
        /// Its message.
        detail: String,
    },
    /// `If-Match` named no version the account is at.
    #[error("the account is at version {actual}, which If-Match does not name")]
    VersionMismatch {
        /// Where it is.
        actual: u64,
    },
    /// The caller's role does not allow it.
    #[error(transparent)]
    Forbidden(#[from] crate::access::Forbidden),
    /// Other writers kept winning; the server's retries ran out.
    #[error("the account changed concurrently too often; retry")]
    Conflict,
    /// The idempotency key was used with a different request.
    #[error("the idempotency key was used with a different request")]
    IdempotencyKeyReused,
    /// The event store cannot be reached.
    #[error("the event store is unavailable")]
    Unavailable(String),
    /// The command's write reached the event store, but whether it committed cannot be
    /// known: it may have taken effect.
    #[error("the command's outcome is unknown")]
    OutcomeUnknown(String),
    /// Anything else; the message is for logs only.
    #[error("internal error")]
    Internal(String),
}

impl CommandError {
    /// The API error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Refused(e) => e.code(),
            Self::StoredRefusal { code, .. } | Self::Rejected { code, .. } => *code,
            Self::VersionMismatch { .. } => ErrorCode::VersionMismatch,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Conflict => ErrorCode::ConcurrencyConflict,
            Self::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            Self::Unavailable(_) | Self::OutcomeUnknown(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Whether the outcome is final and belongs in the idempotency record (a domain
    /// refusal of the caller's own mistake is not: it is a bug to fix, not an answer).
    pub(crate) fn is_final(&self) -> bool {
        match self {
            Self::Refused(e) => e.code() != ErrorCode::Internal,
            Self::VersionMismatch { .. } | Self::Rejected { .. } => true,
            _ => false,
        }
    }

    /// Whether the outcome is stored under the caller's idempotency key `key`: a final
    /// one, except an amount written with more decimals than the account's currency has
    /// (`"10.000"` in USD) outside a non-atomic batch. A key's fingerprint holds the
    /// amount's value, so `10.000` and `10.00` are one request; that refusal, stored,
    /// would answer the corrected request too. Like any refusal of a request's own
    /// values it is not stored: the same body is refused again, the corrected one runs.
    /// A non-atomic batch's operation stores it, as every other outcome, so that a
    /// retried batch gets its whole first answer.
    pub(crate) fn is_recorded_under(&self, key: &str) -> bool {
        self.is_final()
            && (crate::idempotency::is_operation_key(key) || !self.is_of_written_decimals())
    }

    fn is_of_written_decimals(&self) -> bool {
        matches!(
            self,
            Self::Refused(DomainError::InvalidAmount(
                MoneyError::TooManyDecimals { .. }
            ))
        )
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Self::Unavailable(m),
            StoreError::Failed(m) | StoreError::Unreadable(m) => Self::Internal(m),
        }
    }
}

impl From<LoadError> for CommandError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Store(s) => s.into(),
            LoadError::Decode { .. } => Self::Internal(e.to_string()),
        }
    }
}

/// A change to an existing account.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountAction {
    /// Add money.
    Deposit {
        /// Positive amount in the account's currency.
        amount: Decimal,
        /// Optional note.
        description: Option<Note>,
    },
    /// Take money out.
    Withdraw {
        /// Positive amount in the account's currency.
        amount: Decimal,
        /// Optional note.
        description: Option<Note>,
    },
    /// Close the account.
    Close {
        /// Optional reason.
        reason: Option<Note>,
    },
    /// Change the overdraft limit.
    SetLimit {
        /// Zero or more, in the account's currency.
        overdraft_limit: Decimal,
    },
}

impl AccountAction {
    /// The domain command it asks for.
    pub fn command(&self) -> AccountCommand {
        match self.clone() {
            Self::Deposit {
                amount,
                description,
            } => AccountCommand::Deposit {
                amount,
                description,
            },
            Self::Withdraw {
                amount,
                description,
            } => AccountCommand::Withdraw {
                amount,
                description,
            },
            Self::Close { reason } => AccountCommand::Close { reason },
            Self::SetLimit { overdraft_limit } => AccountCommand::SetOverdraftLimit {
                limit: overdraft_limit,
            },
        }
    }
}

/// Open an account; the server picks a UUID when `account_id` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAccount {
    /// The chosen id.
    pub account_id: Option<AccountId>,
    /// Owner.
    pub owner: Owner,
    /// Currency.
    pub currency: Currency,
    /// How far below zero it may go (none: 0).
    pub overdraft_limit: Option<Decimal>,
}
