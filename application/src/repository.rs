//! Loading aggregates: snapshot plus newer events, else full replay; and writing
//! snapshots forward after commits. Snapshot trouble only ever costs speed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::{Aggregate, DecodeError, Versioned};

use crate::ports::snapshot::{Snapshot, SnapshotStore};
use crate::ports::store::{EventStore, StoreError, StreamBound, StreamQuery};

/// Why an aggregate could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event is unreadable.
    #[error("stream {stream_id}: {source}")]
    Decode {
        /// The stream.
        stream_id: String,
        /// Why.
        source: DecodeError,
    },
}

/// Counters of how aggregates were loaded, for metrics.
#[derive(Debug, Default)]
pub struct LoadStats {
    /// Loads that started from a snapshot.
    pub from_snapshot: AtomicU64,
    /// Loads that replayed from the first event.
    pub from_replay: AtomicU64,
    /// Events read and folded by loads.
    pub events_replayed: AtomicU64,
    /// Snapshot-store errors (unreachable, corrupt, ignored as invalid).
    pub snapshot_errors: AtomicU64,
    /// Snapshots written.
    pub snapshots_written: AtomicU64,
}

/// Loads and snapshots aggregates of any type.
pub struct Repository {
    store: Arc<dyn EventStore>,
    snapshots: Arc<dyn SnapshotStore>,
    snapshot_every: u64,
    batch: usize,
    stats: Arc<LoadStats>,
}

/// An aggregate as of a bound, with the instant of its last event.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoricState<A> {
    /// The state and its version.
    pub state: Versioned<A>,
    /// When the last folded event was recorded.
    pub last_recorded_at: Option<DateTime<Utc>>,
}

impl Repository {
    /// A repository writing a snapshot every `snapshot_every` events (0: never).
    pub fn new(
        store: Arc<dyn EventStore>,
        snapshots: Arc<dyn SnapshotStore>,
        snapshot_every: u64,
    ) -> Self {
        Self {
            store,
            snapshots,
            snapshot_every,
            batch: 1000,
            stats: Arc::default(),
        }
    }

    /// The load counters.
    pub fn stats(&self) -> Arc<LoadStats> {
        self.stats.clone()
    }

    /// The current state of a stream (version 0 and the default state if it has no events).
    pub async fn load<A: Aggregate>(&self, stream_id: &str) -> Result<Versioned<A>, LoadError> {
        let start = self.usable_snapshot::<A>(stream_id).await;
        let from_snapshot = start.version > 0;
        let loaded = self.fold_from(stream_id, start, None).await?;
        let counter = if from_snapshot {
            &self.stats.from_snapshot
        } else {
            &self.stats.from_replay
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(loaded.state)
    }

    /// The state up to a version or an instant, replayed from the first event.
    pub async fn load_until<A: Aggregate>(
        &self,
        stream_id: &str,
        bound: StreamBound,
    ) -> Result<HistoricState<A>, LoadError> {
        self.fold_from(stream_id, Versioned::default(), Some(bound))
            .await
    }

    async fn fold_from<A: Aggregate>(
        &self,
        stream_id: &str,
        start: Versioned<A>,
        until: Option<StreamBound>,
    ) -> Result<HistoricState<A>, LoadError> {
        let Versioned {
            mut state,
            mut version,
        } = start;
        let mut last_recorded_at = None;
        loop {
            let page = self
                .store
                .read_stream(StreamQuery {
                    stream_id,
                    after_version: version,
                    until,
                    limit: self.batch,
                })
                .await?;
            let n = page.len();
            for e in &page {
                let event = state.decode(e.raw()).map_err(|source| LoadError::Decode {
                    stream_id: stream_id.to_owned(),
                    source,
                })?;
                state = state.evolve(&event);
                version = e.version;
                last_recorded_at = Some(e.recorded_at);
            }
            self.stats
                .events_replayed
                .fetch_add(n as u64, Ordering::Relaxed);
            if n < self.batch {
                return Ok(HistoricState {
                    state: Versioned { state, version },
                    last_recorded_at,
                });
            }
        }
    }

    /// A snapshot only if it can be read, has the current format, and its version exists
    /// in the store; otherwise the default state at version 0.
    async fn usable_snapshot<A: Aggregate>(&self, stream_id: &str) -> Versioned<A> {
        let snapshot = match self.snapshots.load(stream_id).await {
            Ok(Some(s)) if s.format == A::SNAPSHOT_FORMAT && s.version > 0 => s,
            Ok(_) => return Versioned::default(),
            Err(_) => {
                self.stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                return Versioned::default();
            }
        };
        let Ok(state) = serde_json::from_str::<A>(&snapshot.state) else {
            self.stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
            return Versioned::default();
        };
        // The snapshot's own version must exist: a snapshot from a lost or foreign
        // store would otherwise hide events.
        let exists = self
            .store
            .read_stream(StreamQuery {
                stream_id,
                after_version: snapshot.version - 1,
                until: Some(StreamBound::Version(snapshot.version)),
                limit: 1,
            })
            .await
            .map(|page| page.len() == 1)
            .unwrap_or(false);
        if !exists {
            self.stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
            return Versioned::default();
        }
        Versioned {
            state,
            version: snapshot.version,
        }
    }

    /// After a commit that moved a stream from `before` to `after.version`: writes a
    /// snapshot when a multiple of `snapshot_every` was crossed. Errors are counted only.
    pub async fn after_commit<A: Aggregate>(
        &self,
        stream_id: &str,
        before: u64,
        after: &Versioned<A>,
    ) {
        let every = self.snapshot_every;
        if every == 0 || before / every == after.version / every {
            return;
        }
        let Ok(state) = serde_json::to_string(&after.state) else {
            return;
        };
        let snapshot = Snapshot {
            stream_id: stream_id.to_owned(),
            version: after.version,
            format: A::SNAPSHOT_FORMAT,
            state,
        };
        match self.snapshots.save(snapshot).await {
            Ok(()) => self.stats.snapshots_written.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.stats.snapshot_errors.fetch_add(1, Ordering::Relaxed),
        };
    }
}
