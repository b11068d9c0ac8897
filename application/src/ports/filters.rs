//! The filters of the read models' lists (re-exported by `readmodel`).

use chrono::{DateTime, NaiveDate, Utc};
use ledger_domain::{AccountStatus, Currency};

/// Filters of the accounts list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFilter {
    /// Exact owner.
    pub owner: Option<String>,
    /// Open or closed.
    pub status: Option<AccountStatus>,
    /// Account ids after this one (keyset cursor).
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// Filters of the audit log (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// One account's stream.
    pub account_id: Option<String>,
    /// One event type.
    pub event_type: Option<String>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded at or before.
    pub to: Option<DateTime<Utc>>,
    /// One request.
    pub request_id: Option<String>,
    /// Only the streams of this owner's accounts (an owner key's scope).
    pub owner: Option<String>,
    /// Entries with a position below this one (keyset cursor).
    pub before: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

/// Filters of the transfers list (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferFilter {
    /// Transfers from or to this account.
    pub account_id: Option<String>,
    /// Pending, posted, voided or expired.
    pub status: Option<ledger_domain::TransferStatus>,
    /// Only transfers from or to an account of this owner (an owner key's scope).
    pub owner: Option<String>,
    /// Transfers created before this feed position (keyset cursor).
    pub before: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

/// Filters of the daily analytics (oldest first, then by currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyFilter {
    /// One currency.
    pub currency: Option<Currency>,
    /// From this UTC day.
    pub from: Option<NaiveDate>,
    /// To this UTC day.
    pub to: Option<NaiveDate>,
    /// Lines after this day and currency (keyset cursor).
    pub after: Option<(NaiveDate, Currency)>,
    /// At most this many.
    pub limit: usize,
}
