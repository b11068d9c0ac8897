//! The read-model query port: what the API and `ledger verify` read from the views.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::filters::{AccountFilter, AuditFilter, DailyFilter, TransferFilter};
use crate::ports::readmodel::ReadModelError;
use crate::views::{AccountView, AuditEntry, CurrencySummary, DailyVolume};

/// A pending transfer that is due: when, and which. The expirer takes them in this
/// order (`expires_at`, then the id), and pages by it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DueTransfer {
    /// When it fell due.
    pub expires_at: DateTime<Utc>,
    /// Its id.
    pub transfer_id: String,
}

/// Reads of the read models.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReadModels: Send + Sync + 'static {
    /// One account's current-state row.
    async fn account(&self, account_id: &str) -> Result<Option<AccountView>, ReadModelError>;

    /// Accounts by id order.
    async fn accounts(&self, filter: AccountFilter) -> Result<Vec<AccountView>, ReadModelError>;

    /// Audit entries, newest first.
    async fn audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, ReadModelError>;

    /// Verify's pass 4: the audit entries from position `first` to `last`, both
    /// included, oldest first.
    async fn audit_between(&self, first: u64, last: u64)
        -> Result<Vec<AuditEntry>, ReadModelError>;

    /// Verify's pass 4: how many entries the audit log holds.
    async fn audit_count(&self) -> Result<u64, ReadModelError>;

    /// Transfers, newest first.
    async fn transfers(
        &self,
        filter: TransferFilter,
    ) -> Result<Vec<crate::transfer_views::TransferRow>, ReadModelError>;

    /// Verify's pass 4: the transfers view newest first, `limit` rows created before
    /// `before`, each with what its filter columns (status, accounts, expiry, creation
    /// position) say that its own view does not. A store without such columns: `None`.
    async fn transfers_checked(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(crate::transfer_views::TransferRow, Option<String>)>, ReadModelError> {
        let filter = TransferFilter {
            before,
            limit,
            ..Default::default()
        };
        Ok(self
            .transfers(filter)
            .await?
            .into_iter()
            .map(|r| (r, None))
            .collect())
    }

    /// Pending transfers whose `expires_at` is at or before `now`, in their order
    /// (soonest first, then by id), after `after` when given, at most `limit`.
    async fn due_transfers<'a>(
        &self,
        now: DateTime<Utc>,
        after: Option<&'a DueTransfer>,
        limit: usize,
    ) -> Result<Vec<DueTransfer>, ReadModelError>;

    /// Per-currency totals.
    async fn summary(&self) -> Result<Vec<CurrencySummary>, ReadModelError>;

    /// Per-day volumes, oldest first, then by currency.
    async fn daily(&self, filter: DailyFilter) -> Result<Vec<DailyVolume>, ReadModelError>;
}
