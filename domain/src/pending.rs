//! The account's side of pending (two-phase) transfers and of the overdraft limit:
//! reserving a leg, posting part or all of it, releasing what remains, and the limit.
//!
//! `available` = `balance` − `pending_out`; money leaves (withdrawal, transfer, a
//! reservation out) only while `available` + `overdraft_limit` covers it, so nothing
//! makes that sum negative. Posting moves money already reserved, so it needs no check.

use serde::{Deserialize, Serialize};

use crate::account::{Account, AccountDetails};
use crate::error::DomainError;
use crate::events::AccountEvent;
use crate::money::{Currency, Decimal, Money};
use crate::values::{AccountId, Note, Owner, TransferId};

/// Which side of a transfer an account is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Leg {
    /// The source: money leaves.
    Debit,
    /// The destination: money arrives.
    Credit,
}

/// Why what remained of a pending transfer was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Release {
    /// A client voided it.
    Voided,
    /// Its `expires_at` passed.
    Expired,
}

/// `balance` less `pending_out`: what an account can still spend before its overdraft
/// limit (the one definition of `available`, for the domain, the views and the API).
pub fn available(balance: Money, pending_out: Money) -> Money {
    Money::from_minor(
        balance
            .minor_units()
            .saturating_sub(pending_out.minor_units()),
        balance.currency(),
    )
}

impl AccountDetails {
    /// The pending amount of one side.
    pub fn pending(&self, leg: Leg) -> Money {
        match leg {
            Leg::Debit => self.pending_out,
            Leg::Credit => self.pending_in,
        }
    }

    pub(crate) fn pending_mut(&mut self, leg: Leg) -> &mut Money {
        match leg {
            Leg::Debit => &mut self.pending_out,
            Leg::Credit => &mut self.pending_in,
        }
    }
}

/// An overdraft limit as money: zero or more, the currency's digits.
fn limit_in(currency: Currency, limit: Decimal) -> Result<Money, DomainError> {
    let limit = Money::from_decimal(limit, currency)?;
    if limit.minor_units() < 0 {
        return Err(DomainError::InvalidAmount(crate::MoneyError::NotPositive));
    }
    Ok(limit)
}

impl Account {
    pub(crate) fn open(
        &self,
        id: &AccountId,
        owner: &Owner,
        currency: Currency,
        overdraft_limit: Option<Decimal>,
    ) -> Result<Vec<AccountEvent>, DomainError> {
        if self.details().is_some() {
            return Err(DomainError::AccountExists);
        }
        let currency = currency.current()?;
        let limit = overdraft_limit.map(|l| limit_in(currency, l)).transpose()?;
        let mut events = vec![AccountEvent::Opened {
            account_id: id.clone(),
            owner: owner.clone(),
            currency,
        }];
        if let Some(limit) = limit.filter(|l| l.is_positive()) {
            events.push(AccountEvent::OverdraftLimitSet {
                account_id: id.clone(),
                limit,
            });
        }
        Ok(events)
    }

    pub(crate) fn set_limit(&self, limit: Decimal) -> Result<AccountEvent, DomainError> {
        let d = self.open_details()?;
        let limit = limit_in(d.currency, limit)?;
        let available = d.available();
        if i128::from(available.minor_units()) + i128::from(limit.minor_units()) < 0 {
            return Err(DomainError::LimitBelowDebt {
                available: available.to_string(),
                limit: limit.to_string(),
            });
        }
        Ok(AccountEvent::OverdraftLimitSet {
            account_id: d.id.clone(),
            limit,
        })
    }

    pub(crate) fn reserve(
        &self,
        transfer_id: &TransferId,
        leg: Leg,
        counterparty: &AccountId,
        amount: Decimal,
        description: &Option<Note>,
    ) -> Result<AccountEvent, DomainError> {
        let d = self.open_details()?;
        if *counterparty == d.id {
            return Err(DomainError::SameAccount);
        }
        let amount = Account::amount_in(d, amount)?;
        let pending = d.pending(leg).checked_add(amount)?;
        match leg {
            Leg::Debit => d.ensure_covers(amount)?,
            // Posted in full, it must still fit the balance.
            Leg::Credit => {
                d.balance.checked_add(pending)?;
            }
        }
        Ok(AccountEvent::PendingReserved {
            account_id: d.id.clone(),
            transfer_id: transfer_id.clone(),
            leg,
            counterparty: counterparty.clone(),
            amount,
            pending,
            description: description.clone(),
        })
    }

    /// The pending amount of `leg` once `amount` of it is taken away; never below
    /// zero (a transfer's record and its legs always agree, so this only guards).
    fn lower_pending(d: &AccountDetails, leg: Leg, amount: Money) -> Result<Money, DomainError> {
        let pending = d.pending(leg);
        if !amount.is_positive() || amount.minor_units() > pending.minor_units() {
            return Err(DomainError::AmountExceedsPending {
                remaining: pending.to_string(),
                requested: amount.to_string(),
            });
        }
        Ok(pending.checked_sub(amount)?)
    }

    /// An account with anything pending cannot be closed, so a leg is always settled
    /// on an open account.
    pub(crate) fn post_pending(
        &self,
        transfer_id: &TransferId,
        leg: Leg,
        counterparty: &AccountId,
        amount: Money,
    ) -> Result<AccountEvent, DomainError> {
        let d = self.open_details()?;
        let pending = Self::lower_pending(d, leg, amount)?;
        let balance = match leg {
            Leg::Debit => d.balance.checked_sub(amount)?,
            Leg::Credit => d.balance.checked_add(amount)?,
        };
        Ok(AccountEvent::PendingPosted {
            account_id: d.id.clone(),
            transfer_id: transfer_id.clone(),
            leg,
            counterparty: counterparty.clone(),
            amount,
            balance,
            pending,
        })
    }

    pub(crate) fn release_pending(
        &self,
        transfer_id: &TransferId,
        leg: Leg,
        counterparty: &AccountId,
        amount: Money,
        reason: Release,
    ) -> Result<AccountEvent, DomainError> {
        let d = self.open_details()?;
        let pending = Self::lower_pending(d, leg, amount)?;
        Ok(AccountEvent::PendingReleased {
            account_id: d.id.clone(),
            transfer_id: transfer_id.clone(),
            leg,
            counterparty: counterparty.clone(),
            amount,
            pending,
            reason,
        })
    }
}
