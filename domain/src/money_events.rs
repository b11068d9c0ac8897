//! The stored form of the money movements of an account (schema version 2): deposits,
//! withdrawals and the legs of transfers posted at once (the table is in `events.rs`).

use serde::{Deserialize, Serialize};

use crate::aggregate::{DecodeError, RawEvent};
use crate::events::{malformed, AccountEvent};
use crate::money::{Currency, Money};
use crate::values::{AccountId, Note, TransferId};

#[derive(Serialize, Deserialize)]
pub(crate) struct MovedV2 {
    // Fields in byte order of their names: the stored JSON is then canonical as
    // written, and hashing copies it instead of sorting it (`canonical_json.rs`).
    pub(crate) account_id: AccountId,
    pub(crate) amount: String,
    pub(crate) balance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) counterparty: Option<AccountId>,
    pub(crate) currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<Note>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) transfer_id: Option<TransferId>,
}

/// An amount an event never holds below zero (an amount moved or held, a pending sum, a
/// limit): one that is was changed outside the service, and deciding on it would let
/// money leave beyond what covers it. The stream is then unreadable.
pub(crate) fn not_negative(raw: RawEvent<'_>, m: Money) -> Result<Money, DecodeError> {
    match m.minor_units() < 0 {
        true => Err(malformed(raw, "a negative amount")),
        false => Ok(m),
    }
}

/// Reads a money movement of schema version 2.
pub(crate) fn decode_moved_v2(raw: RawEvent<'_>, d: MovedV2) -> Result<AccountEvent, DecodeError> {
    let money = |s: &str| Money::parse(s, d.currency).map_err(|e| malformed(raw, e));
    let (amount, balance) = (not_negative(raw, money(&d.amount)?)?, money(&d.balance)?);
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
