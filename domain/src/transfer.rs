//! The `Transfer` aggregate: a transfer's own stream. It makes each transfer id unique
//! and holds a pending transfer's state (what was reserved, posted and remains).
//!
//! Stored form (each type at schema version 1):
//!
//! | type | data |
//! |---|---|
//! | `TransferRecorded` | `{"transfer_id", "from", "to", "amount": {"amount", "currency"}, "description"?}`: posted at once |
//! | `PendingTransferCreated` | the same plus `"expires_at"` (RFC 3339 or null) |
//! | `TransferPosted` | `{"transfer_id", "amount": {...}, "remaining": {...}}` |
//! | `TransferVoided` | `{"transfer_id", "released": {...}, "reason"?}` |
//! | `TransferExpired` | `{"transfer_id", "released": {...}}` |

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, DecodeError, EncodedEvent, RawEvent};
use crate::error::DomainError;
use crate::money::{Decimal, Money};
use crate::values::{AccountId, Note, TransferId};

/// The current schema version of every transfer event type.
pub const TRANSFER_SCHEMA_VERSION: u32 = 1;

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferStatus {
    /// Reserved; part of it may have been posted.
    Pending,
    /// All of it moved.
    Posted,
    /// Released by a client.
    Voided,
    /// Released when `expires_at` passed.
    Expired,
}

impl TransferStatus {
    /// `pending`, `posted`, `voided` or `expired`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Posted => "posted",
            Self::Voided => "voided",
            Self::Expired => "expired",
        }
    }

    /// Reads [`Self::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Posted, Self::Voided, Self::Expired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The transfer happened (posted at once, or created pending).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecorded {
    // Fields in byte order of their names: the stored JSON is then canonical as
    // written, and hashing copies it instead of sorting it (`canonical_json.rs`).
    /// How much (in the accounts' shared currency).
    pub amount: Money,
    /// Optional note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Note>,
    /// Debited account.
    pub from: AccountId,
    /// Credited account.
    pub to: AccountId,
    /// The transfer.
    pub transfer_id: TransferId,
}

/// Something that happened to a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEvent {
    /// Posted at once.
    Recorded(TransferRecorded),
    /// Reserved, to be posted or voided later.
    PendingCreated {
        /// What, between whom.
        transfer: TransferRecorded,
        /// When it expires, if ever.
        expires_at: Option<DateTime<Utc>>,
    },
    /// Part or all of what remained moved.
    Posted {
        /// The transfer.
        transfer_id: TransferId,
        /// How much moved.
        amount: Money,
        /// What remains pending after.
        remaining: Money,
    },
    /// A client released what remained.
    Voided {
        /// The transfer.
        transfer_id: TransferId,
        /// How much was released.
        released: Money,
        /// Optional reason.
        reason: Option<Note>,
    },
    /// What remained was released when `expires_at` passed.
    Expired {
        /// The transfer.
        transfer_id: TransferId,
        /// How much was released.
        released: Money,
    },
}

impl TransferEvent {
    /// The transfer it belongs to.
    pub fn transfer_id(&self) -> &TransferId {
        match self {
            Self::Recorded(r) | Self::PendingCreated { transfer: r, .. } => &r.transfer_id,
            Self::Posted { transfer_id, .. }
            | Self::Voided { transfer_id, .. }
            | Self::Expired { transfer_id, .. } => transfer_id,
        }
    }

    /// The amount it is about: the transfer's, the posted or the released.
    pub fn amount(&self) -> Money {
        match self {
            Self::Recorded(r) | Self::PendingCreated { transfer: r, .. } => r.amount,
            Self::Posted { amount, .. } => *amount,
            Self::Voided { released, .. } | Self::Expired { released, .. } => *released,
        }
    }
}

/// A transfer's state once it exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferDetails {
    /// What, between whom.
    pub transfer: TransferRecorded,
    /// Where it stands.
    pub status: TransferStatus,
    /// How much moved so far.
    pub posted: Money,
    /// How much is still reserved (zero unless pending).
    pub remaining: Money,
    /// When it expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A transfer's own stream: `None` until it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    details: Option<TransferDetails>,
}

/// What can be asked of a transfer's own stream.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferCommand {
    /// Record a transfer posted at once; refused when the id was used before.
    Record(TransferRecorded),
    /// Record a pending transfer; refused when the id was used before.
    CreatePending(TransferRecorded, Option<DateTime<Utc>>),
    /// Post `amount` (all that remains when `None`) at `now`.
    Post(Option<Decimal>, DateTime<Utc>),
    /// Release what remains, at `now`.
    Void(Option<Note>, DateTime<Utc>),
    /// Record the expiry, at `now` (at or after `expires_at`).
    Expire(DateTime<Utc>),
}

impl Transfer {
    /// The transfer's state, once it exists.
    pub fn details(&self) -> Option<&TransferDetails> {
        self.details.as_ref()
    }

    /// The recorded transfer, if any.
    pub fn recorded(&self) -> Option<&TransferRecorded> {
        self.details.as_ref().map(|d| &d.transfer)
    }

