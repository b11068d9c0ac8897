//! Transfers: the `Transfer` aggregate that makes each transfer id unique, and the
//! pure planning of a transfer's two legs across two accounts.

use serde::{Deserialize, Serialize};

use crate::account::{Account, AccountCommand};
use crate::aggregate::{Aggregate, DecodeError, EncodedEvent, RawEvent};
use crate::error::DomainError;
use crate::events::AccountEvent;
use crate::money::{Decimal, Money};
use crate::values::{AccountId, Note, TransferId};

/// The current schema version of `TransferRecorded`.
pub const TRANSFER_SCHEMA_VERSION: u32 = 1;

/// A transfer's own stream: it exists once the transfer happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    recorded: Option<TransferRecorded>,
}

/// The transfer happened: `amount` moved from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecorded {
    /// The transfer.
    pub transfer_id: TransferId,
    /// Debited account.
    pub from: AccountId,
    /// Credited account.
    pub to: AccountId,
    /// How much (in the accounts' shared currency).
    pub amount: Money,
}

/// Record a transfer; refused when its id was used before.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordTransfer(pub TransferRecorded);

impl Transfer {
    /// The recorded transfer, if any.
    pub fn recorded(&self) -> Option<&TransferRecorded> {
        self.recorded.as_ref()
    }
}

impl Aggregate for Transfer {
    const STREAM_TYPE: &'static str = "transfer";
    const SNAPSHOT_FORMAT: u32 = 1;
    type Command = RecordTransfer;
    type Event = TransferRecorded;
    type Error = DomainError;

    fn decide(&self, command: &RecordTransfer) -> Result<Vec<TransferRecorded>, DomainError> {
        match self.recorded {
            Some(_) => Err(DomainError::TransferExists),
            None => Ok(vec![command.0.clone()]),
        }
    }

    fn evolve(mut self, event: &TransferRecorded) -> Self {
        self.recorded = Some(event.clone());
        self
    }

    fn encode(event: &TransferRecorded) -> EncodedEvent {
        EncodedEvent {
            event_type: "TransferRecorded",
            schema_version: TRANSFER_SCHEMA_VERSION,
            data: serde_json::to_string(event).unwrap_or_default(),
        }
    }

    fn decode(&self, raw: RawEvent<'_>) -> Result<TransferRecorded, DecodeError> {
        match (raw.event_type, raw.schema_version) {
            ("TransferRecorded", 1) => {
                serde_json::from_str(raw.data).map_err(|e| DecodeError::Malformed {
                    event_type: raw.event_type.to_owned(),
                    reason: e.to_string(),
                })
            }
            (t, v) => Err(DecodeError::Unknown {
                event_type: t.to_owned(),
                schema_version: v,
            }),
        }
    }
}

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
}

/// The events of a transfer, one list per stream.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferPlan {
    /// For the debited account.
    pub debit: Vec<AccountEvent>,
    /// For the credited account.
    pub credit: Vec<AccountEvent>,
    /// For the transfer's own stream.
    pub record: Vec<TransferRecorded>,
}

/// Decides both legs of a transfer from the two accounts' and the transfer's states.
///
/// Checks, in order: two different accounts, both exist and are open, equal
/// currencies, the amount, the funds, and that the transfer id is new.
pub fn plan_transfer(
    order: &TransferOrder,
    from: &Account,
    to: &Account,
    transfer: &Transfer,
) -> Result<TransferPlan, DomainError> {
    if order.from == order.to {
        return Err(DomainError::SameAccount);
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
    let debit = from.decide(&AccountCommand::DebitTransfer {
        transfer_id: order.transfer_id.clone(),
        to: order.to.clone(),
        amount: order.amount,
        description: order.description.clone(),
    })?;
    let credit = to.decide(&AccountCommand::CreditTransfer {
        transfer_id: order.transfer_id.clone(),
        from: order.from.clone(),
        amount: order.amount,
        description: order.description.clone(),
    })?;
    let amount = Money::from_decimal(order.amount, f.currency)?;
    let record = transfer.decide(&RecordTransfer(TransferRecorded {
        transfer_id: order.transfer_id.clone(),
        from: order.from.clone(),
        to: order.to.clone(),
        amount,
    }))?;
    Ok(TransferPlan {
        debit,
        credit,
        record,
    })
}
