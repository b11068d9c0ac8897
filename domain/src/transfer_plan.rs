//! Deciding a transfer across its three streams: the debited account, the credited
//! account and the transfer's own. Pure: the caller loads the three states, and passes
//! the clock's `now` where a rule depends on time.

use chrono::{DateTime, Utc};

use crate::account::{Account, AccountCommand};
use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::events::AccountEvent;
use crate::money::{Decimal, Money};
use crate::pending::{Leg, Release};
use crate::transfer::{Transfer, TransferCommand, TransferEvent, TransferRecorded};
use crate::values::{AccountId, Note, TransferId};

/// A request to move money between two accounts.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferOrder {
    /// The transfer's id.
    pub transfer_id: TransferId,
    /// Debited account.
    pub from: AccountId,
    /// Credited account.
    pub to: AccountId,
    /// A positive amount.
    pub amount: Decimal,
    /// Optional note.
    pub description: Option<Note>,
    /// Reserve now, post or void later.
    pub pending: bool,
    /// When a pending transfer expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What to do with a pending transfer.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// Move part (`Some`) or all (`None`) of what remains.
    Post(Option<Decimal>),
    /// Release what remains.
    Void(Option<Note>),
    /// Record the expiry (at or after `expires_at`).
    Expire,
}

/// The events of a transfer, one list per stream.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferPlan {
    /// For the debited account.
    pub debit: Vec<AccountEvent>,
    /// For the credited account.
    pub credit: Vec<AccountEvent>,
    /// For the transfer's own stream.
    pub record: Vec<TransferEvent>,
}

/// Decides a new transfer (posted at once, or pending) from the two accounts' and the
/// transfer's states.
///
/// Checks, in order: two different accounts, that the transfer id is new (a retry of a
/// transfer that was made is told so, whatever its accounts hold now), both accounts
/// exist, equal currencies, both are open, the amount, the funds (so a payer short of
/// funds is never told to find more for a payee that is closed).
pub fn plan_transfer(
    order: &TransferOrder,
    from: &Account,
    to: &Account,
    transfer: &Transfer,
) -> Result<TransferPlan, DomainError> {
    if order.from == order.to {
        return Err(DomainError::SameAccount);
    }
    if transfer.details().is_some() {
        return Err(DomainError::TransferExists);
    }
    let (Some(f), Some(t)) = (from.details(), to.details()) else {
        return Err(DomainError::AccountNotFound);
    };
    if f.currency != t.currency {
        return Err(DomainError::CurrencyMismatch {
            from: f.currency.code().to_owned(),
            to: t.currency.code().to_owned(),
        });
    }
    from.open_details()?;
    to.open_details()?;
    let leg = |leg: Leg| {
        let counterparty = match leg {
            Leg::Debit => order.to.clone(),
            Leg::Credit => order.from.clone(),
        };
        let (transfer_id, amount, description) = (
            order.transfer_id.clone(),
            order.amount,
            order.description.clone(),
        );
        match (order.pending, leg) {
            (true, _) => AccountCommand::Reserve {
                transfer_id,
                leg,
                counterparty,
                amount,
                description,
            },
            (false, Leg::Debit) => AccountCommand::DebitTransfer {
                transfer_id,
                to: counterparty,
                amount,
                description,
            },
            (false, Leg::Credit) => AccountCommand::CreditTransfer {
                transfer_id,
                from: counterparty,
                amount,
                description,
            },
        }
    };
    let debit = from.decide(&leg(Leg::Debit))?;
    let credit = to.decide(&leg(Leg::Credit))?;
    let recorded = TransferRecorded {
        transfer_id: order.transfer_id.clone(),
        from: order.from.clone(),
        to: order.to.clone(),
        amount: Money::from_decimal(order.amount, f.currency)?,
        description: order.description.clone(),
    };
    let record = transfer.decide(&if order.pending {
        TransferCommand::CreatePending(recorded, order.expires_at)
    } else {
        TransferCommand::Record(recorded)
    })?;
    Ok(TransferPlan {
        debit,
        credit,
        record,
    })
}

/// Decides a post, void or expiry of a pending transfer at `now`, from its state and
/// its two accounts' (the caller loads the accounts the transfer names; others are
/// refused with [`DomainError::NotTheTransfersAccounts`]).
///
/// Checks, in order: the accounts are the transfer's, the transfer exists, is pending,
/// has (or, for an expiry, has not) passed `expires_at`, the amount; then each leg
/// against its account.
pub fn plan_settlement(
    settlement: &Settlement,
    now: DateTime<Utc>,
    transfer: &Transfer,
    from: &Account,
    to: &Account,
) -> Result<TransferPlan, DomainError> {
    if let Some(t) = transfer.recorded() {
        let is = |a: &Account, id: &AccountId| a.details().is_some_and(|d| d.id == *id);
        if !is(from, &t.from) || !is(to, &t.to) {
            return Err(DomainError::NotTheTransfersAccounts(
                t.transfer_id.as_str().to_owned(),
            ));
        }
    }
    let record = transfer.decide(&match settlement {
        Settlement::Post(amount) => TransferCommand::Post(*amount, now),
        Settlement::Void(reason) => TransferCommand::Void(reason.clone(), now),
        Settlement::Expire => TransferCommand::Expire(now),
    })?;
    let t = transfer.recorded().ok_or(DomainError::TransferNotFound)?;
    let leg = |leg: Leg, account: &Account| -> Result<Vec<AccountEvent>, DomainError> {
        let counterparty = match leg {
            Leg::Debit => t.to.clone(),
            Leg::Credit => t.from.clone(),
        };
        let transfer_id = t.transfer_id.clone();
        let command = match record.first() {
            Some(TransferEvent::Posted { amount, .. }) => AccountCommand::PostPending {
                transfer_id,
                leg,
                counterparty,
                amount: *amount,
            },
            Some(TransferEvent::Voided { released, .. }) => AccountCommand::ReleasePending {
                transfer_id,
                leg,
                counterparty,
                amount: *released,
                reason: Release::Voided,
            },
            Some(TransferEvent::Expired { released, .. }) => AccountCommand::ReleasePending {
                transfer_id,
                leg,
                counterparty,
                amount: *released,
                reason: Release::Expired,
            },
            _ => return Err(DomainError::TransferNotFound),
        };
        account.decide(&command)
    };
    Ok(TransferPlan {
        debit: leg(Leg::Debit, from)?,
        credit: leg(Leg::Credit, to)?,
        record,
    })
}
