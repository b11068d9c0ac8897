//! The JSON shapes of the analytics view.

use chrono::NaiveDate;
use ledger_application::views::{CurrencySummary, DailyVolume};
use ledger_domain::MoneyTotal;
use serde::Serialize;
use utoipa::ToSchema;

/// One currency's totals.
#[derive(Serialize, ToSchema)]
pub struct CurrencyBody {
    /// ISO 4217 code.
    pub currency: String,
    /// Open accounts.
    pub open_accounts: i64,
    /// Closed accounts.
    pub closed_accounts: i64,
    /// Decimal string.
    pub total_balance: String,
    /// Decimal string.
    pub total_deposited: String,
    /// Decimal string.
    pub total_withdrawn: String,
    /// Decimal string.
    pub transfer_volume: String,
    /// What pending transfers hold (decimal string).
    pub pending_volume: String,
    /// Events in this currency.
    pub event_count: i64,
}

impl From<&CurrencySummary> for CurrencyBody {
    fn from(s: &CurrencySummary) -> Self {
        let m = |v: i128| MoneyTotal::from_minor(v, s.currency).to_string();
        let t = s.totals;
        Self {
            currency: s.currency.code().to_owned(),
            open_accounts: t.open_accounts,
            closed_accounts: t.closed_accounts,
            total_balance: m(t.total_balance),
            total_deposited: m(t.total_deposited),
            total_withdrawn: m(t.total_withdrawn),
            transfer_volume: m(t.transfer_volume),
            pending_volume: m(t.pending_volume),
            event_count: t.event_count,
        }
    }
}

/// `GET /analytics/summary`.
#[derive(Serialize, ToSchema)]
pub struct SummaryBody {
    /// Per currency.
    pub currencies: Vec<CurrencyBody>,
}

/// One day's volumes.
#[derive(Serialize, ToSchema)]
pub struct DayBody {
    /// UTC date.
    pub date: NaiveDate,
    /// ISO 4217 code.
    pub currency: String,
    /// Deposits.
    pub deposit_count: i64,
    /// Decimal string.
    pub deposit_volume: String,
    /// Withdrawals.
    pub withdrawal_count: i64,
    /// Decimal string.
    pub withdrawal_volume: String,
    /// Transfers.
    pub transfer_count: i64,
    /// Decimal string.
    pub transfer_volume: String,
}

impl From<&DailyVolume> for DayBody {
    fn from(d: &DailyVolume) -> Self {
        let m = |v: i128| MoneyTotal::from_minor(v, d.currency).to_string();
        let t = d.totals;
        Self {
            date: d.date,
            currency: d.currency.code().to_owned(),
            deposit_count: t.deposit_count,
            deposit_volume: m(t.deposit_volume),
            withdrawal_count: t.withdrawal_count,
            withdrawal_volume: m(t.withdrawal_volume),
            transfer_count: t.transfer_count,
            transfer_volume: m(t.transfer_volume),
        }
    }
}

/// `GET /analytics/daily`.
#[derive(Serialize, ToSchema)]
pub struct DailyBody {
    /// Oldest first, then by currency.
    pub days: Vec<DayBody>,
    /// The `cursor` of the next page when this one is full (the next may be empty);
    /// null otherwise.
    pub next_cursor: Option<String>,
}
