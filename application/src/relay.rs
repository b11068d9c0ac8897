//! The event relay: the global feed, in order, to a message system (the `RelaySink`),
//! with a checkpoint in the store that moves only past what the sink acknowledged.
//!
//! At-least-once by construction (an event is re-sent when the relay stops between the
//! sink's acknowledgement and the checkpoint's move); the sink drops a re-sent event by
//! its id, so consumers see each event once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::feed::FeedReader;
use crate::ports::readmodel::{ProjectionStatus, ProjectionStore, ReadModelError};
use crate::ports::relay::RelaySink;
use crate::ports::store::FeedCursor;
use crate::queries::QueryError;

/// Why a relay step did not finish.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RelayError {
    /// The event store or the checkpoint could not be read or written.
    #[error("relay store: {0}")]
    Store(String),
    /// The destination did not acknowledge everything (the checkpoint moved past what
    /// it did acknowledge).
    #[error("relay destination: {0}")]
    Destination(String),
    /// Another relay moved the checkpoint meanwhile: this one no longer leads.
    #[error("another relay moved the checkpoint")]
    Overtaken,
}

impl From<ReadModelError> for RelayError {
    fn from(e: ReadModelError) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<QueryError> for RelayError {
    fn from(e: QueryError) -> Self {
        Self::Store(e.to_string())
    }
}

/// Relays pages of the feed to a sink.
pub struct Relay {
    reader: FeedReader,
    checkpoints: Arc<dyn ProjectionStore>,
    sink: Arc<dyn RelaySink>,
    batch: usize,
    relayed: AtomicU64,
}

impl Relay {
    /// Reads through `reader`, keeps its checkpoint in `checkpoints`, sends `batch`
    /// events at a time to `sink`.
    pub fn new(
        reader: FeedReader,
        checkpoints: Arc<dyn ProjectionStore>,
        sink: Arc<dyn RelaySink>,
        batch: usize,
    ) -> Self {
        Self {
            reader,
            checkpoints,
            sink,
            batch: batch.max(1),
            relayed: AtomicU64::new(0),
        }
    }

    /// Events this relay got acknowledged since it started.
    pub fn relayed(&self) -> u64 {
        self.relayed.load(Ordering::Relaxed)
    }

    /// The page size.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The checkpoint, last error and lag in events.
    pub async fn status(&self) -> Result<Option<(ProjectionStatus, u64)>, RelayError> {
        let Some(status) = self.checkpoints.relay_status().await? else {
            return Ok(None);
        };
        let lag = self
            .reader
            .store()
            .lag_after(status.position)
            .await
            .map_err(|e| RelayError::Store(e.to_string()))?;
        Ok(Some((status, lag)))
    }

    /// Sends the next page after the checkpoint and moves the checkpoint past what the
    /// sink acknowledged; returns how many events that was.
    pub async fn step(&self) -> Result<usize, RelayError> {
        let status = self.checkpoints.relay_status().await?;
        let from = status.as_ref().map_or(FeedCursor::START, |s| s.position);
        let last_error = status.and_then(|s| s.last_error);
        let items = self.reader.page(from, self.batch).await?;
        if items.is_empty() {
            if last_error.is_some() {
                self.record(from, from, None).await?;
            }
            return Ok(0);
        }
        let published = self.sink.publish(&items).await;
        let acknowledged = published.acknowledged.min(items.len());
        let to = match acknowledged {
            0 => from,
            n => items[n - 1].cursor,
        };
        if acknowledged > 0 || published.error != last_error {
            self.record(from, to, published.error.clone()).await?;
        }
        self.relayed
            .fetch_add(acknowledged as u64, Ordering::Relaxed);
        match published.error {
            Some(e) => Err(RelayError::Destination(e)),
            None => Ok(acknowledged),
        }
    }

    async fn record(
        &self,
        from: FeedCursor,
        to: FeedCursor,
        error: Option<String>,
    ) -> Result<(), RelayError> {
        if self.checkpoints.move_relay(from, to, error).await? {
            Ok(())
        } else {
            Err(RelayError::Overtaken)
        }
    }
}
