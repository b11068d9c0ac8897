//! The snapshot-store port: an optimization that may be wrong, missing or down.

use async_trait::async_trait;

/// A serialized aggregate state at a stream version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream.
    pub stream_id: String,
    /// The version the state reflects.
    pub version: u64,
    /// The id of the stream's event at `version`. A snapshot is used only if the event
    /// store holds exactly that event there, so a snapshot written for another database
    /// sharing the snapshot store (or for a restored, older copy) is never trusted.
    pub event_id: uuid::Uuid,
    /// The aggregate's `SNAPSHOT_FORMAT` when written.
    pub format: u32,
    /// JSON text of the state.
    pub state: String,
    /// The writer's seal over all the above (HMAC-SHA256, hex; see
    /// `repository/snapshots.rs`): a snapshot store is a cache anyone with access to it
    /// can change, and a state that does not carry the seal is never used.
    pub mac: String,
}

/// Why a snapshot operation failed. Callers log it and carry on without snapshots.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The store cannot be reached or timed out.
    #[error("snapshot store unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be read, or the store refused the call.
    #[error("snapshot unreadable or refused: {0}")]
    Corrupt(String),
}

/// Stores the latest snapshot per stream.
///
/// Adapters must: never replace a snapshot with an older one (compare versions
/// atomically); return `Unavailable` quickly rather than hang when the backend is down;
/// return `Corrupt` for values they cannot parse.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SnapshotStore: Send + Sync + 'static {
    /// The latest snapshot of a stream, if any.
    async fn load(&self, stream_id: &str) -> Result<Option<Snapshot>, SnapshotError>;

    /// Stores a snapshot unless a newer one is there.
    async fn save(&self, snapshot: Snapshot) -> Result<(), SnapshotError>;
}
