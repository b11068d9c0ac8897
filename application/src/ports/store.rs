//! The event-store port: atomic multi-stream appends with idempotency records,
//! stream reads (whole, from a version, up to a version or instant) and the global feed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledger_domain::integrity::ChainedEvent;
pub use ledger_domain::ChainHash;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::ports::feed_cursor::FeedCursor;

/// Who, why and under which request an event was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// The authenticated principal, or `anonymous`.
    pub actor: String,
    // Fields in byte order of their names: the JSON is then canonical as written, and
    // hashing copies it instead of sorting it.
    /// The command (or event) that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    /// Groups the events of one business operation (the legs of a transfer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The request that produced the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An event about to be appended.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id.
    pub event_id: Uuid,
    /// Type name.
    pub event_type: String,
    /// Schema version of `data`.
    pub schema_version: u32,
    /// JSON text.
    pub data: String,
    /// Who, why, which request.
    pub metadata: EventMetadata,
    /// When the command was decided.
    pub recorded_at: DateTime<Utc>,
    /// The previous event's hash in the stream ([`ChainHash::ZERO`] for version 1).
    pub prev_hash: ChainHash,
    /// This event's hash (see `ledger_domain::integrity`).
    pub hash: ChainHash,
}

impl NewEvent {
    /// This event as version `version` of `stream_id`, after the event whose hash is
    /// `prev_hash`: sets `prev_hash` and computes `hash` from the fields.
    pub fn chained(mut self, stream_id: &str, version: u64, prev_hash: ChainHash) -> Self {
        let id = self.event_id.to_string();
        let metadata = serde_json::to_string(&self.metadata).unwrap_or_default();
        self.prev_hash = prev_hash;
        self.hash = ChainedEvent {
            event_id: &id,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            stream_id,
            version,
            recorded_at: self.recorded_at,
            data: &self.data,
            metadata: &metadata,
            prev_hash,
        }
        .hash();
        self
    }
}

/// Events for one stream, expected to follow `expected_version` (0: a new stream).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamWrite {
    /// The stream.
    pub stream_id: String,
    /// Its aggregate type (`account`, `transfer`).
    pub stream_type: String,
    /// The version the events were decided on; the first gets `expected_version + 1`.
    pub expected_version: u64,
    /// The events, in order.
    pub events: Vec<NewEvent>,
}

/// The first outcome of an idempotent request, stored with the events it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The key, scoped by the caller (actor).
    pub key: String,
    /// A hash of the request; a retry must match it.
    pub fingerprint: String,
    /// The outcome, JSON text.
    pub outcome: String,
}

/// One atomic write: every stream's events and every idempotency record, or nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppendRequest {
    /// The streams written.
    pub streams: Vec<StreamWrite>,
    /// Stored in the same transaction (several when commands were batched). If any key
    /// is already stored, nothing is written and the stored record is returned.
    pub idempotency: Vec<IdempotencyRecord>,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Where it sits in the global feed.
    pub cursor: FeedCursor,
    /// Unique id.
    pub event_id: Uuid,
    /// The stream.
    pub stream_id: String,
    /// The stream's aggregate type.
    pub stream_type: String,
    /// 1-based position in the stream.
    pub version: u64,
    /// Type name.
    pub event_type: String,
    /// Schema version of `data`.
    pub schema_version: u32,
    /// JSON text.
    pub data: String,
    /// Who, why, which request.
    pub metadata: EventMetadata,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The previous event's hash in the stream, as stored.
    pub prev_hash: ChainHash,
    /// This event's hash, as stored.
    pub hash: ChainHash,
}

impl RecordedEvent {
    /// The hash its stored fields give after `prev_hash` (equal to `hash` unless the
    /// event was changed after it was written).
    pub fn computed_hash(&self, prev_hash: ChainHash) -> ChainHash {
        let id = self.event_id.to_string();
        let metadata = serde_json::to_string(&self.metadata).unwrap_or_default();
        ChainedEvent {
            event_id: &id,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            stream_id: &self.stream_id,
            version: self.version,
            recorded_at: self.recorded_at,
            data: &self.data,
            metadata: &metadata,
            prev_hash,
        }
        .hash()
    }

    /// The view the domain decodes from.
    pub fn raw(&self) -> ledger_domain::RawEvent<'_> {
        ledger_domain::RawEvent {
            event_type: &self.event_type,
            schema_version: self.schema_version,
            data: &self.data,
        }
    }
}

/// A page of the global feed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedPage {
    /// Events in feed order.
    pub events: Vec<RecordedEvent>,
    /// Where the next read starts (unchanged when the page is empty).
    pub next: FeedCursor,
}

/// Where a stream read stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamBound {
    /// Up to and including this version.
    Version(u64),
    /// The stream's prefix before its first event recorded after this instant.
    RecordedAt(DateTime<Utc>),
}

impl StreamBound {
    /// Whether `event` is inside the bound; a read stops at the first event that is not
    /// (the stream's prefix, whatever the later events hold).
    #[must_use]
    pub fn admits(&self, event: &RecordedEvent) -> bool {
        match *self {
            Self::Version(v) => event.version <= v,
            Self::RecordedAt(t) => event.recorded_at <= t,
        }
    }

