//! The current-state view's row and its fold, shared by every read-model store.

use chrono::{DateTime, Utc};
use ledger_domain::{AccountEvent, AccountStatus, Currency, Money, MoneyError};
use serde::{Deserialize, Serialize};

/// One account as the current-state view shows it.
///
/// `total_deposits` counts all money in (deposits and transfer credits) and
/// `total_withdrawals` all money out (withdrawals and transfer debits), so that
/// `balance = total_deposits - total_withdrawals` always holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// Id.
    pub account_id: String,
    /// Owner.
    pub owner: String,
    /// Currency.
    pub currency: Currency,
    /// Balance.
    pub balance: Money,
    /// Open or closed.
    pub status: AccountStatus,
    /// Stream version last applied.
    pub version: u64,
    /// All money in.
    pub total_deposits: Money,
    /// All money out.
    pub total_withdrawals: Money,
    /// Money events so far.
    pub transaction_count: u64,
    /// When opened.
    pub opened_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// Applies one account event to its (possibly absent) row.
///
/// Returns `Ok(None)` only while no `Opened` event was seen. Fails on overflow of
/// the totals, which marks the projection failed rather than store a wrong number.
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
            status: AccountStatus::Open,
            version,
            total_deposits: Money::zero(*currency),
            total_withdrawals: Money::zero(*currency),
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
    }
    row.version = version;
    row.updated_at = at;
    Ok(Some(row))
}
