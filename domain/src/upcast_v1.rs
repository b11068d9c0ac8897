//! Schema version 1 (the original Go design) and its upcasters.
//!
//! `AccountCreated`, `MoneyDeposited`, `MoneyWithdrawn`, `AccountClosed` with the Go
//! base fields (`type`, `aggregate_id`, `version`, `occurred_at`, `metadata`) embedded
//! and float `amount`/`balance` numbers without a currency. They are upcast on read:
//! the number's decimal text is parsed exactly (never as `f64`) in the currency of the
//! stream's `AccountCreated`. Float drift such as `0.30000000000000004` is rounded
//! half-to-even to the currency's minor unit: a float64 written by Go's shortest
//! round-trip encoder is within half a minor unit of the decimal the user typed for any
//! amount below 2^53 minor units, so rounding recovers exactly what was meant.
//! Balances are taken as recorded (rounded the same way), as the Go code did, and each
//! amount is what its event moved the rounded balance by (the balance before it is the
//! recorded one less the amount, exactly). For amounts of whole minor units that is the
//! amount rounded; the Go design took finer ones (0.001 USD), and those become what
//! they moved the rounded balance by, zero included: a stream's amounts add up to its
//! balance wherever its recorded balances chain (each the one before it plus or minus
//! its amount). Float drift that lands a recorded balance on the other side of half a
//! minor unit from the exact sum can leave a minor unit between them; the balance, as
//! recorded, is what the account holds.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::aggregate::{DecodeError, RawEvent};
use crate::events::{malformed, parse, AccountEvent};
use crate::money::{Currency, Decimal, Money};
use crate::values::{AccountId, Note, Owner};

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

/// `AccountCreated` v1.
pub(crate) fn decode_created_v1(raw: RawEvent<'_>) -> Result<AccountEvent, DecodeError> {
    let d: CreatedV1 = parse(raw)?;
    Ok(AccountEvent::Opened {
        account_id: d.account_id,
        owner: d.owner,
        currency: d.currency,
    })
}

/// `AccountClosed` v1.
pub(crate) fn decode_closed_v1(raw: RawEvent<'_>) -> Result<AccountEvent, DecodeError> {
    let d: ClosedV1 = parse(raw)?;
    let reason = match d.reason.filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(Note::from_stored(r).map_err(|e| malformed(raw, e))?),
    };
    Ok(AccountEvent::Closed {
        account_id: d.account_id,
        reason,
    })
}

/// `MoneyDeposited` and `MoneyWithdrawn` v1.
pub(crate) fn decode_moved_v1(
    raw: RawEvent<'_>,
    currency: Option<Currency>,
) -> Result<AccountEvent, DecodeError> {
    let currency = currency.ok_or_else(|| DecodeError::NeedsStreamContext {
        event_type: raw.event_type.to_owned(),
        schema_version: raw.schema_version,
    })?;
    let d: MovedV1<'_> = parse(raw)?;
    let exact = |v: &RawValue| Decimal::parse(v.get()).map_err(|e| malformed(raw, e));
    let (moved, after) = (exact(d.amount)?, exact(d.balance)?);
    if !moved.is_positive() {
        return Err(malformed(raw, "amount must be positive"));
    }
    let deposit = raw.event_type == "MoneyDeposited";
    let change = if deposit { moved.negated() } else { moved };
    let before = after.checked_add(change).map_err(|e| malformed(raw, e))?;
    let in_minor_units = |d: Decimal| {
        Money::from_decimal(d.round_to(currency.minor_digits()), currency)
            .map_err(|e| malformed(raw, e))
    };
    let (before, balance) = (in_minor_units(before)?, in_minor_units(after)?);
    // Float dust below zero (`-2.7e-17`) rounds to zero.
    if balance.minor_units() < 0 {
        return Err(malformed(raw, "balance must not be negative"));
    }
    // The amount is what the rounded balance moved by: the amounts then add up to the
    // balance, and one finer than the currency (the Go design took any) moves it by
    // what rounding gives, zero included.
    let amount = if deposit {
        balance.checked_sub(before)
    } else {
        before.checked_sub(balance)
    }
    .map_err(|e| malformed(raw, e))?;
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
