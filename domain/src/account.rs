//! The `Account` aggregate: its state, commands, and the decide/evolve pair.

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, DecodeError, EncodedEvent, RawEvent};
use crate::error::DomainError;
use crate::events::AccountEvent;
use crate::money::{Currency, Decimal, Money};
use crate::values::{AccountId, Owner};

pub use crate::account_command::AccountCommand;

/// Whether an account takes commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Takes commands.
    Open,
    /// Refuses every command.
    Closed,
}

impl AccountStatus {
    /// `open` or `closed` (as the API and the read models write it).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }

    /// Reads [`Self::as_str`]; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// The facts of an opened account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDetails {
    /// Its id.
    pub id: AccountId,
    /// Its owner.
    pub owner: Owner,
    /// Its currency; every amount on it is in this currency.
    pub currency: Currency,
    /// The posted balance; below zero only as far as the overdraft limit allows.
    pub balance: Money,
    /// Open or closed.
    pub status: AccountStatus,
    /// What remains of the pending transfers out (reserved, not yet moved).
    pub pending_out: Money,
    /// What remains of the pending transfers in.
    pub pending_in: Money,
    /// How far below zero `available` may go (never negative).
    pub overdraft_limit: Money,
}

impl AccountDetails {
    /// The balance less the pending transfers out.
    pub fn available(&self) -> Money {
        crate::pending::available(self.balance, self.pending_out)
    }

    /// Whether `amount` may leave the account: `available` + `overdraft_limit` covers it.
    pub(crate) fn ensure_covers(&self, amount: Money) -> Result<(), DomainError> {
        let room = i128::from(self.available().minor_units())
            + i128::from(self.overdraft_limit.minor_units());
        if i128::from(amount.minor_units()) > room {
            return Err(DomainError::InsufficientFunds {
                available: self.available().to_string(),
                limit: self.overdraft_limit.to_string(),
                requested: amount.to_string(),
            });
        }
        Ok(())
    }
}

/// An account's state: `None` until opened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    details: Option<AccountDetails>,
}

impl Account {
    /// The account's facts, once opened.
    pub fn details(&self) -> Option<&AccountDetails> {
        self.details.as_ref()
    }

    /// The account's currency, once opened.
    pub fn currency(&self) -> Option<Currency> {
        self.details.as_ref().map(|d| d.currency)
    }

    pub(crate) fn open_details(&self) -> Result<&AccountDetails, DomainError> {
        match &self.details {
            None => Err(DomainError::AccountNotFound),
            Some(d) if d.status == AccountStatus::Closed => Err(DomainError::AccountClosed),
            Some(d) => Ok(d),
        }
    }

    pub(crate) fn amount_in(d: &AccountDetails, amount: Decimal) -> Result<Money, DomainError> {
        if !amount.is_positive() {
            return Err(DomainError::InvalidAmount(crate::MoneyError::NotPositive));
        }
        Ok(Money::from_decimal(amount, d.currency)?)
    }

    /// A credit leaves room for what is held for the account: `balance + pending_in`
    /// always fits, so every pending credit can be posted.
    fn credit(d: &AccountDetails, amount: Decimal) -> Result<(Money, Money), DomainError> {
        let amount = Self::amount_in(d, amount)?;
        let balance = d.balance.checked_add(amount)?;
        balance.checked_add(d.pending(crate::Leg::Credit))?;
        Ok((amount, balance))
    }

    fn debit(d: &AccountDetails, amount: Decimal) -> Result<(Money, Money), DomainError> {
        let amount = Self::amount_in(d, amount)?;
        d.ensure_covers(amount)?;
        Ok((amount, d.balance.checked_sub(amount)?))
    }
}

impl Aggregate for Account {
    const STREAM_TYPE: &'static str = "account";
    /// 2: pending amounts and the overdraft limit (format-1 snapshots are replayed).
    const SNAPSHOT_FORMAT: u32 = 2;
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = DomainError;

