//! The JSON shapes of the API: request bodies and answers, with their OpenAPI schemas.
//! Amounts are decimal strings with exactly the currency's digits.

use chrono::{DateTime, Utc};
use ledger_application::views::AccountView;
use ledger_application::{AccountReply, OpenAccount};

pub use crate::dto_analytics::{CurrencyBody, DailyBody, DayBody, SummaryBody};
pub use crate::dto_events::{render_event, AuditBody, AuditPage, EventBody, EventsPage, FeedBody};
pub use crate::dto_transfers::{
    Balances, LimitsBody, PostBody, TransferAnswer, TransferBody, TransferViewBody, TransfersPage,
    VoidBody,
};
use ledger_domain::{Account, AccountId, AccountStatus, Currency, ErrorCode, Owner};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::body;
use crate::problem::ApiError;

fn status(s: AccountStatus) -> &'static str {
    s.as_str()
}

/// `POST /accounts`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAccountBody {
    /// 1-64 of `[A-Za-z0-9._:-]`; a UUID is chosen when absent.
    pub account_id: Option<String>,
    /// 1-200 characters.
    pub owner: String,
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// How far below zero `available` may go (zero or more; default 0).
    #[schema(value_type = Option<String>, example = "100.00")]
    pub overdraft_limit: Option<Box<RawValue>>,
}

impl OpenAccountBody {
    /// The command this body asks for, read the same way for `POST /accounts` and a
    /// batch's `open_account`. (A currency ISO 4217 has withdrawn is refused where the
    /// opening is decided, after a retry's stored answer is looked up.)
    pub fn request(self) -> Result<OpenAccount, ApiError> {
        let id = self.account_id.map(AccountId::parse).transpose();
        Ok(OpenAccount {
            account_id: id.map_err(body::invalid)?,
            owner: Owner::parse(self.owner).map_err(body::invalid)?,
            currency: Currency::parse(&self.currency)
                .map_err(|e| ApiError::new(ErrorCode::InvalidCurrency, e.to_string()))?,
            overdraft_limit: self
                .overdraft_limit
                .as_deref()
                .map(|l| body::overdraft_limit(Some(l)))
                .transpose()?,
        })
    }
}

/// `POST /accounts/{id}/deposit` and `/withdraw`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyBody {
    /// A JSON number or a decimal string, positive, at most the currency's decimals.
    #[schema(value_type = String, example = "12.50")]
    pub amount: Option<Box<RawValue>>,
    /// At most 500 characters.
    pub description: Option<String>,
}

/// `POST /accounts/{id}/close`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// At most 500 characters.
    pub reason: Option<String>,
}

/// An account right after a command.
#[derive(Serialize, ToSchema)]
pub struct AccountBody {
    /// Id.
    pub account_id: String,
    /// Owner.
    pub owner: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Balance, available, pending and limit.
    #[serde(flatten)]
    pub balances: Balances,
    /// `open` or `closed`.
    pub status: &'static str,
    /// Stream version.
    pub version: u64,
}

impl From<&AccountReply> for AccountBody {
    fn from(a: &AccountReply) -> Self {
        Self {
            account_id: a.account_id.clone(),
            owner: a.owner.clone(),
            currency: a.currency.code().to_owned(),
            balances: Balances::new(a.balance, a.pending_out, a.pending_in, a.overdraft_limit),
            status: status(a.status),
            version: a.version,
        }
    }
}

/// The current-state view of an account.
#[derive(Serialize, ToSchema)]
pub struct AccountViewBody {
    /// Id.
    pub account_id: String,
    /// Owner.
    pub owner: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Balance, available, pending and limit.
    #[serde(flatten)]
    pub balances: Balances,
    /// `open` or `closed`.
    pub status: &'static str,
    /// Stream version.
    pub version: u64,
    /// All money in (deposits and transfer credits).
    pub total_deposits: String,
    /// All money out (withdrawals and transfer debits).
    pub total_withdrawals: String,
    /// Money events.
    pub transaction_count: u64,
    /// When opened.
    pub opened_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When closed, or null.
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<&AccountView> for AccountViewBody {
    fn from(v: &AccountView) -> Self {
        Self {
            account_id: v.account_id.clone(),
            owner: v.owner.clone(),
            currency: v.currency.code().to_owned(),
            balances: Balances::new(v.balance, v.pending_out, v.pending_in, v.overdraft_limit),
            status: status(v.status),
            version: v.version,
            total_deposits: v.total_deposits.to_string(),
            total_withdrawals: v.total_withdrawals.to_string(),
            transaction_count: v.transaction_count,
            opened_at: v.opened_at,
            updated_at: v.updated_at,
            closed_at: v.closed_at,
        }
    }
}

/// An account rebuilt as of a version or instant.
#[derive(Serialize, ToSchema)]
pub struct HistoricAccountBody {
    /// Id.
    pub account_id: String,
    /// Owner.
    pub owner: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Balance, available, pending and limit.
    #[serde(flatten)]
    pub balances: Balances,
    /// `open` or `closed`.
    pub status: &'static str,
    /// The version the state reflects.
    pub version: u64,
    /// When that version was recorded.
    pub as_of: DateTime<Utc>,
}

impl HistoricAccountBody {
    /// From a rebuilt state.
    pub fn new(account: &Account, version: u64, as_of: DateTime<Utc>) -> Option<Self> {
        account.details().map(|d| Self {
            account_id: d.id.to_string(),
            owner: d.owner.to_string(),
            currency: d.currency.code().to_owned(),
            balances: Balances::new(d.balance, d.pending_out, d.pending_in, d.overdraft_limit),
            status: status(d.status),
            version,
            as_of,
        })
    }
}

/// A page of accounts.
#[derive(Serialize, ToSchema)]
pub struct AccountsPage {
    /// By id.
    pub accounts: Vec<AccountViewBody>,
    /// The `cursor` of the next page, or null at the end.
    pub next_cursor: Option<String>,
}

/// One projection's status (read back too: a rebuild's answer is stored for its retries).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ProjectionBody {
    /// Name.
    pub name: String,
    /// `live`, `rebuilding` or `failed`.
    pub state: String,
    /// Global position of the checkpoint.
    pub position: u64,
    /// Events after the checkpoint.
    pub lag_events: u64,
    /// Why it failed.
    pub last_error: Option<String>,
}

/// `GET /admin/projections`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ProjectionsBody {
    /// Every projection.
    pub projections: Vec<ProjectionBody>,
}