    /// `events` (a page in version order) cut at the first event outside the bound.
    /// Stores apply the time bound this way, after reading by version: no index on
    /// `recorded_at` is then kept for it (one fewer index written per event), and a
    /// page ends early only where the bound does, so the reader stops there.
    pub fn cut(bound: Option<Self>, events: &mut Vec<RecordedEvent>) {
        if let Some(b) = bound {
            let keep = events.iter().take_while(|e| b.admits(e)).count();
            events.truncate(keep);
        }
    }
}

/// A slice of one stream: versions after `after_version`, at most `limit`, up to `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamQuery<'a> {
    /// The stream.
    pub stream_id: &'a str,
    /// Exclusive lower version.
    pub after_version: u64,
    /// Inclusive upper bound, if any.
    pub until: Option<StreamBound>,
    /// At most this many events.
    pub limit: usize,
}

/// Why an append did not happen. Nothing was written, except after
/// [`AppendError::OutcomeUnknown`], whose append may have committed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    /// A stream is not at its expected version (another writer got there first).
    #[error("stream {stream_id} is not at version {expected}")]
    Conflict {
        /// The stream.
        stream_id: String,
        /// The version the writer expected.
        expected: u64,
    },
    /// The idempotency key is already stored; here is its record.
    #[error("idempotency key already used")]
    IdempotencyKeyExists(IdempotencyRecord),
    /// The store cannot be reached; retry later.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// The append reached the store, but whether it committed cannot be known (the
    /// connection was lost, or the server ended the session, as it committed; the
    /// writer stopped before answering). Never a refusal, never retried blindly: a
    /// retry could apply a committed command twice.
    #[error("the append's outcome is unknown: {0}")]
    OutcomeUnknown(String),
    /// Any other store failure (the message is for logs, not for clients).
    #[error("event store failure: {0}")]
    Failed(String),
}

/// Why a read failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached; retry later.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// Any other store failure.
    #[error("event store failure: {0}")]
    Failed(String),
    /// A stored row the store cannot read: changed outside the service, or damaged
    /// (`ledger verify` reports it as a finding).
    #[error("the event store holds a row it cannot read: {0}")]
    Unreadable(String),
}

/// What [`EventStore::hold_appends`] hands out: while it lives, no other process appends.
pub type AppendHold = Box<dyn Send + Sync>;

/// Up to this many events behind, [`EventStore::lag_after`] is an exact count.
pub const EXACT_LAG: u64 = 10_000;

/// The append-only event store.
///
/// Adapters must: append all of a request's streams and its idempotency record in one
/// atomic write; return [`AppendError::Conflict`] (never a generic failure) when a
/// stream's version is not the expected one, enforced by a unique `(stream, version)`
/// constraint rather than a check (so a stream's versions are always 1, 2, 3, ... with
/// no gap, which readers rely on); return [`AppendError::IdempotencyKeyExists`] with the
/// stored record when the key is taken; give every event a feed cursor such that a
/// reader of [`EventStore::read_feed`] never misses an event that commits late and
/// never sees one twice; map connection failures to `Unavailable`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends atomically; an empty `streams` list stores only the idempotency record.
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError>;

    /// Reads a slice of one stream in version order (upcasting is the caller's).
    async fn read_stream<'a>(
        &self,
        query: StreamQuery<'a>,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads the global feed after a cursor, at most `limit` events.
    async fn read_feed(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError>;

    /// The cursor of the last event a feed reader can see now (`FeedCursor::START`
    /// when none): every event [`Self::read_feed`] will ever return after it commits
    /// later than this call.
    async fn feed_end(&self) -> Result<FeedCursor, StoreError>;

    /// The cursor of the last event committed now, whether or not a feed reader can
    /// see it yet: on PostgreSQL the feed hides the events of transactions newer than
    /// the oldest one still running on the server (so that none is ever passed over),
    /// and a reader sees them once that one ends. A store without that rule answers
    /// [`Self::feed_end`].
    async fn committed_end(&self) -> Result<FeedCursor, StoreError>;

    /// How many events the feed holds after a cursor, exactly (one read of them all).
    async fn count_after(&self, after: FeedCursor) -> Result<u64, StoreError>;

    /// A reader's lag behind the feed: the events after a cursor, exact up to
    /// [`EXACT_LAG`] and estimated from positions beyond it, so that a status page or a
    /// metrics scrape costs the same at ten million events behind as at ten. Defaults to
    /// [`Self::count_after`].
    async fn lag_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        self.count_after(after).await
    }

    /// The bytes the events take in the store (their table with its indexes, on a
    /// database; their stored texts, in memory).
    async fn size_bytes(&self) -> Result<u64, StoreError>;

    /// The stored record of an idempotency key, if any.
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// At most `limit` events stored where the feed can never show them (PostgreSQL: a
    /// writing transaction id from the future; SQLite: a position before the first),
    /// which only tampering makes. `ledger verify` reports each.
    async fn hidden_from_feed(&self, _limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        Ok(Vec::new())
    }

    /// Keeps every other process from appending until the returned hold is dropped
    /// (this process's appends go on), where the store works so (SQLite: its write
    /// turn); `None` where it does not. A command that keeps meeting another process's
    /// appends on its streams reads, decides and appends inside one, so it cannot meet
    /// them again. Defaults to `None`.
    async fn hold_appends(&self) -> Result<Option<AppendHold>, StoreError> {
        Ok(None)
    }
}
