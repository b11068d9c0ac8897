//! The repository's snapshots: reading one (any trouble only costs a replay) and
//! writing one forward after a commit that crossed a multiple of `snapshot_every`.

use std::sync::atomic::Ordering;

use ledger_domain::{Aggregate, ChainHash, Versioned};

use super::Repository;
use crate::ports::snapshot::Snapshot;

impl Repository {
    /// A snapshot if it can be read and has the current format, with the id of the
    /// event it was taken at (the caller checks that the store holds that event).
    pub(super) async fn snapshot<A: Aggregate>(
        &self,
        stream_id: &str,
    ) -> Option<(Versioned<A>, uuid::Uuid)> {
        let snapshot = match self.snapshots.load(stream_id).await {
            Ok(Some(s)) if s.format == A::SNAPSHOT_FORMAT && s.version > 0 => s,
            Ok(_) => return None,
            Err(e) => {
                self.stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                self.errors.warn("snapshot load failed, replaying", &e);
                return None;
            }
        };
        match serde_json::from_str::<A>(&snapshot.state) {
            Ok(state) => {
                let at = Versioned {
                    state,
                    version: snapshot.version,
                    head: ChainHash::ZERO,
                };
                Some((at, snapshot.event_id))
            }
            Err(e) => {
                self.stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                self.errors.warn("unreadable snapshot ignored", &e);
                None
            }
        }
    }

    /// After a commit that moved a stream from `before` to `after.version`, whose last
    /// event has id `last_event_id`: caches the new state and, when a multiple of
    /// `snapshot_every` was crossed, writes a snapshot (in the background when a spawner
    /// is set). Snapshot errors are counted and logged.
    pub async fn after_commit<A: Aggregate>(
        &self,
        stream_id: &str,
        before: u64,
        after: &Versioned<A>,
        last_event_id: uuid::Uuid,
    ) {
        if let Some(cache) = &self.cache {
            cache.put(stream_id, after);
        }
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
            event_id: last_event_id,
            format: A::SNAPSHOT_FORMAT,
            state,
        };
        let (snapshots, stats, errors) = (
            self.snapshots.clone(),
            self.stats.clone(),
            self.errors.clone(),
        );
        let task = async move {
            match snapshots.save(snapshot).await {
                Ok(()) => stats.snapshots_written.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    errors.warn("snapshot write failed", &e);
                    stats.snapshot_errors.fetch_add(1, Ordering::Relaxed)
                }
            };
        };
        match &self.spawner {
            Some(spawner) => spawner.spawn(Box::pin(task)),
            None => task.await,
        }
    }
}
