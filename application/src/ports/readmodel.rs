//! Read-model ports: projection stores with checkpoints, and the current-state view.

use async_trait::async_trait;

use crate::decode::LedgerEvent;
use crate::ports::store::{FeedCursor, RecordedEvent};
use crate::views::AccountView;

/// A feed event with its decoded (upcast) domain event.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectedEvent {
    /// As stored.
    pub recorded: RecordedEvent,
    /// As the domain reads it.
    pub event: LedgerEvent,
}

/// Why a read-model operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadModelError {
    /// The store cannot be reached.
    #[error("read-model store unavailable: {0}")]
    Unavailable(String),
    /// Any other failure.
    #[error("read-model store failure: {0}")]
    Failed(String),
}

/// Where projections keep their tables and checkpoints.
///
/// Adapters must apply a batch's read-model changes and move the projection's
/// checkpoint to `next` in one atomic unit, so each event counts exactly once.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectionStore: Send + Sync + 'static {
    /// The projection's checkpoint (`FeedCursor::START` when new).
    async fn checkpoint(&self, projection: &str) -> Result<FeedCursor, ReadModelError>;

    /// Applies a batch and moves the checkpoint, atomically.
    async fn apply_batch(
        &self,
        projection: &str,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<(), ReadModelError>;
}

/// Reads of the current-state view.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountViews: Send + Sync + 'static {
    /// One account's row, if the projection has seen it.
    async fn account(&self, account_id: &str) -> Result<Option<AccountView>, ReadModelError>;
}
