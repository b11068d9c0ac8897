//! The read models' rows and folds (current state, analytics, audit log), shared by
//! every read-model store so they all compute the same thing.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::{
    AccountEvent, AccountStatus, Currency, Leg, Money, MoneyError, MoneyTotal, TransferEvent,
};
use serde::{Deserialize, Serialize};

use crate::decode::LedgerEvent;
use crate::ports::readmodel::ProjectedEvent;

/// One account as the current-state view shows it.
///
/// `total_deposits` counts all money in (deposits and transfer credits) and
/// `total_withdrawals` all money out (withdrawals and transfer debits), so that
/// `balance = total_deposits - total_withdrawals` always holds. The totals are
/// [`MoneyTotal`]s: money in and out over an account's life can exceed the range of
/// one amount (deposit the maximum, withdraw it, deposit again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// Id.
    pub account_id: String,
    /// Owner.
    pub owner: String,
    /// Currency.
    pub currency: Currency,
    /// Posted balance.
    pub balance: Money,
    /// What remains of pending transfers out.
    pub pending_out: Money,
    /// What remains of pending transfers in.
    pub pending_in: Money,
    /// How far below zero `available` may go.
    pub overdraft_limit: Money,
    /// Open or closed.
    pub status: AccountStatus,
    /// Stream version last applied.
    pub version: u64,
    /// All money in.
    pub total_deposits: MoneyTotal,
    /// All money out.
    pub total_withdrawals: MoneyTotal,
    /// Money events so far.
    pub transaction_count: u64,
    /// When opened.
    pub opened_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
}

impl AccountView {
    /// The balance less pending transfers out.
    pub fn available(&self) -> Money {
        Money::from_minor(
            self.balance
                .minor_units()
                .saturating_sub(self.pending_out.minor_units()),
            self.currency,
        )
    }

    fn pending_mut(&mut self, leg: Leg) -> &mut Money {
        match leg {
            Leg::Debit => &mut self.pending_out,
            Leg::Credit => &mut self.pending_in,
        }
    }
}

/// Applies one account event to its (possibly absent) row.
///
/// Returns `Ok(None)` only while no `Opened` event was seen. Fails only on an event
/// of another currency than the account's (which no accepted command produces).
pub fn project_account(
    row: Option<AccountView>,
    event: &AccountEvent,
    version: u64,
    at: DateTime<Utc>,
) -> Result<Option<AccountView>, MoneyError> {
    if let AccountEvent::Opened {
        account_id,
        owner,
        currency,
    } = event
    {
        return Ok(Some(AccountView {
            account_id: account_id.to_string(),
            owner: owner.to_string(),
            currency: *currency,
            balance: Money::zero(*currency),
            pending_out: Money::zero(*currency),
            pending_in: Money::zero(*currency),
            overdraft_limit: Money::zero(*currency),
            status: AccountStatus::Open,
            version,
            total_deposits: MoneyTotal::zero(*currency),
            total_withdrawals: MoneyTotal::zero(*currency),
            transaction_count: 0,
            opened_at: at,
            updated_at: at,
            closed_at: None,
        }));
    }
    let Some(mut row) = row else {
        return Ok(None);
    };
    match event {
        AccountEvent::Opened { .. } => {}
        AccountEvent::Deposited {
            amount, balance, ..
        }
        | AccountEvent::TransferCredited {
            amount, balance, ..
        } => {
            row.total_deposits = row.total_deposits.checked_add(*amount)?;
            row.balance = *balance;
            row.transaction_count += 1;
        }
        AccountEvent::Withdrawn {
            amount, balance, ..
        }
        | AccountEvent::TransferDebited {
            amount, balance, ..
        } => {
            row.total_withdrawals = row.total_withdrawals.checked_add(*amount)?;
            row.balance = *balance;
            row.transaction_count += 1;
        }
        AccountEvent::Closed { .. } => {
            row.status = AccountStatus::Closed;
            row.closed_at = Some(at);
        }
        AccountEvent::OverdraftLimitSet { limit, .. } => row.overdraft_limit = *limit,
        AccountEvent::PendingReserved { leg, pending, .. }
        | AccountEvent::PendingReleased { leg, pending, .. } => *row.pending_mut(*leg) = *pending,
        AccountEvent::PendingPosted {
            leg,
            amount,
            balance,
            pending,
            ..
        } => {
            let total = match leg {
                Leg::Debit => &mut row.total_withdrawals,
                Leg::Credit => &mut row.total_deposits,
            };
            *total = total.checked_add(*amount)?;
            row.balance = *balance;
            *row.pending_mut(*leg) = *pending;
            row.transaction_count += 1;
        }
    }
    row.version = version;
    row.updated_at = at;
    Ok(Some(row))
}

