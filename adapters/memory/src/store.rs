//! The in-memory event store: one lock, so every append is atomic and commit order
//! is position order.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use ledger_application::ports::store::{
    AppendError, AppendRequest, EventStore, FeedCursor, FeedPage, IdempotencyRecord, RecordedEvent,
    StoreError, StreamQuery,
};

#[derive(Default)]
struct Inner {
    events: Vec<RecordedEvent>,
    streams: HashMap<String, Vec<usize>>,
    idempotency: HashMap<String, IdempotencyRecord>,
    tx: u64,
}

/// Every event in a `Vec`, streams as index lists.
#[derive(Default)]
pub struct MemoryEventStore {
    inner: Mutex<Inner>,
}

impl MemoryEventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied append (appends
        // validate before mutating), so a poisoned lock's data is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// True when no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl EventStore for MemoryEventStore {
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        let mut inner = self.lock();
        let mut seen = std::collections::HashSet::new();
        for write in &request.streams {
            if !seen.insert(write.stream_id.as_str()) {
                return Err(AppendError::Failed(format!(
                    "stream {} written twice in one append",
                    write.stream_id
                )));
            }
            let current = inner.streams.get(&write.stream_id).map_or(0, Vec::len) as u64;
            if current != write.expected_version {
                return Err(AppendError::Conflict {
                    stream_id: write.stream_id.clone(),
                    expected: write.expected_version,
                });
            }
        }
        for (i, record) in request.idempotency.iter().enumerate() {
            if let Some(existing) = inner.idempotency.get(&record.key) {
                return Err(AppendError::IdempotencyKeyExists(existing.clone()));
            }
            if let Some(first) = request.idempotency[..i]
                .iter()
                .find(|r| r.key == record.key)
            {
                return Err(AppendError::IdempotencyKeyExists(first.clone()));
            }
        }
        inner.tx += 1;
        let tx = inner.tx;
        for write in request.streams {
            for (i, e) in write.events.into_iter().enumerate() {
                let index = inner.events.len();
                inner.events.push(RecordedEvent {
                    cursor: FeedCursor {
                        tx,
                        position: index as u64 + 1,
                    },
                    event_id: e.event_id,
                    stream_id: write.stream_id.clone(),
                    stream_type: write.stream_type.clone(),
                    version: write.expected_version + i as u64 + 1,
                    event_type: e.event_type,
                    schema_version: e.schema_version,
                    data: e.data,
                    metadata: e.metadata,
                    recorded_at: e.recorded_at,
                    prev_hash: e.prev_hash,
                    hash: e.hash,
                });
                inner
                    .streams
                    .entry(write.stream_id.clone())
                    .or_default()
                    .push(index);
            }
        }
        for record in request.idempotency {
            inner.idempotency.insert(record.key.clone(), record);
        }
        Ok(())
    }

    async fn read_stream<'a>(
        &self,
        query: StreamQuery<'a>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let inner = self.lock();
        let Some(indexes) = inner.streams.get(query.stream_id) else {
            return Ok(vec![]);
        };
        let start = usize::try_from(query.after_version).unwrap_or(usize::MAX);
        Ok(indexes
            .iter()
            .skip(start)
            .map(|i| &inner.events[*i])
            .take_while(|e| query.until.is_none_or(|b| b.admits(e)))
            .take(query.limit)
            .cloned()
            .collect())
    }

    async fn read_feed(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        let inner = self.lock();
        let start = inner.events.partition_point(|e| e.cursor <= after);
        let events: Vec<_> = inner.events[start..].iter().take(limit).cloned().collect();
        let next = events.last().map_or(after, |e| e.cursor);
        Ok(FeedPage { events, next })
    }

    async fn feed_end(&self) -> Result<FeedCursor, StoreError> {
        Ok(self
            .lock()
            .events
            .last()
            .map_or(FeedCursor::START, |e| e.cursor))
    }

    async fn committed_end(&self) -> Result<FeedCursor, StoreError> {
        self.feed_end().await
    }

    async fn count_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        let inner = self.lock();
        let start = inner.events.partition_point(|e| e.cursor <= after);
        Ok((inner.events.len() - start) as u64)
    }

    async fn size_bytes(&self) -> Result<u64, StoreError> {
        let inner = self.lock();
        let bytes = inner
            .events
            .iter()
            .map(|e| e.data.len() + e.stream_id.len() + e.event_type.len() + e.stream_type.len());
        Ok(bytes.sum::<usize>() as u64)
    }

    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.lock().idempotency.get(key).cloned())
    }
}
