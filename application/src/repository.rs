//! Loading aggregates: snapshot plus newer events, else full replay (`snapshots.rs`:
//! reading and writing the snapshots). Snapshot trouble only ever costs speed.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledger_domain::{Aggregate, ChainHash, DecodeError, Versioned};

use crate::cache::{AggregateCache, RateLimitedLog};
use crate::ports::snapshot::SnapshotStore;
use crate::ports::store::{EventStore, StoreError, StreamBound, StreamQuery};
use crate::ports::system::Spawner;

mod snapshots;

pub use snapshots::{seal_snapshot, snapshot_secret};

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
    /// Loads answered by the in-process cache.
    pub from_cache: AtomicU64,
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
    cache: Option<AggregateCache>,
    spawner: Option<Arc<dyn Spawner>>,
    errors: Arc<RateLimitedLog>,
    /// The secret snapshots are sealed with (`snapshots.rs`).
    snapshot_key: [u8; 32],
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
            cache: None,
            spawner: None,
            errors: Arc::new(RateLimitedLog::new(Duration::from_secs(10))),
            snapshot_key: snapshots::random_key(),
        }
    }

    /// Seals and checks snapshots with `key`, shared by every instance on the store
    /// ([`snapshot_secret`]); without it, a key of this process's own, so that no
    /// snapshot another process wrote is trusted.
    pub fn with_snapshot_key(mut self, key: [u8; 32]) -> Self {
        self.snapshot_key = key;
        self
    }

    /// Keeps up to `capacity` recently used aggregates in memory (0: no cache).
    pub fn with_cache(mut self, capacity: usize) -> Self {
        self.cache = NonZeroUsize::new(capacity).map(AggregateCache::new);
        self
    }

    /// Writes snapshots in background tasks instead of awaiting them.
    pub fn with_spawner(mut self, spawner: Arc<dyn Spawner>) -> Self {
        self.spawner = Some(spawner);
        self
    }

    /// Drops a stream from the in-process cache (after a conflict showed it stale).
    pub fn forget<A: Aggregate>(&self, stream_id: &str) {
        if let Some(cache) = &self.cache {
            cache.forget::<A>(stream_id);
        }
    }

    /// The load counters.
    pub fn stats(&self) -> Arc<LoadStats> {
        self.stats.clone()
    }

    /// The current state of a stream (version 0 and the default state if it has no
    /// events): from the in-process cache, else a snapshot plus newer events, else replay.
    pub async fn load<A: Aggregate>(&self, stream_id: &str) -> Result<Versioned<A>, LoadError> {
        match self.cached(stream_id, |_| true) {
            Some(hit) => Ok(hit),
            None => self.load_fresh(stream_id).await,
        }
    }

    /// The cache's state of a stream, if it holds one that `usable` accepts (counted).
    fn cached<A: Aggregate>(
        &self,
        stream_id: &str,
        usable: impl Fn(&Versioned<A>) -> bool,
    ) -> Option<Versioned<A>> {
        let hit = self.cache.as_ref()?.get::<A>(stream_id).filter(usable)?;
        self.stats.from_cache.fetch_add(1, Ordering::Relaxed);
        Some(hit)
    }

    /// As [`Self::load`], but a stream the cache holds as empty is read from the store:
    /// the cache may hold "no such stream" from before another instance wrote it. For
    /// decisions that an absent stream ends (a scope check, a not-found answer).
    pub async fn load_existing<A: Aggregate>(
        &self,
        stream_id: &str,
    ) -> Result<Versioned<A>, LoadError> {
        match self.cached(stream_id, |hit: &Versioned<A>| hit.version > 0) {
            Some(hit) => Ok(hit),
            None => self.load_fresh(stream_id).await,
        }
    }

    /// The current state from the stores, bypassing (and refreshing) the cache.
    pub async fn load_fresh<A: Aggregate>(
        &self,
        stream_id: &str,
    ) -> Result<Versioned<A>, LoadError> {
        // A snapshot is checked against the store in the same read that brings the
        // events after it: one query, as for a stream without one.
        let (start, anchor) = match self.snapshot::<A>(stream_id).await {
            Some((state, event_id)) => (state, Some(event_id)),
            None => (Versioned::default(), None),
        };
        let at = start.version;
        let (loaded, from_snapshot) = match self.fold_from(stream_id, start, None, anchor).await? {
            Some(loaded) => (loaded, anchor.is_some()),
            None => {
                // The snapshot's own event is not in the store (a lost or foreign
                // store's snapshot would otherwise hide events): replay instead.
                self.stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                let why = format!("{stream_id} has no event {anchor:?} at version {at}");
                self.errors
                    .warn("snapshot of another history ignored", &why);
                (self.replay_all(stream_id, None).await?, false)
            }
        };

        if loaded.version > 0 && loaded.head == ChainHash::ZERO {
            // An event without a hash (written by an older version after the upgrade's
            // backfill): chaining to zeros would break the chain for good.
            return Err(LoadError::Store(StoreError::Failed(format!(
                "stream {stream_id}: its event at version {} has no hash; stop older \
                 versions of the service and fill the hashes in (docs/API.md, Integrity)",
                loaded.version
            ))));
        }
        let counter = if from_snapshot {
            &self.stats.from_snapshot
        } else {
            &self.stats.from_replay
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(cache) = &self.cache {
            cache.put(stream_id, &loaded);
        }
        Ok(loaded)
    }

    /// The state up to a version or an instant, replayed from the first event.
    pub async fn load_until<A: Aggregate>(
        &self,
        stream_id: &str,
        bound: StreamBound,
    ) -> Result<Versioned<A>, LoadError> {
        self.replay_all(stream_id, Some(bound)).await
    }

    /// The state folded from the first event.
    async fn replay_all<A: Aggregate>(
        &self,
        stream_id: &str,
        until: Option<StreamBound>,
    ) -> Result<Versioned<A>, LoadError> {
        let folded = self
            .fold_from(stream_id, Versioned::default(), until, None)
            .await?;
        // Without an anchor there is nothing to find missing: always `Some`.
        folded.ok_or_else(|| LoadError::Store(StoreError::Failed("unanchored fold refused".into())))
    }

    /// `start` folded forward with the events after it. With an `anchor`, `start` is a
    /// snapshot taken at the event with that id: the first read starts one version
    /// earlier, so that it brings that event too; `None` when the store does not hold
    /// it there (the head the next event chains to is that event's hash).
    async fn fold_from<A: Aggregate>(
        &self,
        stream_id: &str,
        start: Versioned<A>,
        until: Option<StreamBound>,
        anchor: Option<uuid::Uuid>,
    ) -> Result<Option<Versioned<A>>, LoadError> {
        let Versioned {
            mut state,
            mut version,
            mut head,
            mut head_at,
        } = start;
        let mut anchor = anchor;
        loop {
            let after_version = match anchor {
                Some(_) => version - 1,
                None => version,
            };
            let page = self
                .store
                .read_stream(StreamQuery {
                    stream_id,
                    after_version,
                    until,
                    limit: self.batch,
                })
                .await?;
            let n = page.len();
            let mut events = page.iter();
            if let Some(id) = anchor.take() {
                match events.next() {
                    Some(e) if e.version == version && e.event_id == id => {
                        head = e.hash;
                        head_at = Some(e.recorded_at);
                    }
                    _ => return Ok(None),
                }
            }
            for e in events {
                if e.version != version + 1 {
                    // Never fold past a hole: a state missing events would be wrong.
                    return Err(LoadError::Store(StoreError::Failed(format!(
                        "stream {stream_id} jumps from version {version} to {}",
                        e.version
                    ))));
                }
                let event = state.decode(e.raw()).map_err(|source| LoadError::Decode {
                    stream_id: stream_id.to_owned(),
                    source,
                })?;
                state = state.evolve(&event);
                version = e.version;
                head = e.hash;
                head_at = Some(e.recorded_at);
            }
            self.stats
                .events_replayed
                .fetch_add(n as u64, Ordering::Relaxed);
            if n < self.batch {
                return Ok(Some(Versioned {
                    state,
                    version,
                    head,
                    head_at,
                }));
            }
        }
    }
}
