//! The analytics view's rows and its fold: per-currency totals and per-day volumes, as
//! additive deltas of a batch (re-exported by `views`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::{AccountEvent, Currency, Leg, Money, MoneyError, TransferEvent};
use serde::{Deserialize, Serialize};

use crate::decode::LedgerEvent;
use crate::ports::readmodel::ProjectedEvent;

/// Per-currency totals of the analytics view: counts, and sums in minor units (`i128`:
/// exact for any number of legal events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CurrencyTotals {
    /// Accounts open.
    pub open_accounts: i64,
    /// Accounts closed.
    pub closed_accounts: i64,
    /// Sum of balances.
    pub total_balance: i128,
    /// Sum of deposits.
    pub total_deposited: i128,
    /// Sum of withdrawals.
    pub total_withdrawn: i128,
    /// Sum of transfers (posted amounts).
    pub transfer_volume: i128,
    /// What remains reserved by pending transfers.
    pub pending_volume: i128,
    /// Events in this currency.
    pub event_count: i64,
}

/// One currency's line of the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencySummary {
    /// The currency.
    pub currency: Currency,
    /// Its totals.
    pub totals: CurrencyTotals,
}

/// Per-day volumes of one currency: counts, and sums in minor units (`i128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DayTotals {
    /// Deposits.
    pub deposit_count: i64,
    /// Their sum.
    pub deposit_volume: i128,
    /// Withdrawals.
    pub withdrawal_count: i64,
    /// Their sum.
    pub withdrawal_volume: i128,
    /// Transfers.
    pub transfer_count: i64,
    /// Their sum.
    pub transfer_volume: i128,
}

/// One day's line of the daily view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyVolume {
    /// The UTC day.
    pub date: NaiveDate,
    /// The currency.
    pub currency: Currency,
    /// Its volumes.
    pub totals: DayTotals,
}

impl CurrencyTotals {
    /// Adds another set of totals (a batch's delta) to these.
    pub fn merge(&mut self, d: &Self) -> Result<(), MoneyError> {
        count(&mut self.open_accounts, d.open_accounts)?;
        count(&mut self.closed_accounts, d.closed_accounts)?;
        sum(&mut self.total_balance, d.total_balance)?;
        sum(&mut self.total_deposited, d.total_deposited)?;
        sum(&mut self.total_withdrawn, d.total_withdrawn)?;
        sum(&mut self.transfer_volume, d.transfer_volume)?;
        sum(&mut self.pending_volume, d.pending_volume)?;
        count(&mut self.event_count, d.event_count)
    }
}

impl DayTotals {
    /// Adds another day's volumes (a batch's delta) to these.
    pub fn merge(&mut self, d: &Self) -> Result<(), MoneyError> {
        count(&mut self.deposit_count, d.deposit_count)?;
        sum(&mut self.deposit_volume, d.deposit_volume)?;
        count(&mut self.withdrawal_count, d.withdrawal_count)?;
        sum(&mut self.withdrawal_volume, d.withdrawal_volume)?;
        count(&mut self.transfer_count, d.transfer_count)?;
        sum(&mut self.transfer_volume, d.transfer_volume)
    }
}

/// What a batch adds to the analytics view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyticsDelta {
    /// Per currency.
    pub currencies: BTreeMap<Currency, CurrencyTotals>,
    /// Per UTC day and currency.
    pub days: BTreeMap<(NaiveDate, Currency), DayTotals>,
}

fn count(field: &mut i64, by: i64) -> Result<(), MoneyError> {
    *field = field.checked_add(by).ok_or(MoneyError::OutOfRange)?;
    Ok(())
}

fn sum(field: &mut i128, by: i128) -> Result<(), MoneyError> {
    *field = field.checked_add(by).ok_or(MoneyError::OutOfRange)?;
    Ok(())
}

fn add(field: &mut i128, by: i64) -> Result<(), MoneyError> {
    sum(field, i128::from(by))
}

/// `field - by`, negated in 128 bits (`-i64::MIN` does not fit 64).
fn take(field: &mut i128, by: i64) -> Result<(), MoneyError> {
    sum(field, -i128::from(by))
}

impl AnalyticsDelta {
    /// Folds a batch into additive changes.
    pub fn of(batch: &[ProjectedEvent]) -> Result<Self, MoneyError> {
        let mut d = Self::default();
        for p in batch {
            d.add(&p.event, p.currency, p.recorded.recorded_at)?;
        }
        Ok(d)
    }

    /// Adds one event: `currency` is its account's (or transfer's), `at` when it was
    /// recorded (its day's volumes).
    pub fn add(
        &mut self,
        event: &LedgerEvent,
        currency: Option<Currency>,
        at: DateTime<Utc>,
    ) -> Result<(), MoneyError> {
        let Some(currency) = currency else {
            return Ok(());
        };
        let day_key = (at.date_naive(), currency);
        let c = self.currencies.entry(currency).or_default();
        count(&mut c.event_count, 1)?;
        match event {
            LedgerEvent::Account(e) => {
                let amount = e.amount().map_or(0, Money::minor_units);
                match e {
                    AccountEvent::Opened { .. } => count(&mut c.open_accounts, 1)?,
                    AccountEvent::Closed { .. } => {
                        count(&mut c.open_accounts, -1)?;
                        count(&mut c.closed_accounts, 1)?;
                    }
                    AccountEvent::Deposited { .. } => {
                        add(&mut c.total_deposited, amount)?;
                        add(&mut c.total_balance, amount)?;
                        let day = self.days.entry(day_key).or_default();
                        count(&mut day.deposit_count, 1)?;
                        add(&mut day.deposit_volume, amount)?;
                    }
                    AccountEvent::Withdrawn { .. } => {
                        add(&mut c.total_withdrawn, amount)?;
                        take(&mut c.total_balance, amount)?;
                        let day = self.days.entry(day_key).or_default();
                        count(&mut day.withdrawal_count, 1)?;
                        add(&mut day.withdrawal_volume, amount)?;
                    }
                    AccountEvent::TransferDebited { .. }
                    | AccountEvent::PendingPosted {
                        leg: Leg::Debit, ..
                    } => take(&mut c.total_balance, amount)?,
                    AccountEvent::TransferCredited { .. }
                    | AccountEvent::PendingPosted {
                        leg: Leg::Credit, ..
                    } => add(&mut c.total_balance, amount)?,
                    // The debit leg counts what a pending transfer holds, once.
                    AccountEvent::PendingReserved {
                        leg: Leg::Debit, ..
                    } => add(&mut c.pending_volume, amount)?,
                    AccountEvent::PendingReleased {
                        leg: Leg::Debit, ..
                    } => take(&mut c.pending_volume, amount)?,
                    AccountEvent::PendingReserved { .. }
                    | AccountEvent::PendingReleased { .. }
                    | AccountEvent::OverdraftLimitSet { .. } => {}
                }
                if let AccountEvent::PendingPosted {
                    leg: Leg::Debit, ..
                } = e
                {
                    take(&mut c.pending_volume, amount)?;
                }
            }
            LedgerEvent::Transfer(t) => {
                // Money moves when a transfer is recorded posted, or posted later.
                let moved = match t {
                    TransferEvent::Recorded(r) => r.amount.minor_units(),
                    TransferEvent::Posted { amount, .. } => amount.minor_units(),
                    _ => return Ok(()),
                };
                add(&mut c.transfer_volume, moved)?;
                let day = self.days.entry(day_key).or_default();
                count(&mut day.transfer_count, 1)?;
                add(&mut day.transfer_volume, moved)?;
            }
            LedgerEvent::Sealed(_) => {}
        }
        Ok(())
    }
}
