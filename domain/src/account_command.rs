//! What a caller can ask of an account.

use crate::money::{Currency, Decimal, Money};
use crate::pending::{Leg, Release};
use crate::values::{AccountId, Note, Owner, TransferId};

/// What a caller can ask of an account. Amounts carry no currency: the account's
/// currency decides how many decimals they may have.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountCommand {
    /// Open a new account.
    Open {
        /// Its id.
        id: AccountId,
        /// Its owner.
        owner: Owner,
        /// Its currency.
        currency: Currency,
        /// How far below zero it may go (none: 0).
        overdraft_limit: Option<Decimal>,
    },
    /// Change the overdraft limit.
    SetOverdraftLimit {
        /// Zero or more, in the account's currency.
        limit: Decimal,
    },
    /// Reserve one leg of a pending transfer.
    Reserve {
        /// The transfer.
        transfer_id: TransferId,
        /// Which side this account is on.
        leg: Leg,
        /// The other account.
        counterparty: AccountId,
        /// A positive amount.
        amount: Decimal,
        /// Optional note.
        description: Option<Note>,
    },
    /// Post part or all of a pending leg: the money moves.
    PostPending {
        /// The transfer.
        transfer_id: TransferId,
        /// Which side this account is on.
        leg: Leg,
        /// The other account.
        counterparty: AccountId,
        /// How much (at most what remains reserved).
        amount: Money,
    },
    /// Release what remains of a pending leg.
    ReleasePending {
        /// The transfer.
        transfer_id: TransferId,
        /// Which side this account is on.
        leg: Leg,
        /// The other account.
        counterparty: AccountId,
        /// How much is released.
        amount: Money,
        /// Voided or expired.
        reason: Release,
    },
    /// Add money.
    Deposit {
        /// A positive amount.
        amount: Decimal,
        /// Optional note.
        description: Option<Note>,
    },
    /// Take money out, never below zero.
    Withdraw {
        /// A positive amount.
        amount: Decimal,
        /// Optional note.
        description: Option<Note>,
    },
    /// Close the account; its balance must be zero and nothing pending.
    Close {
        /// Optional reason.
        reason: Option<Note>,
    },
    /// The debit leg of a transfer.
    DebitTransfer {
        /// The transfer.
        transfer_id: TransferId,
        /// The credited account.
        to: AccountId,
        /// A positive amount.
        amount: Decimal,
        /// Optional note.
        description: Option<Note>,
    },
    /// The credit leg of a transfer.
    CreditTransfer {
        /// The transfer.
        transfer_id: TransferId,
        /// The debited account.
        from: AccountId,
        /// A positive amount.
        amount: Decimal,
        /// Optional note.
        description: Option<Note>,
    },
}
