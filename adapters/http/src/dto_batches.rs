//! The JSON shapes of `POST /batches`: the body, each operation (read one by one, so a
//! malformed one is named by its index), and the answers.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::dto::{OpenAccountBody, TransferBody};
use crate::problem::Problem;

/// `POST /batches`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    /// All or nothing (default true).
    pub atomic: Option<bool>,
    /// 1-1,000 operations, each an object with an `op`.
    #[schema(value_type = Vec<Object>)]
    pub operations: Vec<Box<RawValue>>,
}

/// The `op` of an operation.
#[derive(Deserialize)]
pub struct OpName {
    /// Which operation.
    pub op: String,
}

/// `{"op": "open_account", ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenOp {
    /// Its `op` (read first, by [`OpName`]).
    pub op: IgnoredAny,
    /// Chosen id (a UUID when absent).
    pub account_id: Option<String>,
    /// Owner.
    pub owner: String,
    /// Currency.
    pub currency: String,
    /// Overdraft limit.
    pub overdraft_limit: Option<Box<RawValue>>,
}

impl From<OpenOp> for OpenAccountBody {
    fn from(o: OpenOp) -> Self {
        Self {
            account_id: o.account_id,
            owner: o.owner,
            currency: o.currency,
            overdraft_limit: o.overdraft_limit,
        }
    }
}

/// `{"op": "deposit" | "withdraw", ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyOp {
    /// Its `op` (read first, by [`OpName`]).
    pub op: IgnoredAny,
    /// The account.
    pub account_id: String,
    /// The amount.
    pub amount: Option<Box<RawValue>>,
    /// Optional note.
    pub description: Option<String>,
}

/// `{"op": "transfer", ...}`: a transfer's body ([`TransferBody`]) with its `op`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferOp {
    /// Its `op` (read first, by [`OpName`]).
    pub op: IgnoredAny,
    /// Chosen id (a UUID when absent).
    pub transfer_id: Option<String>,
    /// Debited account.
    pub from_account_id: String,
    /// Credited account.
    pub to_account_id: String,
    /// The amount.
    pub amount: Option<Box<RawValue>>,
    /// Optional note.
    pub description: Option<String>,
    /// Reserve now, post or void later.
    pub pending: Option<bool>,
    /// Seconds until a pending transfer expires.
    pub expires_in_seconds: Option<Box<RawValue>>,
}

impl From<TransferOp> for TransferBody {
    fn from(t: TransferOp) -> Self {
        Self {
            transfer_id: t.transfer_id,
            from_account_id: t.from_account_id,
            to_account_id: t.to_account_id,
            amount: t.amount,
            description: t.description,
            pending: t.pending,
            expires_in_seconds: t.expires_in_seconds,
        }
    }
}

/// `{"op": "close_account", ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseOp {
    /// Its `op` (read first, by [`OpName`]).
    pub op: IgnoredAny,
    /// The account.
    pub account_id: String,
    /// Optional reason.
    pub reason: Option<String>,
}

/// `{"op": "set_limits", ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsOp {
    /// Its `op` (read first, by [`OpName`]).
    pub op: IgnoredAny,
    /// The account.
    pub account_id: String,
    /// The new limit.
    pub overdraft_limit: Option<Box<RawValue>>,
}

/// `{"op": "post_transfer", ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostOp {
    /// Its `op` (read first, by [`OpName`]).
    pub op: IgnoredAny,
    /// The pending transfer.
    pub transfer_id: String,
    /// How much (default: all that remains).
    pub amount: Option<Box<RawValue>>,
}

/// `{"op": "void_transfer", ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoidOp {
    /// Its `op` (read first, by [`OpName`]).
    pub op: IgnoredAny,
    /// The pending transfer.
    pub transfer_id: String,
    /// Optional reason.
    pub reason: Option<String>,
}

/// One operation's answer: its status and body, or its problem.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    /// The status the operation alone would have answered.
    pub status: u16,
    /// Its answer (an account, or a transfer with `from` and `to`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub body: Option<Box<RawValue>>,
    /// Its problem (non-atomic batches only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// `POST /batches`' answer.
#[derive(Serialize, ToSchema)]
pub struct BatchAnswer {
    /// Whether the batch was atomic.
    pub atomic: bool,
    /// One per operation, in the order given.
    pub results: Vec<BatchResult>,
}
