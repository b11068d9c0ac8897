//! The JSON shapes of transfers (posted at once or pending), their post and void, and
//! of an account's balances and overdraft limit.

use chrono::{DateTime, Utc};
use ledger_application::access::Principal;
use ledger_application::transfer_views::TransferView;
use ledger_application::{TransferReply, TransferRequest};
use ledger_domain::{AccountId, Money, TransferId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::body;
use crate::dto::AccountBody;
use crate::problem::ApiError;

/// An account's money, each a decimal string: `available` = `balance` − `pending_out`,
/// and money may leave only while `available` + `overdraft_limit` covers it.
#[derive(Serialize, ToSchema)]
pub struct Balances {
    /// The posted balance.
    pub balance: String,
    /// The balance less pending transfers out.
    pub available: String,
    /// What remains of pending transfers out.
    pub pending_out: String,
    /// What remains of pending transfers in.
    pub pending_in: String,
    /// How far below zero `available` may go.
    pub overdraft_limit: String,
}

impl Balances {
    /// From an account's amounts.
    pub fn new(balance: Money, pending_out: Money, pending_in: Money, limit: Money) -> Self {
        Self {
            balance: balance.to_string(),
            available: ledger_domain::available(balance, pending_out).to_string(),
            pending_out: pending_out.to_string(),
            pending_in: pending_in.to_string(),
            overdraft_limit: limit.to_string(),
        }
    }
}

/// `POST /transfers`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// 1-64 of `[A-Za-z0-9._:-]`; a UUID is chosen when absent.
    pub transfer_id: Option<String>,
    /// Debited account.
    pub from_account_id: String,
    /// Credited account.
    pub to_account_id: String,
    /// A JSON number or a decimal string.
    #[schema(value_type = String, example = "12.50")]
    pub amount: Option<Box<RawValue>>,
    /// At most 500 characters.
    pub description: Option<String>,
    /// Reserve the amount now; post or void it later (default false: posted at once).
    pub pending: Option<bool>,
    /// A pending transfer expires this many seconds after it is made (1-2,592,000);
    /// without it, it never expires.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 2592000)]
    pub expires_in_seconds: Option<Box<RawValue>>,
}

impl TransferBody {
    /// The command this body asks for, read the same way for `POST /transfers` and a
    /// batch's transfer: a missing or bad amount first (a malformed body before any of
    /// its other values is judged), then the expiry, the ids and the description.
    pub fn request(self) -> Result<TransferRequest, ApiError> {
        // An id that cannot exist names no account.
        let account = |s: String| AccountId::parse(s).map_err(|_| ApiError::account_not_found());
        // A field of the wrong JSON type is a malformed body, as serde finds the others.
        let seconds = self.expires_in_seconds.as_deref().map(RawValue::get);
        if seconds.is_some_and(|s| !s.starts_with(|c: char| c == '-' || c.is_ascii_digit())) {
            return Err(ApiError::malformed(
                "`expires_in_seconds` must be a JSON number",
            ));
        }
        let amount = body::amount(self.amount.as_deref())?;
        let expires_in_seconds = self.expiry()?;
        Ok(TransferRequest {
            transfer_id: self
                .transfer_id
                .map(TransferId::parse)
                .transpose()
                .map_err(body::invalid)?,
            from: account(self.from_account_id)?,
            to: account(self.to_account_id)?,
            amount,
            description: body::note(self.description)?,
            pending: self.pending.unwrap_or(false),
            expires_in_seconds,
        })
    }

    /// `expires_in_seconds`, validated: 1-2,592,000 whole seconds, on a pending
    /// transfer only. A JSON number, read exactly from its text: `60.0` and `6e1` are
    /// whole, `59.99999999999999999` is not (a float would have made it 60).
    fn expiry(&self) -> Result<Option<u32>, ApiError> {
        let Some(n) = &self.expires_in_seconds else {
            return Ok(None);
        };
        let whole = ledger_domain::Decimal::parse(n.get().trim())
            .ok()
            .and_then(|d| d.whole());
        let max = i128::from(ledger_application::MAX_EXPIRES_IN_SECONDS);
        match whole {
            Some(s) if self.pending == Some(true) && (1..=max).contains(&s) => {
                Ok(u32::try_from(s).ok())
            }
            _ => Err(ApiError::validation(
                "expires_in_seconds must be 1 to 2592000 whole seconds, on a pending transfer",
            )),
        }
    }
}

