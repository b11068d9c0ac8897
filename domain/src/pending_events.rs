//! The stored form of the pending-transfer and overdraft events of an account (schema
//! version 2, the account events' current version; they have no version 1):
//!
//! | type | data |
//! |---|---|
//! | `OverdraftLimitSet` | `{"account_id", "currency", "overdraft_limit"}` |
//! | `PendingTransferReserved` | `{"account_id", "currency", "transfer_id", "counterparty", "leg": "debit"\|"credit", "amount", "pending", "description"?}` |
//! | `PendingTransferPosted` | the same without `description`, plus `"balance"` |
//! | `PendingTransferReleased` | the same as reserved without `description`, plus `"reason": "voided"\|"expired"` |
//!
//! `pending` is the leg's pending amount right after the event (`pending_out` for the
//! debit leg, `pending_in` for the credit leg), `balance` the balance after.

use serde::{Deserialize, Serialize};

use crate::aggregate::{DecodeError, RawEvent};
use crate::events::{json, malformed, parse, AccountEvent};
use crate::money::{Currency, Money};
use crate::pending::{Leg, Release};
use crate::values::{AccountId, Note, TransferId};

#[derive(Serialize, Deserialize)]
struct LimitV2 {
    account_id: AccountId,
    currency: Currency,
    overdraft_limit: String,
}

// Fields in byte order of their names: the stored JSON is then canonical as written,
// and hashing copies it instead of sorting it (`canonical_json.rs`).
#[derive(Serialize, Deserialize)]
struct PendingV2 {
    account_id: AccountId,
    amount: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    balance: Option<String>,
    counterparty: AccountId,
    currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<Note>,
    leg: Leg,
    pending: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<Release>,
    transfer_id: TransferId,
}

/// The data of a pending or limit event (`AccountEvent::encode` calls this for those).
pub(crate) fn encode_pending(event: &AccountEvent) -> String {
    let leg = |account_id: &AccountId,
               transfer_id: &TransferId,
               leg: &Leg,
               counterparty: &AccountId,
               amount: &Money,
               pending: &Money| PendingV2 {
        account_id: account_id.clone(),
        currency: amount.currency(),
        transfer_id: transfer_id.clone(),
        counterparty: counterparty.clone(),
        leg: *leg,
        amount: amount.to_string(),
        pending: pending.to_string(),
        balance: None,
        reason: None,
        description: None,
    };
    match event {
        AccountEvent::OverdraftLimitSet { account_id, limit } => json(&LimitV2 {
            account_id: account_id.clone(),
            currency: limit.currency(),
            overdraft_limit: limit.to_string(),
        }),
        AccountEvent::PendingReserved {
            account_id,
            transfer_id,
            leg: side,
            counterparty,
            amount,
            pending,
            description,
        } => json(&PendingV2 {
            description: description.clone(),
            ..leg(account_id, transfer_id, side, counterparty, amount, pending)
        }),
        AccountEvent::PendingPosted {
            account_id,
            transfer_id,
            leg: side,
            counterparty,
            amount,
            balance,
            pending,
        } => json(&PendingV2 {
            balance: Some(balance.to_string()),
            ..leg(account_id, transfer_id, side, counterparty, amount, pending)
        }),
        AccountEvent::PendingReleased {
            account_id,
            transfer_id,
            leg: side,
            counterparty,
            amount,
            pending,
            reason,
        } => json(&PendingV2 {
            reason: Some(*reason),
            ..leg(account_id, transfer_id, side, counterparty, amount, pending)
        }),
        // The other events have their own stored forms (events.rs).
        _ => String::new(),
    }
}

/// Reads a pending or limit event of schema version 2.
pub(crate) fn decode_pending_v2(raw: RawEvent<'_>) -> Result<AccountEvent, DecodeError> {
    if raw.event_type == "OverdraftLimitSet" {
        let d: LimitV2 = parse(raw)?;
        let limit = Money::parse(&d.overdraft_limit, d.currency).map_err(|e| malformed(raw, e))?;
        let limit = crate::money_events::not_negative(raw, limit)?;
        return Ok(AccountEvent::OverdraftLimitSet {
            account_id: d.account_id,
            limit,
        });
    }
    let d: PendingV2 = parse(raw)?;
    let money = |s: &str| Money::parse(s, d.currency).map_err(|e| malformed(raw, e));
    let not_negative = |m| crate::money_events::not_negative(raw, m);
    let (amount, pending) = (
        not_negative(money(&d.amount)?)?,
        not_negative(money(&d.pending)?)?,
    );
    Ok(match raw.event_type {
        "PendingTransferReserved" => AccountEvent::PendingReserved {
            account_id: d.account_id,
            transfer_id: d.transfer_id,
            leg: d.leg,
            counterparty: d.counterparty,
            amount,
            pending,
            description: d.description,
        },
        "PendingTransferPosted" => {
            let balance = d
                .balance
                .as_deref()
                .ok_or_else(|| malformed(raw, "balance is required"))?;
            AccountEvent::PendingPosted {
                account_id: d.account_id,
                transfer_id: d.transfer_id,
                leg: d.leg,
                counterparty: d.counterparty,
                amount,
                balance: money(balance)?,
                pending,
            }
        }
        _ => AccountEvent::PendingReleased {
            account_id: d.account_id,
            transfer_id: d.transfer_id,
            leg: d.leg,
            counterparty: d.counterparty,
            amount,
            pending,
            reason: d
                .reason
                .ok_or_else(|| malformed(raw, "reason is required"))?,
        },
    })
}
