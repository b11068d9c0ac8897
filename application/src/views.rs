//! The read models' rows and folds (current state and audit log here, the analytics in
//! `analytics.rs`), shared by every read-model store so they all compute the same thing.

use chrono::{DateTime, Utc};
use ledger_domain::{AccountEvent, AccountStatus, Currency, Leg, Money, MoneyError, MoneyTotal};
use serde::{Deserialize, Serialize};

use crate::decode::LedgerEvent;
use crate::ports::readmodel::ProjectedEvent;
use crate::ports::store::RecordedEvent;

pub use crate::analytics::{
    AnalyticsDelta, CurrencySummary, CurrencyTotals, DailyVolume, DayTotals,
};

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
        ledger_domain::available(self.balance, self.pending_out)
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
        Self::from_parts(&p.recorded, &p.event, p.currency)
    }

    /// The audit row of an event as stored, decoded, with its account's (or
    /// transfer's) currency: what the projection writes and `ledger verify` expects.
    pub fn from_parts(
        recorded: &RecordedEvent,
        event: &LedgerEvent,
        currency: Option<Currency>,
    ) -> Self {
        let amount = match event {
            LedgerEvent::Account(e) => e.amount(),
            LedgerEvent::Transfer(t) => Some(t.amount()),
            LedgerEvent::Sealed(_) => None,
        };
        Self {
            position: recorded.cursor.position,
            event_id: recorded.event_id,
            event_type: event.event_type().to_owned(),
            stream_id: recorded.stream_id.clone(),
            version: recorded.version,
            actor: recorded.metadata.actor.clone(),
            request_id: recorded.metadata.request_id.clone(),
            recorded_at: recorded.recorded_at,
            amount,
            currency,
        }
    }
}
