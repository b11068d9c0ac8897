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
use crate::ports::store::{EventStore, FeedCursor};
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
        let published = self.sink.publish(from, &items).await;
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

/// Why the relay's checkpoint was not moved back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RewindError {
    /// The cursor is past the checkpoint: events not yet published would be skipped.
    #[error(
        "{to} is past the relay's checkpoint {at}: the relay only moves back (to publish \
         again), never ahead (which would skip events it has not published)"
    )]
    Ahead {
        /// The checkpoint.
        at: FeedCursor,
        /// The cursor asked for.
        to: FeedCursor,
    },
    /// The cursor is not `start` nor the cursor of an event the store holds (as this
    /// store writes it): where it falls in the feed's order cannot be known.
    #[error("{0} is not the cursor of an event in this store: give `start` or a Ledger-Cursor a relayed message carries")]
    NoSuchEvent(FeedCursor),
    /// The checkpoint or the feed could not be read or written, or the checkpoint kept
    /// moving.
    #[error("relay checkpoint: {0}")]
    Store(String),
}

impl From<ReadModelError> for RewindError {
    fn from(e: ReadModelError) -> Self {
        Self::Store(e.to_string())
    }
}

/// Moves the relay's checkpoint back to `to`, so that the relay (running or not)
/// publishes every event after it again: what a destination that lost its messages
/// needs to be refilled. `to` is `START` or an event's cursor as `events` writes it
/// (so that cursors compare in the feed's order on every store). Compare-and-set
/// against a relay that moves it meanwhile (tried again a few times); a checkpoint
/// already at `to` (or none yet, for `START`) is left as it is. Returns the checkpoint
/// it moved from.
pub async fn rewind(
    checkpoints: &dyn ProjectionStore,
    events: &dyn EventStore,
    to: FeedCursor,
) -> Result<FeedCursor, RewindError> {
    if to != FeedCursor::START {
        let before = FeedCursor {
            tx: to.tx,
            position: to.position.saturating_sub(1),
        };
        let page = events
            .read_feed(before, 1)
            .await
            .map_err(|e| RewindError::Store(e.to_string()))?;
        if page.events.first().map(|e| e.cursor) != Some(to) {
            return Err(RewindError::NoSuchEvent(to));
        }
    }
    for _ in 0..20 {
        let at = checkpoints
            .relay_status()
            .await?
            .map_or(FeedCursor::START, |s| s.position);
        if to > at {
            return Err(RewindError::Ahead { at, to });
        }
        if to == at || checkpoints.move_relay(at, to, None).await? {
            return Ok(at);
        }
    }
    Err(RewindError::Store(
        "the checkpoint kept moving; try again".to_owned(),
    ))
}
