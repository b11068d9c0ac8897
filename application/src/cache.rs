//! The in-process cache of recently used aggregates, and a rate-limited warning log.

use std::any::Any;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger_domain::{Aggregate, Versioned};
use lru::LruCache;

type Entry = Arc<dyn Any + Send + Sync>;

/// A bounded LRU of aggregate states keyed by stream type and id.
///
/// An entry may be stale when another instance wrote the stream; the append's
/// expected version then conflicts and the caller evicts and reloads.
pub struct AggregateCache {
    inner: Mutex<LruCache<(&'static str, String), Entry>>,
}

impl AggregateCache {
    /// A cache of at most `capacity` aggregates.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            inner: Mutex::new(LruCache::new(capacity)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<(&'static str, String), Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached state of a stream.
    pub fn get<A: Aggregate>(&self, stream_id: &str) -> Option<Versioned<A>> {
        let key = (A::STREAM_TYPE, stream_id.to_owned());
        let entry = self.lock().get(&key).cloned()?;
        entry.downcast_ref::<Versioned<A>>().cloned()
    }

    /// Remembers a state unless a newer one is cached.
    pub fn put<A: Aggregate>(&self, stream_id: &str, state: &Versioned<A>) {
        let key = (A::STREAM_TYPE, stream_id.to_owned());
        let mut cache = self.lock();
        let newer = cache
            .peek(&key)
            .and_then(|e| e.downcast_ref::<Versioned<A>>())
            .is_some_and(|cached| cached.version > state.version);
        if !newer {
            cache.put(key, Arc::new(state.clone()));
        }
    }

    /// Drops a stream's entry.
    pub fn forget<A: Aggregate>(&self, stream_id: &str) {
        self.lock().pop(&(A::STREAM_TYPE, stream_id.to_owned()));
    }
}

/// Logs a warning at most once per interval, counting what it held back.
pub struct RateLimitedLog {
    interval: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl RateLimitedLog {
    /// A log that speaks at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    /// Warns, unless it warned less than an interval ago.
    pub fn warn(&self, what: &str, error: &dyn std::fmt::Display) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (last, suppressed) = &mut *state;
        if last.is_some_and(|t| t.elapsed() < self.interval) {
            *suppressed += 1;
            return;
        }
        tracing::warn!(suppressed = *suppressed, "{what}: {error}");
        *last = Some(Instant::now());
        *suppressed = 0;
    }
}
