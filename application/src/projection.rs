//! The projection runner: feed batch -> decode -> apply with checkpoint, atomically.

use std::sync::Arc;

use crate::decode::{FeedDecodeError, FeedDecoder};
use crate::ports::readmodel::{ProjectedEvent, ProjectionStore, ReadModelError};
use crate::ports::store::{EventStore, StoreError};

/// Why a projection step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProjectionError {
    /// Reading the feed failed (transient).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the read model failed (transient, or an event it cannot apply).
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    /// An event cannot be decoded: the projection must stop, not skip it.
    #[error(transparent)]
    Decode(#[from] FeedDecodeError),
}

/// Feeds one projection from the global feed.
pub struct ProjectionRunner {
    store: Arc<dyn EventStore>,
    target: Arc<dyn ProjectionStore>,
    batch: usize,
}

impl ProjectionRunner {
    /// A runner reading `batch` events at a time.
    pub fn new(store: Arc<dyn EventStore>, target: Arc<dyn ProjectionStore>, batch: usize) -> Self {
        Self {
            store,
            target,
            batch: batch.max(1),
        }
    }

    /// Applies the next batch after the checkpoint; returns how many events it applied
    /// (0 when caught up).
    pub async fn run_once(&self, projection: &str) -> Result<usize, ProjectionError> {
        let after = self.target.checkpoint(projection).await?;
        let page = self.store.read_feed(after, self.batch).await?;
        if page.events.is_empty() {
            return Ok(0);
        }
        let mut decoder = FeedDecoder::default();
        let mut batch = Vec::with_capacity(page.events.len());
        for recorded in page.events {
            let event = decoder.decode(self.store.as_ref(), &recorded).await?;
            batch.push(ProjectedEvent { recorded, event });
        }
        self.target
            .apply_batch(projection, &batch, page.next)
            .await?;
        Ok(batch.len())
    }

    /// Runs batches until caught up; returns how many events were applied.
    pub async fn catch_up(&self, projection: &str) -> Result<usize, ProjectionError> {
        let mut total = 0;
        loop {
            match self.run_once(projection).await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }
}
