//! The JSON shapes of the API: request bodies and answers, with their OpenAPI schemas.
//! Amounts are decimal strings with exactly the currency's digits.

use chrono::{DateTime, Utc};
use ledger_application::decode::LedgerEvent;
use ledger_application::ports::store::RecordedEvent;
use ledger_application::views::{AccountView, AuditEntry};
use ledger_application::AccountReply;

pub use crate::dto_analytics::{CurrencyBody, DailyBody, DayBody, SummaryBody};
pub use crate::dto_transfers::{
    Balances, LimitsBody, PostBody, TransferAnswer, TransferBody, TransferViewBody, TransfersPage,
    VoidBody,
};
use ledger_domain::{Account, AccountStatus};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

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

/// An event as the API shows it (data upcast to the current schema).
#[derive(Serialize, ToSchema)]
pub struct EventBody {
    /// Unique id.
    pub event_id: uuid::Uuid,
    /// Type name.
    pub event_type: String,
    /// Schema version of `data`.
    pub schema_version: u32,
    /// Stream.
    pub stream_id: String,
    /// Version in the stream.
    pub version: u64,
    /// Global position.
    pub position: u64,
    /// When recorded.
    pub recorded_at: DateTime<Utc>,
    /// The data; amounts are decimal strings.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Actor, request id, causation and correlation.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// The previous event's `hash` in the stream (64 zeros for version 1).
    #[schema(
        pattern = "^[0-9a-f]{64}$",
        example = "0000000000000000000000000000000000000000000000000000000000000000"
    )]
    pub prev_hash: String,
    /// Lower-case hex SHA-256 of the event's canonical encoding (README, "Tamper
    /// evidence"), computed when it was decided, from the stored form of the event.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub hash: String,
}

impl EventBody {
    /// From a stored event and its decoded form.
    pub fn new(recorded: &RecordedEvent, event: &LedgerEvent) -> Self {
        let (event_type, schema_version, data) = event.current_data();
        Self {
            event_id: recorded.event_id,
            event_type: event_type.to_owned(),
            schema_version,
            stream_id: recorded.stream_id.clone(),
            version: recorded.version,
            position: recorded.cursor.position,
            recorded_at: recorded.recorded_at,
            data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
            metadata: serde_json::to_value(&recorded.metadata).unwrap_or_default(),
            prev_hash: recorded.prev_hash.to_string(),
            hash: recorded.hash.to_string(),
        }
    }
}

/// An event as consumers of the live feed and the relay receive it: the JSON of
/// [`EventBody`].
pub fn render_event(recorded: &RecordedEvent, event: &LedgerEvent) -> String {
    serde_json::to_string(&EventBody::new(recorded, event)).unwrap_or_default()
}

/// A page of one account's events.
#[derive(Serialize, ToSchema)]
pub struct EventsPage {
    /// Oldest first.
    pub events: Vec<EventBody>,
    /// The `after_version` of the next page.
    pub next_after_version: u64,
}

/// A page of the global feed.
#[derive(Serialize, ToSchema)]
pub struct FeedBody {
    /// In feed order.
    pub events: Vec<EventBody>,
    /// The `after` of the next page.
    pub next: String,
}

/// A page of accounts.
#[derive(Serialize, ToSchema)]
pub struct AccountsPage {
    /// By id.
    pub accounts: Vec<AccountViewBody>,
    /// The `cursor` of the next page, or null at the end.
    pub next_cursor: Option<String>,
}

/// One audit entry.
#[derive(Serialize, ToSchema)]
pub struct AuditBody {
    /// Event id.
    pub event_id: uuid::Uuid,
    /// Type name.
    pub event_type: String,
    /// Stream.
    pub stream_id: String,
    /// Version.
    pub version: u64,
    /// Who.
    pub actor: String,
    /// Which request.
    pub request_id: Option<String>,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// Decimal string, for money events.
    pub amount: Option<String>,
    /// Its currency.
    pub currency: Option<String>,
}

impl From<&AuditEntry> for AuditBody {
    fn from(e: &AuditEntry) -> Self {
        Self {
            event_id: e.event_id,
            event_type: e.event_type.clone(),
            stream_id: e.stream_id.clone(),
            version: e.version,
            actor: e.actor.clone(),
            request_id: e.request_id.clone(),
            recorded_at: e.recorded_at,
            amount: e.amount.map(|m| m.to_string()),
            currency: e.currency.map(|c| c.code().to_owned()),
        }
    }
}

/// A page of the audit log.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditBody>,
    /// The `cursor` of the next page, or null at the end.
    pub next_cursor: Option<String>,
}

/// One projection's status.
#[derive(Serialize, ToSchema)]
pub struct ProjectionBody {
    /// Name.
    pub name: String,
    /// `live`, `rebuilding` or `failed`.
    pub state: &'static str,
    /// Global position of the checkpoint.
    pub position: u64,
    /// Events after the checkpoint.
    pub lag_events: u64,
    /// Why it failed.
    pub last_error: Option<String>,
}

/// `GET /admin/projections`.
#[derive(Serialize, ToSchema)]
pub struct ProjectionsBody {
    /// Every projection.
    pub projections: Vec<ProjectionBody>,
}
