//! Account events and their stored form, with the upcasters of older schema versions.
//!
//! # Stored form (schema version 2, current)
//! Every event is stored as a type name, a schema version and JSON data. Amounts
//! are decimal strings with exactly the currency's minor digits, next to the currency:
//!
//! | type | data |
//! |---|---|
//! | `AccountOpened` | `{"account_id", "owner", "currency"}` |
//! | `MoneyDeposited`, `MoneyWithdrawn` | `{"account_id", "currency", "amount", "balance", "description"?}` |
//! | `TransferDebited`, `TransferCredited` | the same plus `"transfer_id"`, `"counterparty"` |
//! | `AccountClosed` | `{"account_id", "reason"?}` |
//! | `OverdraftLimitSet`, `PendingTransfer{Reserved,Posted,Released}` | see `pending_events.rs` |
//!
//! `balance` is the balance right after the event.
//!
//! Pending-transfer and overdraft events: `pending_events.rs`. Schema version 1 (the
//! original Go design) and its upcasters: `upcast_v1.rs`.

use serde::{Deserialize, Serialize};

use crate::aggregate::{DecodeError, EncodedEvent, RawEvent};
use crate::money::{Currency, Money};
use crate::money_events::{decode_moved_v2, MovedV2};
use crate::pending::{Leg, Release};
use crate::pending_events::{decode_pending_v2, encode_pending};
use crate::upcast_v1::{decode_closed_v1, decode_created_v1, decode_moved_v1};
use crate::values::{AccountId, Note, Owner, TransferId};

/// The current schema version of every account event type.
pub const ACCOUNT_SCHEMA_VERSION: u32 = 2;

/// Something that happened to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// The account was opened (v1 name: `AccountCreated`).
    Opened {
        /// Its id.
        account_id: AccountId,
        /// Its owner.
        owner: Owner,
        /// Its currency.
        currency: Currency,
    },
    /// Money was deposited.
    Deposited {
        /// The account.
        account_id: AccountId,
        /// How much.
        amount: Money,
        /// The balance after.
        balance: Money,
        /// Optional note.
        description: Option<Note>,
    },
    /// Money was withdrawn.
    Withdrawn {
        /// The account.
        account_id: AccountId,
        /// How much.
        amount: Money,
        /// The balance after.
        balance: Money,
        /// Optional note.
        description: Option<Note>,
    },
    /// The account was closed.
    Closed {
        /// The account.
        account_id: AccountId,
        /// Optional reason.
        reason: Option<Note>,
    },
    /// The debit leg of a transfer.
    TransferDebited {
        /// The debited account.
        account_id: AccountId,
        /// The transfer.
        transfer_id: TransferId,
        /// The credited account.
        counterparty: AccountId,
        /// How much.
        amount: Money,
        /// The balance after.
        balance: Money,
        /// Optional note.
        description: Option<Note>,
    },
    /// The credit leg of a transfer.
    TransferCredited {
        /// The credited account.
        account_id: AccountId,
        /// The transfer.
        transfer_id: TransferId,
        /// The debited account.
        counterparty: AccountId,
        /// How much.
        amount: Money,
        /// The balance after.
        balance: Money,
        /// Optional note.
        description: Option<Note>,
    },
    /// The overdraft limit was set (on opening, or changed).
    OverdraftLimitSet {
        /// The account.
        account_id: AccountId,
        /// The new limit.
        limit: Money,
    },
    /// One leg of a pending transfer was reserved: the leg's pending amount grew.
    PendingReserved {
        /// The account.
        account_id: AccountId,
        /// The transfer.
        transfer_id: TransferId,
        /// Which side the account is on.
        leg: Leg,
        /// The other account.
        counterparty: AccountId,
        /// How much.
        amount: Money,
        /// The leg's pending amount after (`pending_out` or `pending_in`).
        pending: Money,
        /// Optional note.
        description: Option<Note>,
    },
    /// Part or all of a pending leg was posted: the money moved.
    PendingPosted {
        /// The account.
        account_id: AccountId,
        /// The transfer.
        transfer_id: TransferId,
        /// Which side the account is on.
        leg: Leg,
        /// The other account.
        counterparty: AccountId,
        /// How much moved.
        amount: Money,
        /// The balance after.
        balance: Money,
        /// The leg's pending amount after.
        pending: Money,
    },
    /// What remained of a pending leg was released.
    PendingReleased {
        /// The account.
        account_id: AccountId,
        /// The transfer.
        transfer_id: TransferId,
        /// Which side the account is on.
        leg: Leg,
        /// The other account.
        counterparty: AccountId,
        /// How much was released.
        amount: Money,
        /// The leg's pending amount after.
        pending: Money,
        /// Voided or expired.
        reason: Release,
    },
}

// Fields in byte order of their names: the stored JSON is then canonical as written,
// and hashing copies it instead of sorting it (`canonical_json.rs`).
#[derive(Serialize, Deserialize)]
struct OpenedV2 {
    account_id: AccountId,
    currency: Currency,
    owner: Owner,
}

