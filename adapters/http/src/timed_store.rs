//! An event store that times its appends into the metrics registry
//! (`ledger_append_duration_seconds`, by outcome); every other call passes through.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::metrics::Metrics;
use ledger_application::ports::store::{
    AppendError, AppendHold, AppendRequest, EventStore, FeedCursor, FeedPage, IdempotencyRecord,
    RecordedEvent, StoreError, StreamQuery,
};

/// Wraps a store; what it answers is the wrapped store's answer, unchanged.
pub struct TimedEventStore {
    inner: Arc<dyn EventStore>,
    metrics: Arc<Metrics>,
}

impl TimedEventStore {
    /// Times the appends of `inner` into `metrics`.
    pub fn new(inner: Arc<dyn EventStore>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl EventStore for TimedEventStore {
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        let started = Instant::now();
        let result = self.inner.append(request).await;
        let outcome = match &result {
            Ok(()) => "ok",
            Err(AppendError::Conflict { .. }) => "conflict",
            Err(AppendError::IdempotencyKeyExists(_)) => "idempotency_key_exists",
            Err(_) => "error",
        };
        self.metrics.observe(
            "ledger_append_duration_seconds",
            "Event-store append latency (one atomic write, group commit included)",
            &[("outcome", outcome)],
            started.elapsed(),
        );
        result
    }

    async fn read_stream<'a>(
        &self,
        query: StreamQuery<'a>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(query).await
    }

    async fn read_feed(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        self.inner.read_feed(after, limit).await
    }

    async fn feed_end(&self) -> Result<FeedCursor, StoreError> {
        self.inner.feed_end().await
    }

    async fn committed_end(&self) -> Result<FeedCursor, StoreError> {
        self.inner.committed_end().await
    }

    async fn hidden_from_feed(&self, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.hidden_from_feed(limit).await
    }

    async fn count_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        self.inner.count_after(after).await
    }

    async fn lag_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        self.inner.lag_after(after).await
    }

    async fn size_bytes(&self) -> Result<u64, StoreError> {
        self.inner.size_bytes().await
    }

    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.idempotency_record(key).await
    }

    async fn hold_appends(&self) -> Result<Option<AppendHold>, StoreError> {
        self.inner.hold_appends().await
    }
}
