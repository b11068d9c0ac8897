//! The event relay: the global feed, in order, to a message system (the `RelaySink`),
//! with a checkpoint in the store that moves only past what the sink acknowledged.
//!
//! At-least-once by construction (an event is re-sent when the relay stops between the
//! sink's acknowledgement and the checkpoint's move); the sink drops a re-sent event by
//! its id, so consumers see each event once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::feed::FeedReader;
use crate::ports::readmodel::{ProjectionStatus, ProjectionStore, ReadModelError};
use crate::ports::relay::{LastMessage, RelaySink};
use crate::ports::store::{EventStore, FeedCursor, RecordedEvent, StoreError};
use crate::queries::QueryError;

/// What an operator does about a destination the relay refuses. In this order: a relay
/// left running would publish into a new stream from its checkpoint before the rewind,
/// and the rewound events would follow those, out of the feed's order.
const REFILL: &str = "Stop every process that relays this ledger, delete the stream (or \
    relay into a new stream under another subject prefix), run `ledger relay rewind \
    --after start`, then start them again";

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
    /// Whether the destination's newest message was found to be this ledger's since
    /// the relay started or last failed (the destination may have been replaced).
    destination_checked: AtomicBool,
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
            destination_checked: AtomicBool::new(false),
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
        // Taken (false) for the step: only a publish that ends cleanly leaves it true,
        // so a step cut off, overtaken or failed checks the destination again.
        if !self.destination_checked.swap(false, Ordering::Relaxed) {
            if let Err(e) = self.check_destination().await? {
                if last_error.as_deref() != Some(e.as_str()) {
                    self.record(from, from, Some(e.clone())).await?;
                }
                return Err(RelayError::Destination(e));
            }
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
            None => {
                self.destination_checked.store(true, Ordering::Relaxed);
                Ok(acknowledged)
            }
        }
    }

    /// Refuses a destination whose newest message is not this ledger's event at the
    /// cursor it names: the destination holds a history this ledger lacks (the ledger
    /// was restored from a backup, or the stream is another ledger's), and publishing
    /// after it would give consumers a second history under the same cursors. The
    /// inner `Err` is the destination's fault (refused or unreachable), to record.
    async fn check_destination(&self) -> Result<Result<(), String>, RelayError> {
        let last = match self.sink.last_message().await {
            Ok(last) => last,
            Err(e) => return Ok(Err(e)),
        };
        let Some(LastMessage { cursor, event_id }) = last else {
            return Ok(Ok(()));
        };
        let (Some(cursor_text), Some(event_id)) = (cursor, event_id) else {
            return Ok(Err(format!(
                "the destination's newest message carries no Ledger-Cursor or no event id: \
                 it was not published by a ledger's relay, and nothing is published after \
                 it. {REFILL}"
            )));
        };
        let ours = match cursor_text.parse::<FeedCursor>() {
            Ok(cursor) => event_at(self.reader.store().as_ref(), cursor)
                .await
                .map_err(|e| RelayError::Store(e.to_string()))?
                .is_some_and(|e| e.event_id.to_string() == event_id),
            Err(()) => false,
        };
        if ours {
            return Ok(Ok(()));
        }
        Ok(Err(format!(
            "the destination holds a history this ledger lacks: its newest message \
             (event {event_id}, Ledger-Cursor {cursor_text}) is not this ledger's event \
             at that cursor (the ledger was restored from a backup, or the stream is \
             another ledger's), and nothing is published there. {REFILL}"
        )))
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
        let found = event_at(events, to)
            .await
            .map_err(|e| RewindError::Store(e.to_string()))?;
        if found.is_none() {
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

/// The event at `cursor`, if the store holds one there (as it writes cursors): the
/// feed's first event after the cursor just before it.
async fn event_at(
    events: &dyn EventStore,
    cursor: FeedCursor,
) -> Result<Option<RecordedEvent>, StoreError> {
    let before = FeedCursor {
        tx: cursor.tx,
        position: cursor.position.saturating_sub(1),
    };
    let page = events.read_feed(before, 1).await?;
    Ok(page
        .events
        .into_iter()
        .next()
        .filter(|e| e.cursor == cursor))
}