    fn decide(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, DomainError> {
        use AccountCommand as C;
        let event = match command {
            C::Open {
                id,
                owner,
                currency,
                overdraft_limit,
            } => return self.open(id, owner, *currency, *overdraft_limit),
            C::SetOverdraftLimit { limit } => self.set_limit(*limit)?,
            C::Reserve {
                transfer_id,
                leg,
                counterparty,
                amount,
                description,
            } => self.reserve(transfer_id, *leg, counterparty, *amount, description)?,
            C::PostPending {
                transfer_id,
                leg,
                counterparty,
                amount,
            } => self.post_pending(transfer_id, *leg, counterparty, *amount)?,
            C::ReleasePending {
                transfer_id,
                leg,
                counterparty,
                amount,
                reason,
            } => self.release_pending(transfer_id, *leg, counterparty, *amount, *reason)?,
            C::Deposit {
                amount,
                description,
            } => {
                let d = self.open_details()?;
                let account_id = d.id.clone();
                let (amount, balance) = Self::credit(d, *amount)?;
                AccountEvent::Deposited {
                    account_id,
                    amount,
                    balance,
                    description: description.clone(),
                }
            }
            C::Withdraw {
                amount,
                description,
            } => {
                let d = self.open_details()?;
                let account_id = d.id.clone();
                let (amount, balance) = Self::debit(d, *amount)?;
                AccountEvent::Withdrawn {
                    account_id,
                    amount,
                    balance,
                    description: description.clone(),
                }
            }
            C::Close { reason } => {
                let d = self.open_details()?;
                let account_id = d.id.clone();
                if d.pending_out.is_positive() || d.pending_in.is_positive() {
                    return Err(DomainError::PendingTransfers);
                }
                if d.balance.minor_units() != 0 {
                    return Err(DomainError::BalanceNotZero(d.balance.to_string()));
                }
                AccountEvent::Closed {
                    account_id,
                    reason: reason.clone(),
                }
            }
            C::DebitTransfer {
                transfer_id,
                to,
                amount,
                description,
            } => {
                let d = self.open_details()?;
                let account_id = d.id.clone();
                if *to == d.id {
                    return Err(DomainError::SameAccount);
                }
                let (amount, balance) = Self::debit(d, *amount)?;
                AccountEvent::TransferDebited {
                    account_id,
                    transfer_id: transfer_id.clone(),
                    counterparty: to.clone(),
                    amount,
                    balance,
                    description: description.clone(),
                }
            }
            C::CreditTransfer {
                transfer_id,
                from,
                amount,
                description,
            } => {
                let d = self.open_details()?;
                let account_id = d.id.clone();
                if *from == d.id {
                    return Err(DomainError::SameAccount);
                }
                let (amount, balance) = Self::credit(d, *amount)?;
                AccountEvent::TransferCredited {
                    account_id,
                    transfer_id: transfer_id.clone(),
                    counterparty: from.clone(),
                    amount,
                    balance,
                    description: description.clone(),
                }
            }
        };
        Ok(vec![event])
    }

    fn evolve(mut self, event: &AccountEvent) -> Self {
        match event {
            AccountEvent::Opened {
                account_id,
                owner,
                currency,
            } => {
                self.details = Some(AccountDetails {
                    id: account_id.clone(),
                    owner: owner.clone(),
                    currency: *currency,
                    balance: Money::zero(*currency),
                    status: AccountStatus::Open,
                    pending_out: Money::zero(*currency),
                    pending_in: Money::zero(*currency),
                    overdraft_limit: Money::zero(*currency),
                });
            }
            AccountEvent::OverdraftLimitSet { limit, .. } => {
                if let Some(d) = self.details.as_mut() {
                    d.overdraft_limit = *limit;
                }
            }
            AccountEvent::PendingReserved { leg, pending, .. }
            | AccountEvent::PendingReleased { leg, pending, .. } => {
                if let Some(d) = self.details.as_mut() {
                    *d.pending_mut(*leg) = *pending;
                }
            }
            AccountEvent::PendingPosted {
                leg,
                balance,
                pending,
                ..
            } => {
                if let Some(d) = self.details.as_mut() {
                    d.balance = *balance;
                    *d.pending_mut(*leg) = *pending;
                }
            }
            AccountEvent::Deposited { balance, .. }
            | AccountEvent::Withdrawn { balance, .. }
            | AccountEvent::TransferDebited { balance, .. }
            | AccountEvent::TransferCredited { balance, .. } => {
                if let Some(d) = self.details.as_mut() {
                    d.balance = *balance;
                }
            }
            AccountEvent::Closed { .. } => {
                if let Some(d) = self.details.as_mut() {
                    d.status = AccountStatus::Closed;
                }
            }
        }
        self
    }

    fn encode(event: &AccountEvent) -> EncodedEvent {
        event.encode()
    }

    fn decode(&self, raw: RawEvent<'_>) -> Result<AccountEvent, DecodeError> {
        AccountEvent::decode(raw, self.currency())
    }
}
