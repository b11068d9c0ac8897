//! Pure domain of the ledger: exact money, the `Account` and `Transfer` aggregates as
//! decide/evolve pairs, their events with schema versions and upcasters, domain errors.
//!
//! No IO, no async, no runtime: everything here is a function of its inputs.
//!
//! ```
//! use ledger_domain::*;
//! let usd = Currency::parse("USD").unwrap();
//! let id = AccountId::parse("acc-1").unwrap();
//! let open = AccountCommand::Open { id, owner: Owner::parse("Ada").unwrap(), currency: usd, overdraft_limit: None };
//! let account = fold(Account::default(), &Account::default().decide(&open).unwrap());
//! let deposit = AccountCommand::Deposit { amount: Decimal::parse("12.5").unwrap(), description: None };
//! let events = account.decide(&deposit).unwrap();
//! let account = fold(account, &events);
//! assert_eq!(account.details().unwrap().balance.to_string(), "12.50");
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![warn(missing_docs)]

mod account;
mod account_command;
mod aggregate;
mod canonical_json;
mod code;
mod decimal;
mod error;
mod events;
pub mod integrity;
mod money;
mod money_events;
mod pending;
mod pending_events;
mod total;
mod transfer;
mod transfer_events;
mod transfer_plan;
mod upcast_v1;
mod values;

#[cfg(any(test, feature = "test-kit"))]
pub mod testkit;

pub use account::{Account, AccountCommand, AccountDetails, AccountStatus};
pub use aggregate::{fold, replay, Aggregate, DecodeError, EncodedEvent, RawEvent, Versioned};
pub use code::ErrorCode;
pub use error::DomainError;
pub use events::{AccountEvent, ACCOUNT_SCHEMA_VERSION};
pub use integrity::ChainHash;

/// Every event type the ledger records, as the API names them (after upcasting).
pub const EVENT_TYPES: [&str; 16] = [
    "AccountOpened",
    "MoneyDeposited",
    "MoneyWithdrawn",
    "AccountClosed",
    "TransferDebited",
    "TransferCredited",
    "OverdraftLimitSet",
    "PendingTransferReserved",
    "PendingTransferPosted",
    "PendingTransferReleased",
    "TransferRecorded",
    "PendingTransferCreated",
    "TransferPosted",
    "TransferVoided",
    "TransferExpired",
    "LedgerSealed",
];
pub use money::{Currency, Decimal, Money, MoneyError};
pub use pending::{available, Leg, Release};
pub use total::MoneyTotal;
pub use transfer::{
    Transfer, TransferCommand, TransferDetails, TransferEvent, TransferRecorded, TransferStatus,
    TRANSFER_SCHEMA_VERSION,
};
pub use transfer_plan::{plan_settlement, plan_transfer, Settlement, TransferOrder, TransferPlan};
pub use values::{is_blank, AccountId, Note, Owner, TransferId, ValueError};
