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

/// Where the destination's copy of the feed ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredEnd {
    /// It holds none of the feed (new, emptied, or its storage lost).
    Empty,
    /// Its last item is the event at this cursor.
    At(FeedCursor),
    /// Its last item was not sent by a relay: where it ends is not known.
    Unknown,
}

/// Where the relay sends the feed.
///
/// An implementation must: send the items in the order given, many in flight at once
/// (never one round trip per item), and count as acknowledged only a prefix each of
/// which the destination has confirmed storing; let the destination drop a re-sent
/// item by its `event_id`, so a retry after an unknown outcome never stores it twice.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RelaySink: Send + Sync + 'static {
    /// Publishes the items in order and waits for their acknowledgements.
    async fn publish(&self, items: &[FeedItem]) -> Published;

    /// Where the destination's copy ends (an error: it cannot be reached). Asked when
    /// the relay starts and after a failed publish: the relay goes on after that
    /// point, not after its checkpoint, so a destination that lost items (or a new
    /// one) is sent them again.
    async fn stored_end(&self) -> Result<StoredEnd, String>;
}