#[derive(Serialize, Deserialize)]
struct ClosedV2 {
    account_id: AccountId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<Note>,
}

pub(crate) fn json<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs of strings cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

impl AccountEvent {
    /// The current type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Opened { .. } => "AccountOpened",
            Self::Deposited { .. } => "MoneyDeposited",
            Self::Withdrawn { .. } => "MoneyWithdrawn",
            Self::Closed { .. } => "AccountClosed",
            Self::TransferDebited { .. } => "TransferDebited",
            Self::TransferCredited { .. } => "TransferCredited",
            Self::OverdraftLimitSet { .. } => "OverdraftLimitSet",
            Self::PendingReserved { .. } => "PendingTransferReserved",
            Self::PendingPosted { .. } => "PendingTransferPosted",
            Self::PendingReleased { .. } => "PendingTransferReleased",
        }
    }

    /// The amount moved, for money events.
    pub fn amount(&self) -> Option<Money> {
        match self {
            Self::Deposited { amount, .. }
            | Self::Withdrawn { amount, .. }
            | Self::TransferDebited { amount, .. }
            | Self::TransferCredited { amount, .. }
            | Self::PendingReserved { amount, .. }
            | Self::PendingPosted { amount, .. }
            | Self::PendingReleased { amount, .. } => Some(*amount),
            Self::OverdraftLimitSet { limit, .. } => Some(*limit),
            Self::Opened { .. } | Self::Closed { .. } => None,
        }
    }

    /// The current stored form.
    pub fn encode(&self) -> EncodedEvent {
        let moved = |account_id: &AccountId, amount: &Money, balance: &Money| MovedV2 {
            account_id: account_id.clone(),
            currency: amount.currency(),
            amount: amount.to_string(),
            balance: balance.to_string(),
            transfer_id: None,
            counterparty: None,
            description: None,
        };
        let data = match self {
            Self::Opened {
                account_id,
                owner,
                currency,
            } => json(&OpenedV2 {
                account_id: account_id.clone(),
                owner: owner.clone(),
                currency: *currency,
            }),
            Self::Deposited {
                account_id,
                amount,
                balance,
                description,
            }
            | Self::Withdrawn {
                account_id,
                amount,
                balance,
                description,
            } => json(&MovedV2 {
                description: description.clone(),
                ..moved(account_id, amount, balance)
            }),
            Self::TransferDebited {
                account_id,
                transfer_id,
                counterparty,
                amount,
                balance,
                description,
            }
            | Self::TransferCredited {
                account_id,
                transfer_id,
                counterparty,
                amount,
                balance,
                description,
            } => json(&MovedV2 {
                transfer_id: Some(transfer_id.clone()),
                counterparty: Some(counterparty.clone()),
                description: description.clone(),
                ..moved(account_id, amount, balance)
            }),
            Self::Closed { account_id, reason } => json(&ClosedV2 {
                account_id: account_id.clone(),
                reason: reason.clone(),
            }),
            pending => encode_pending(pending),
        };
        EncodedEvent {
            event_type: self.event_type(),
            schema_version: ACCOUNT_SCHEMA_VERSION,
            data,
        }
    }

    /// Reads any known schema version. `currency` is the stream's currency when known
    /// (needed only by version-1 money events, which carry none).
    pub fn decode(raw: RawEvent<'_>, currency: Option<Currency>) -> Result<Self, DecodeError> {
        match (raw.event_type, raw.schema_version) {
            ("AccountOpened", 2) => {
                let d: OpenedV2 = parse(raw)?;
                Ok(Self::Opened {
                    account_id: d.account_id,
                    owner: d.owner,
                    currency: d.currency,
                })
            }
            ("MoneyDeposited" | "MoneyWithdrawn" | "TransferDebited" | "TransferCredited", 2) => {
                decode_moved_v2(raw, parse(raw)?)
            }
            ("AccountClosed", 2) => {
                let d: ClosedV2 = parse(raw)?;
                Ok(Self::Closed {
                    account_id: d.account_id,
                    reason: d.reason,
                })
            }
            (
                "OverdraftLimitSet"
                | "PendingTransferReserved"
                | "PendingTransferPosted"
                | "PendingTransferReleased",
                2,
            ) => decode_pending_v2(raw),
            ("AccountCreated", 1) => decode_created_v1(raw),
            ("MoneyDeposited" | "MoneyWithdrawn", 1) => decode_moved_v1(raw, currency),
            ("AccountClosed", 1) => decode_closed_v1(raw),
            (event_type, schema_version) => Err(DecodeError::Unknown {
                event_type: event_type.to_owned(),
                schema_version,
            }),
        }
    }
}

pub(crate) fn parse<'a, T: Deserialize<'a>>(raw: RawEvent<'a>) -> Result<T, DecodeError> {
    serde_json::from_str(raw.data).map_err(|e| malformed(raw, e))
}

pub(crate) fn malformed(raw: RawEvent<'_>, e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Malformed {
        event_type: raw.event_type.to_owned(),
        reason: e.to_string(),
    }
}
