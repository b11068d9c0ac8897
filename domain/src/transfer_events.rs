//! The stored form of transfer events (the table is in `transfer.rs`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{DecodeError, EncodedEvent, RawEvent};
use crate::money::Money;
use crate::transfer::{TransferEvent, TransferRecorded, TRANSFER_SCHEMA_VERSION};
use crate::values::{AccountId, Note, TransferId};

#[derive(Serialize, Deserialize)]
struct PendingCreatedV1 {
    #[serde(flatten)]
    transfer: TransferRecorded,
    expires_at: Option<DateTime<Utc>>,
}

/// What `PendingCreatedV1` writes, its fields in byte order of their names (the JSON is
/// then canonical as written; `flatten` would put `expires_at` last).
#[derive(Serialize)]
struct PendingCreatedV1Out<'a> {
    amount: &'a Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: &'a Option<Note>,
    expires_at: &'a Option<DateTime<Utc>>,
    from: &'a AccountId,
    to: &'a AccountId,
    transfer_id: &'a TransferId,
}

#[derive(Serialize, Deserialize)]
struct PostedV1 {
    // Fields in byte order of their names (canonical as written).
    amount: Money,
    remaining: Money,
    transfer_id: TransferId,
}

#[derive(Serialize, Deserialize)]
struct ReleasedV1 {
    // Fields in byte order of their names (canonical as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<Note>,
    released: Money,
    transfer_id: TransferId,
}

impl TransferEvent {
    /// The current type name (what [`encode`] writes, without writing the data).
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Recorded(_) => "TransferRecorded",
            Self::PendingCreated { .. } => "PendingTransferCreated",
            Self::Posted { .. } => "TransferPosted",
            Self::Voided { .. } => "TransferVoided",
            Self::Expired { .. } => "TransferExpired",
        }
    }
}

/// The stored form of a transfer event.
pub(crate) fn encode(event: &TransferEvent) -> EncodedEvent {
    let data = match event {
        TransferEvent::Recorded(t) => serde_json::to_string(t),
        TransferEvent::PendingCreated {
            transfer,
            expires_at,
        } => serde_json::to_string(&PendingCreatedV1Out {
            amount: &transfer.amount,
            description: &transfer.description,
            expires_at,
            from: &transfer.from,
            to: &transfer.to,
            transfer_id: &transfer.transfer_id,
        }),
        TransferEvent::Posted {
            transfer_id,
            amount,
            remaining,
        } => serde_json::to_string(&PostedV1 {
            transfer_id: transfer_id.clone(),
            amount: *amount,
            remaining: *remaining,
        }),
        TransferEvent::Voided {
            transfer_id,
            released,
            reason,
        } => serde_json::to_string(&ReleasedV1 {
            transfer_id: transfer_id.clone(),
            released: *released,
            reason: reason.clone(),
        }),
        TransferEvent::Expired {
            transfer_id,
            released,
        } => serde_json::to_string(&ReleasedV1 {
            transfer_id: transfer_id.clone(),
            released: *released,
            reason: None,
        }),
    };
    EncodedEvent {
        event_type: event.event_type(),
        schema_version: TRANSFER_SCHEMA_VERSION,
        data: data.unwrap_or_default(),
    }
}

fn parse<'a, T: Deserialize<'a>>(raw: RawEvent<'a>) -> Result<T, DecodeError> {
    serde_json::from_str(raw.data).map_err(|e| DecodeError::Malformed {
        event_type: raw.event_type.to_owned(),
        reason: e.to_string(),
    })
}

/// Reads any known transfer event.
pub(crate) fn decode(raw: RawEvent<'_>) -> Result<TransferEvent, DecodeError> {
    Ok(match (raw.event_type, raw.schema_version) {
        ("TransferRecorded", 1) => TransferEvent::Recorded(parse(raw)?),
        ("PendingTransferCreated", 1) => {
            let d: PendingCreatedV1 = parse(raw)?;
            TransferEvent::PendingCreated {
                transfer: d.transfer,
                expires_at: d.expires_at,
            }
        }
        ("TransferPosted", 1) => {
            let d: PostedV1 = parse(raw)?;
            TransferEvent::Posted {
                transfer_id: d.transfer_id,
                amount: d.amount,
                remaining: d.remaining,
            }
        }
        ("TransferVoided", 1) => {
            let d: ReleasedV1 = parse(raw)?;
            TransferEvent::Voided {
                transfer_id: d.transfer_id,
                released: d.released,
                reason: d.reason,
            }
        }
        ("TransferExpired", 1) => {
            let d: ReleasedV1 = parse(raw)?;
            TransferEvent::Expired {
                transfer_id: d.transfer_id,
                released: d.released,
            }
        }
        (t, v) => {
            return Err(DecodeError::Unknown {
                event_type: t.to_owned(),
                schema_version: v,
            })
        }
    })
}
