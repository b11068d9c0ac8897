//! A transfer as the API shows it, from its own events (`GET /transfers/{id}`) or from
//! the transfers view (`GET /transfers`), which the current-state projection keeps.

use chrono::{DateTime, Utc};
use ledger_domain::{Currency, Money, TransferDetails, TransferEvent, TransferStatus};
use serde::{Deserialize, Serialize};

/// A transfer's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransferView {
    /// Its id.
    pub transfer_id: String,
    /// Pending, posted, voided or expired.
    pub status: TransferStatus,
    /// The accounts' currency.
    pub currency: Currency,
    /// What was asked to move.
    pub amount: Money,
    /// What moved so far.
    pub posted_amount: Money,
    /// What is still reserved.
    pub remaining: Money,
    /// Debited account.
    pub from_account_id: String,
    /// Credited account.
    pub to_account_id: String,
    /// Optional note.
    pub description: Option<String>,
    /// When a pending transfer expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

impl TransferView {
    /// The view of a transfer's state.
    pub fn of(d: &TransferDetails) -> Self {
        let t = &d.transfer;
        Self {
            transfer_id: t.transfer_id.to_string(),
            status: d.status,
            currency: t.amount.currency(),
            amount: t.amount,
            posted_amount: d.posted,
            remaining: d.remaining,
            from_account_id: t.from.to_string(),
            to_account_id: t.to.to_string(),
            description: t.description.as_ref().map(ToString::to_string),
            expires_at: d.expires_at,
        }
    }
}

/// A row of the transfers view: the transfer, when it was created (the feed position
/// of its first event: the keyset order, newest first) and last changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransferRow {
    /// The transfer.
    pub view: TransferView,
    /// Feed position of its first event.
    pub created_position: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Applies one transfer event to its (possibly absent) row; `None` while no first
/// event was seen.
pub fn project_transfer(
    row: Option<TransferRow>,
    event: &TransferEvent,
    position: u64,
    at: DateTime<Utc>,
) -> Option<TransferRow> {
    let created = |r: &ledger_domain::TransferRecorded, status, expires_at| TransferRow {
        view: TransferView {
            transfer_id: r.transfer_id.to_string(),
            status,
            currency: r.amount.currency(),
            amount: r.amount,
            posted_amount: if status == TransferStatus::Posted {
                r.amount
            } else {
                Money::zero(r.amount.currency())
            },
            remaining: if status == TransferStatus::Pending {
                r.amount
            } else {
                Money::zero(r.amount.currency())
            },
            from_account_id: r.from.to_string(),
            to_account_id: r.to.to_string(),
            description: r.description.as_ref().map(ToString::to_string),
            expires_at,
        },
        created_position: position,
        created_at: at,
        updated_at: at,
    };
    let mut row = match event {
        TransferEvent::Recorded(r) => return Some(created(r, TransferStatus::Posted, None)),
        TransferEvent::PendingCreated {
            transfer,
            expires_at,
        } => return Some(created(transfer, TransferStatus::Pending, *expires_at)),
        _ => row?,
    };
    let v = &mut row.view;
    match event {
        TransferEvent::Posted {
            amount, remaining, ..
        } => {
            // Never past the amount with events the domain wrote; saturating, not
            // wrapping, on rows or events changed by hand (verify names those).
            v.posted_amount = Money::from_minor(
                v.posted_amount
                    .minor_units()
                    .saturating_add(amount.minor_units()),
                v.currency,
            );
            v.remaining = *remaining;
            if !remaining.is_positive() {
                v.status = TransferStatus::Posted;
            }
        }
        TransferEvent::Voided { .. } => {
            v.remaining = Money::zero(v.currency);
            v.status = TransferStatus::Voided;
        }
        TransferEvent::Expired { .. } => {
            v.remaining = Money::zero(v.currency);
            v.status = TransferStatus::Expired;
        }
        TransferEvent::Recorded(_) | TransferEvent::PendingCreated { .. } => {}
    }
    row.updated_at = at;
    Some(row)
}
