//! A bounded in-process snapshot store that only ever moves forward.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use ledger_application::ports::snapshot::{Snapshot, SnapshotError, SnapshotStore};

/// Keeps at most `capacity` streams' latest snapshots; when full, a new stream
/// evicts an arbitrary other one (snapshots are only an optimization).
pub struct MemorySnapshotStore {
    capacity: usize,
    inner: Mutex<HashMap<String, Snapshot>>,
}

impl MemorySnapshotStore {
    /// A store of at most `capacity` snapshots.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }

    /// How many snapshots are held.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |m| m.len())
    }

    /// True when none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemorySnapshotStore {
    fn default() -> Self {
        Self::new(10_000)
    }
}

#[async_trait]
impl SnapshotStore for MemorySnapshotStore {
    async fn load(&self, stream_id: &str) -> Result<Option<Snapshot>, SnapshotError> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.get(stream_id).cloned())
    }

    async fn save(&self, snapshot: Snapshot) -> Result<(), SnapshotError> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = map.get(&snapshot.stream_id) {
            if existing.version >= snapshot.version {
                return Ok(());
            }
        } else if map.len() >= self.capacity {
            if let Some(victim) = map.keys().next().cloned() {
                map.remove(&victim);
            }
        }
        map.insert(snapshot.stream_id.clone(), snapshot);
        Ok(())
    }
}
