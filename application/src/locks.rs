//! Per-stream serialization inside one instance: commands on one stream wait for each
//! other instead of racing to a version conflict. Across instances the store's unique
//! `(stream, version)` key still decides; this only removes pointless retries.
//! Uses `tokio::sync::Mutex`, which works on any executor.

use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

/// A fixed set of async mutexes; a stream maps to one by hash (bounded memory).
pub struct StreamLocks {
    stripes: Vec<Mutex<()>>,
}

impl StreamLocks {
    /// `n` stripes (at least 1).
    pub fn new(n: usize) -> Self {
        Self {
            stripes: (0..n.max(1)).map(|_| Mutex::new(())).collect(),
        }
    }

    fn index(&self, stream: &str) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        stream.hash(&mut h);
        (h.finish() % self.stripes.len() as u64) as usize
    }

    /// Locks the stripes of all these streams, always in index order (no deadlock).
    pub async fn lock(&self, streams: &[&str]) -> Vec<MutexGuard<'_, ()>> {
        let mut idx: Vec<usize> = streams.iter().map(|s| self.index(s)).collect();
        idx.sort_unstable();
        idx.dedup();
        let mut guards = Vec::with_capacity(idx.len());
        for i in idx {
            guards.push(self.stripes[i].lock().await);
        }
        guards
    }
}