    /// The pending transfer a post, void or expiry at `now` acts on.
    fn pending_at(
        &self,
        now: DateTime<Utc>,
        expiring: bool,
    ) -> Result<&TransferDetails, DomainError> {
        let d = self.details.as_ref().ok_or(DomainError::TransferNotFound)?;
        if d.status == TransferStatus::Expired {
            return Err(DomainError::TransferExpired(stamp(d.expires_at)));
        }
        if d.status != TransferStatus::Pending {
            return Err(DomainError::TransferNotPending(d.status.as_str()));
        }
        let due = d.expires_at.is_some_and(|at| now >= at);
        match (expiring, due) {
            (false, true) => Err(DomainError::TransferExpired(stamp(d.expires_at))),
            (true, false) => Err(DomainError::TransferNotDue(stamp(d.expires_at))),
            _ => Ok(d),
        }
    }
}

/// A time as the API's JSON writes it (`…Z`, the fraction as long as it needs).
fn stamp(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "never".into(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    )
}

impl Aggregate for Transfer {
    const STREAM_TYPE: &'static str = "transfer";
    /// 2: the pending state (format-1 snapshots are replayed).
    const SNAPSHOT_FORMAT: u32 = 2;
    type Command = TransferCommand;
    type Event = TransferEvent;
    type Error = DomainError;

    fn decide(&self, command: &TransferCommand) -> Result<Vec<TransferEvent>, DomainError> {
        let event = match command {
            TransferCommand::Record(t) | TransferCommand::CreatePending(t, _)
                if self.details.is_some() || t.from == t.to =>
            {
                return Err(if self.details.is_some() {
                    DomainError::TransferExists
                } else {
                    DomainError::SameAccount
                });
            }
            TransferCommand::Record(t) => TransferEvent::Recorded(t.clone()),
            TransferCommand::CreatePending(t, expires_at) => TransferEvent::PendingCreated {
                transfer: t.clone(),
                expires_at: *expires_at,
            },
            TransferCommand::Post(amount, now) => {
                let d = self.pending_at(*now, false)?;
                let amount = match amount {
                    None => d.remaining,
                    Some(a) if !a.is_positive() => {
                        return Err(DomainError::InvalidAmount(crate::MoneyError::NotPositive))
                    }
                    Some(a) => Money::from_decimal(*a, d.remaining.currency())?,
                };
                if amount.minor_units() > d.remaining.minor_units() {
                    return Err(DomainError::AmountExceedsPending {
                        remaining: d.remaining.to_string(),
                        requested: amount.to_string(),
                    });
                }
                TransferEvent::Posted {
                    transfer_id: d.transfer.transfer_id.clone(),
                    amount,
                    remaining: d.remaining.checked_sub(amount)?,
                }
            }
            TransferCommand::Void(reason, now) => {
                let d = self.pending_at(*now, false)?;
                TransferEvent::Voided {
                    transfer_id: d.transfer.transfer_id.clone(),
                    released: d.remaining,
                    reason: reason.clone(),
                }
            }
            TransferCommand::Expire(now) => {
                let d = self.pending_at(*now, true)?;
                TransferEvent::Expired {
                    transfer_id: d.transfer.transfer_id.clone(),
                    released: d.remaining,
                }
            }
        };
        Ok(vec![event])
    }

    fn evolve(mut self, event: &TransferEvent) -> Self {
        match event {
            TransferEvent::Recorded(t) => {
                self.details = Some(TransferDetails {
                    transfer: t.clone(),
                    status: TransferStatus::Posted,
                    posted: t.amount,
                    remaining: Money::zero(t.amount.currency()),
                    expires_at: None,
                });
            }
            TransferEvent::PendingCreated {
                transfer,
                expires_at,
            } => {
                self.details = Some(TransferDetails {
                    transfer: transfer.clone(),
                    status: TransferStatus::Pending,
                    posted: Money::zero(transfer.amount.currency()),
                    remaining: transfer.amount,
                    expires_at: *expires_at,
                });
            }
            TransferEvent::Posted {
                amount, remaining, ..
            } => {
                if let Some(d) = self.details.as_mut() {
                    d.posted = d.posted.checked_add(*amount).unwrap_or(d.posted);
                    d.remaining = *remaining;
                    if !remaining.is_positive() {
                        d.status = TransferStatus::Posted;
                    }
                }
            }
            TransferEvent::Voided { released, .. } | TransferEvent::Expired { released, .. } => {
                if let Some(d) = self.details.as_mut() {
                    d.remaining = Money::zero(released.currency());
                    d.status = if matches!(event, TransferEvent::Voided { .. }) {
                        TransferStatus::Voided
                    } else {
                        TransferStatus::Expired
                    };
                }
            }
        }
        self
    }

    fn encode(event: &TransferEvent) -> EncodedEvent {
        crate::transfer_events::encode(event)
    }

    fn decode(&self, raw: RawEvent<'_>) -> Result<TransferEvent, DecodeError> {
        crate::transfer_events::decode(raw)
    }
}