/// `POST /transfers/{id}/post`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PostBody {
    /// How much to post (default: all that remains), a JSON number or decimal string.
    #[schema(value_type = Option<String>, example = "12.50")]
    pub amount: Option<Box<RawValue>>,
}

/// `POST /transfers/{id}/void`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct VoidBody {
    /// At most 500 characters.
    pub reason: Option<String>,
}

/// `POST /accounts/{id}/limits`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsBody {
    /// Zero or more, a JSON number or decimal string.
    #[schema(value_type = String, example = "100.00")]
    pub overdraft_limit: Option<Box<RawValue>>,
}

/// A transfer as it stands.
#[derive(Serialize, ToSchema)]
pub struct TransferViewBody {
    /// Its id.
    pub transfer_id: String,
    /// `posted`, `pending`, `voided` or `expired`.
    #[schema(example = "pending")]
    pub status: &'static str,
    /// ISO 4217 code.
    pub currency: String,
    /// What was asked to move (decimal string).
    pub amount: String,
    /// What moved so far.
    pub posted_amount: String,
    /// What is still reserved.
    pub remaining: String,
    /// Debited account.
    pub from_account_id: String,
    /// Credited account.
    pub to_account_id: String,
    /// Optional note.
    pub description: Option<String>,
    /// When a pending transfer expires, or null.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<&TransferView> for TransferViewBody {
    fn from(t: &TransferView) -> Self {
        Self {
            transfer_id: t.transfer_id.clone(),
            status: t.status.as_str(),
            currency: t.currency.code().to_owned(),
            amount: t.amount.to_string(),
            posted_amount: t.posted_amount.to_string(),
            remaining: t.remaining.to_string(),
            from_account_id: t.from_account_id.clone(),
            to_account_id: t.to_account_id.clone(),
            description: t.description.clone(),
            expires_at: t.expires_at,
        }
    }
}

/// A transfer and both accounts right after the command that answered.
#[derive(Serialize, ToSchema)]
pub struct TransferAnswer {
    /// The transfer.
    #[serde(flatten)]
    pub transfer: TransferViewBody,
    /// The debited account after.
    pub from: AccountSide,
    /// The credited account after.
    pub to: AccountSide,
}

/// One side of a transfer in its answer: the account, or for an owner key, an account
/// of another owner, only its id.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum AccountSide {
    /// The account right after the command.
    Account(AccountBody),
    /// Another owner's account, which an owner key does not see.
    Hidden(HiddenAccount),
}

/// An account the caller may not see: its id only, and nothing else (so a full account
/// matches only the other side of the choice).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HiddenAccount {
    /// Its id.
    pub account_id: String,
}

impl TransferAnswer {
    /// The answer as `who` may see it: a side whose account `who` does not see (another
    /// owner's, for an owner key) shows only its id.
    pub fn seen_by(t: &TransferReply, who: &Principal) -> Self {
        let side = |a: &ledger_application::AccountReply| match who.sees_owner(&a.owner) {
            true => AccountSide::Account(a.into()),
            false => AccountSide::Hidden(HiddenAccount {
                account_id: a.account_id.clone(),
            }),
        };
        Self {
            transfer: (&t.transfer).into(),
            from: side(&t.from),
            to: side(&t.to),
        }
    }
}

/// A page of transfers, newest first.
#[derive(Serialize, ToSchema)]
pub struct TransfersPage {
    /// Newest first.
    pub transfers: Vec<TransferViewBody>,
    /// The `cursor` of the next page, or null at the end.
    pub next_cursor: Option<String>,
}
