//! The relay's destination: a message system that acknowledges what it stored
//! (NATS JetStream in `ledger-nats`).

use async_trait::async_trait;

use crate::feed::FeedItem;
use crate::ports::store::FeedCursor;

/// How far a publish got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// How many of the items, from the first, the destination acknowledged.
    pub acknowledged: usize,
    /// Why it stopped before the end (the message is for operators).
    pub error: Option<String>,
}

/// The destination's newest stored message, by the marks the relay gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastMessage {
    /// Its feed cursor as the relay wrote it (`None`: the message carries none).
    pub cursor: Option<String>,
    /// Its event id (`None`: the message carries none).
    pub event_id: Option<String>,
}

/// Where the relay sends the feed.
///
/// An implementation must: send the items in the order given, many in flight at once
/// (never one round trip per item), and count as acknowledged only a prefix each of
/// which the destination has confirmed storing; let the destination drop a re-sent
/// item by its `event_id`, so a retry after an unknown outcome never stores it twice.
/// A destination that chains each message to the one before may chain the first item
/// to the last it acknowledged only when that was the event at `after`: the relay's
/// checkpoint can move back (`ledger relay rewind`) or be moved by another instance.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RelaySink: Send + Sync + 'static {
    /// Publishes the items (the feed's events right after `after`) in order and waits
    /// for their acknowledgements.
    async fn publish(&self, after: FeedCursor, items: &[FeedItem]) -> Published;

    /// The newest message the destination holds (`None` when it holds none), which
    /// the relay compares with the ledger before it publishes there. `Err`: the
    /// destination could not be asked (the message is for operators).
    async fn last_message(&self) -> Result<Option<LastMessage>, String>;
}
