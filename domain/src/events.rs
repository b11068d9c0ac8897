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
//!
//! `balance` is the balance right after the event.
//!
//! # Schema version 1 (the original Go design)
//! `AccountCreated`, `MoneyDeposited`, `MoneyWithdrawn`, `AccountClosed` with the Go
//! base fields (`type`, `aggregate_id`, `version`, `occurred_at`, `metadata`) embedded
//! and float `amount`/`balance` numbers without a currency. They are upcast on read:
//! the number's decimal text is parsed exactly (never as `f64`) in the currency of the
//! stream's `AccountCreated`. Float drift such as `0.30000000000000004` is rounded
//! half-to-even to the currency's minor unit: a float64 written by Go's shortest
//! round-trip encoder is within half a minor unit of the decimal the user typed for any
//! amount below 2^53 minor units, so rounding recovers exactly what was meant.
//! Balances are taken as recorded (rounded the same way), as the Go code did.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::aggregate::{DecodeError, EncodedEvent, RawEvent};
use crate::money::{Currency, Decimal, Money};
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
}

#[derive(Serialize, Deserialize)]
struct OpenedV2 {
    account_id: AccountId,
    owner: Owner,
    currency: Currency,
}

#[derive(Serialize, Deserialize)]
struct MovedV2 {
    account_id: AccountId,
    currency: Currency,
    amount: String,
    balance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transfer_id: Option<TransferId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    counterparty: Option<AccountId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<Note>,
}

#[derive(Serialize, Deserialize)]
struct ClosedV2 {
    account_id: AccountId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<Note>,
}

#[derive(Deserialize)]
struct CreatedV1 {
    account_id: AccountId,
    owner: Owner,
    currency: Currency,
}

#[derive(Deserialize)]
struct MovedV1<'a> {
    account_id: AccountId,
    #[serde(borrow)]
    amount: &'a RawValue,
    #[serde(borrow)]
    balance: &'a RawValue,
}

#[derive(Deserialize)]
struct ClosedV1 {
    account_id: AccountId,
    #[serde(default)]
    reason: Option<String>,
}

fn json<T: Serialize>(value: &T) -> String {
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
        }
    }

    /// The amount moved, for money events.
    pub fn amount(&self) -> Option<Money> {
        match self {
            Self::Deposited { amount, .. }
            | Self::Withdrawn { amount, .. }
            | Self::TransferDebited { amount, .. }
            | Self::TransferCredited { amount, .. } => Some(*amount),
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
            ("AccountCreated", 1) => {
                let d: CreatedV1 = parse(raw)?;
                Ok(Self::Opened {
                    account_id: d.account_id,
                    owner: d.owner,
                    currency: d.currency,
                })
            }
            ("MoneyDeposited" | "MoneyWithdrawn", 1) => decode_moved_v1(raw, currency),
            ("AccountClosed", 1) => {
                let d: ClosedV1 = parse(raw)?;
                let reason = match d.reason.filter(|r| !r.is_empty()) {
                    None => None,
                    Some(r) => Some(Note::from_stored(r).map_err(|e| malformed(raw, e))?),
                };
                Ok(Self::Closed {
                    account_id: d.account_id,
                    reason,
                })
            }
            (event_type, schema_version) => Err(DecodeError::Unknown {
                event_type: event_type.to_owned(),
                schema_version,
            }),
        }
    }
}

fn parse<'a, T: Deserialize<'a>>(raw: RawEvent<'a>) -> Result<T, DecodeError> {
    serde_json::from_str(raw.data).map_err(|e| malformed(raw, e))
}

fn malformed(raw: RawEvent<'_>, e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Malformed {
        event_type: raw.event_type.to_owned(),
        reason: e.to_string(),
    }
}

fn decode_moved_v2(raw: RawEvent<'_>, d: MovedV2) -> Result<AccountEvent, DecodeError> {
    let money = |s: &str| Money::parse(s, d.currency).map_err(|e| malformed(raw, e));
    let (amount, balance) = (money(&d.amount)?, money(&d.balance)?);
    let (account_id, description) = (d.account_id, d.description);
    let leg = || -> Result<(TransferId, AccountId), DecodeError> {
        match (d.transfer_id.clone(), d.counterparty.clone()) {
            (Some(t), Some(c)) => Ok((t, c)),
            _ => Err(malformed(raw, "transfer_id and counterparty are required")),
        }
    };
    Ok(match raw.event_type {
        "MoneyDeposited" => AccountEvent::Deposited {
            account_id,
            amount,
            balance,
            description,
        },
        "MoneyWithdrawn" => AccountEvent::Withdrawn {
            account_id,
            amount,
            balance,
            description,
        },
        "TransferDebited" => {
            let (transfer_id, counterparty) = leg()?;
            AccountEvent::TransferDebited {
                account_id,
                transfer_id,
                counterparty,
                amount,
                balance,
                description,
            }
        }
        _ => {
            let (transfer_id, counterparty) = leg()?;
            AccountEvent::TransferCredited {
                account_id,
                transfer_id,
                counterparty,
                amount,
                balance,
                description,
            }
        }
    })
}

fn decode_moved_v1(
    raw: RawEvent<'_>,
    currency: Option<Currency>,
) -> Result<AccountEvent, DecodeError> {
    let currency = currency.ok_or_else(|| DecodeError::NeedsStreamContext {
        event_type: raw.event_type.to_owned(),
        schema_version: raw.schema_version,
    })?;
    let d: MovedV1<'_> = parse(raw)?;
    let float_era = |v: &RawValue| -> Result<Money, DecodeError> {
        let text = v.get();
        let exact = Decimal::parse(text).map_err(|e| malformed(raw, e))?;
        Money::from_decimal(exact.round_to(currency.minor_digits()), currency)
            .map_err(|e| malformed(raw, e))
    };
    let (amount, balance) = (float_era(d.amount)?, float_era(d.balance)?);
    if !amount.is_positive() || balance.minor_units() < 0 {
        return Err(malformed(
            raw,
            "amount must be positive and balance not negative",
        ));
    }
    let account_id = d.account_id;
    Ok(if raw.event_type == "MoneyDeposited" {
        AccountEvent::Deposited {
            account_id,
            amount,
            balance,
            description: None,
        }
    } else {
        AccountEvent::Withdrawn {
            account_id,
            amount,
            balance,
            description: None,
        }
    })
}