/// One row of the audit-log view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Global position (the keyset cursor; newest first).
    pub position: u64,
    /// The event's id.
    pub event_id: uuid::Uuid,
    /// Its type.
    pub event_type: String,
    /// Its stream.
    pub stream_id: String,
    /// Its version in the stream.
    pub version: u64,
    /// Who.
    pub actor: String,
    /// Under which request.
    pub request_id: Option<String>,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// The amount moved, for money events.
    pub amount: Option<Money>,
    /// The currency of the event's account (or transfer), for every event of one,
    /// `AccountOpened` and `AccountClosed` included.
    pub currency: Option<Currency>,
}

impl AuditEntry {
    /// The audit row of a projected event.
    pub fn of(p: &ProjectedEvent) -> Self {
        let amount = match &p.event {
            LedgerEvent::Account(e) => e.amount(),
            LedgerEvent::Transfer(t) => Some(t.amount()),
        };
        Self {
            position: p.recorded.cursor.position,
            event_id: p.recorded.event_id,
            event_type: p.event.current_data().0.to_owned(),
            stream_id: p.recorded.stream_id.clone(),
            version: p.recorded.version,
            actor: p.recorded.metadata.actor.clone(),
            request_id: p.recorded.metadata.request_id.clone(),
            recorded_at: p.recorded.recorded_at,
            amount,
            currency: p.currency,
        }
    }
}

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
    *field = field.checked_add(by).ok_or(MoneyError::Overflow)?;
    Ok(())
}

fn sum(field: &mut i128, by: i128) -> Result<(), MoneyError> {
    *field = field.checked_add(by).ok_or(MoneyError::Overflow)?;
    Ok(())
}

fn add(field: &mut i128, by: i64) -> Result<(), MoneyError> {
    sum(field, i128::from(by))
}

impl AnalyticsDelta {
    /// Folds a batch into additive changes.
    pub fn of(batch: &[ProjectedEvent]) -> Result<Self, MoneyError> {
        let mut d = Self::default();
        for p in batch {
            let Some(currency) = p.currency else { continue };
            let day_key = (p.recorded.recorded_at.date_naive(), currency);
            let c = d.currencies.entry(currency).or_default();
            count(&mut c.event_count, 1)?;
            match &p.event {
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
                            let day = d.days.entry(day_key).or_default();
                            count(&mut day.deposit_count, 1)?;
                            add(&mut day.deposit_volume, amount)?;
                        }
                        AccountEvent::Withdrawn { .. } => {
                            add(&mut c.total_withdrawn, amount)?;
                            add(&mut c.total_balance, -amount)?;
                            let day = d.days.entry(day_key).or_default();
                            count(&mut day.withdrawal_count, 1)?;
                            add(&mut day.withdrawal_volume, amount)?;
                        }
                        AccountEvent::TransferDebited { .. }
                        | AccountEvent::PendingPosted {
                            leg: Leg::Debit, ..
                        } => add(&mut c.total_balance, -amount)?,
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
                        } => add(&mut c.pending_volume, -amount)?,
                        AccountEvent::PendingReserved { .. }
                        | AccountEvent::PendingReleased { .. }
                        | AccountEvent::OverdraftLimitSet { .. } => {}
                    }
                    if let AccountEvent::PendingPosted {
                        leg: Leg::Debit, ..
                    } = e
                    {
                        add(&mut c.pending_volume, -amount)?;
                    }
                }
                LedgerEvent::Transfer(t) => {
                    // Money moves when a transfer is recorded posted, or posted later.
                    let moved = match t {
                        TransferEvent::Recorded(r) => r.amount.minor_units(),
                        TransferEvent::Posted { amount, .. } => amount.minor_units(),
                        _ => continue,
                    };
                    add(&mut c.transfer_volume, moved)?;
                    let day = d.days.entry(day_key).or_default();
                    count(&mut day.transfer_count, 1)?;
                    add(&mut day.transfer_volume, moved)?;
                }
            }
        }
        Ok(d)
    }
}
