//! The event-store port on PostgreSQL.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use ledger_application::ports::store::{
    AppendError, AppendRequest, EventMetadata, EventStore, FeedCursor, FeedPage, IdempotencyRecord,
    RecordedEvent, StoreError, StreamBound, StreamQuery, EXACT_LAG,
};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use ledger_sql::{i64_of, u64_of};

use crate::errors::store_error;
use crate::guarded::Guarded;
use crate::write::{GroupCommitConfig, Writes};

/// The channel a NOTIFY is sent on after every append.
pub const NOTIFY_CHANNEL: &str = "ledger_events";

/// The metadata's fields are taken out in SQL: cheaper for the server than printing the
/// whole JSONB document, and nothing to parse here.
pub(crate) const COLUMNS: &str =
    "position, tx_id, event_id, stream_id, stream_type, version, event_type, \
                       schema_version, data::text AS data, metadata->>'actor', \
                       metadata->>'request_id', metadata->>'causation_id', \
                       metadata->>'correlation_id', recorded_at, prev_hash, hash";

/// Events, idempotency records and the global feed in PostgreSQL.
///
/// Appends go through group commit ([`GroupCommitConfig`]) when the store is made inside
/// a Tokio runtime: concurrent appends share one statement and one commit.
#[derive(Clone)]
pub struct PgEventStore {
    pool: PgPool,
    writes: Writes,
}

impl PgEventStore {
    /// A store on a pool whose database is migrated, with group commit on its default
    /// settings when called inside a Tokio runtime (else every append commits alone).
    pub fn new(pool: PgPool) -> Self {
        match tokio::runtime::Handle::try_current() {
            Ok(_) => Self::with_group_commit(pool, GroupCommitConfig::default()),
            Err(_) => Self::direct(pool),
        }
    }

    /// A store whose appends are grouped as configured. Must be called inside a Tokio
    /// runtime (it starts the group's writer tasks).
    pub fn with_group_commit(pool: PgPool, config: GroupCommitConfig) -> Self {
        Self {
            writes: Writes::grouped(&pool, config),
            pool,
        }
    }

    /// A store whose every append commits on its own (and NOTIFYs in its own statement).
    pub fn direct(pool: PgPool) -> Self {
        Self {
            pool,
            writes: Writes::Alone,
        }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The cursor of the row `sql` selects (`tx_id`, `position`), `START` when none.
    async fn last_cursor(&self, sql: &'static str) -> Result<FeedCursor, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(sql)
            .fetch_optional(Guarded(&self.pool))
            .await
            .map_err(store_error)?;
        Ok(row.map_or(FeedCursor::START, |(tx, position)| FeedCursor {
            tx: u64_of(tx),
            position: u64_of(position),
        }))
    }
}

/// Maps an events row (selected with [`COLUMNS`], whose order the indexes follow: by
/// index, not by name, as this runs for every event read).
pub(crate) fn recorded(row: &PgRow) -> Result<RecordedEvent, sqlx::Error> {
    let actor: Option<String> = row.try_get(9)?;
    let actor = actor.ok_or_else(|| {
        // Said with the event's place, for an operator to find the row.
        let position: i64 = row.try_get(0).unwrap_or_default();
        sqlx::Error::Decode(
            format!("the event at position {position} has metadata without an `actor` string")
                .into(),
        )
    })?;
    Ok(RecordedEvent {
        cursor: FeedCursor {
            tx: u64_of(row.try_get(1)?),
            position: u64_of(row.try_get(0)?),
        },
        event_id: row.try_get::<Uuid, _>(2)?,
        stream_id: row.try_get(3)?,
        stream_type: row.try_get(4)?,
        version: u64_of(row.try_get(5)?),
        event_type: row.try_get(6)?,
        schema_version: u32::try_from(row.try_get::<i32, _>(7)?).unwrap_or(0),
        data: row.try_get(8)?,
        metadata: EventMetadata {
            actor,
            request_id: row.try_get(10)?,
            causation_id: row.try_get(11)?,
            correlation_id: row.try_get(12)?,
        },
        recorded_at: row
            .try_get::<crate::time::StoredTime, _>(13)
            .map_err(|e| {
                let position: i64 = row.try_get(0).unwrap_or_default();
                let why = match e {
                    sqlx::Error::ColumnDecode { source, .. } => source.to_string(),
                    other => other.to_string(),
                };
                sqlx::Error::Decode(
                    format!("the event at position {position} has a recorded_at the service cannot read: {why}").into(),
                )
            })?
            .0,
        prev_hash: ledger_sql::chain_hash(row.try_get(14)?)?,
        hash: ledger_sql::chain_hash(row.try_get(15)?)?,
    })
}

/// Events rows (selected with [`COLUMNS`]) as events.
fn events_of(rows: &[PgRow]) -> Result<Vec<RecordedEvent>, StoreError> {
    rows.iter()
        .map(recorded)
        .collect::<Result<_, _>>()
        .map_err(store_error)
}

#[async_trait]
impl EventStore for PgEventStore {
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        if request.streams.iter().all(|w| w.events.is_empty()) && request.idempotency.is_empty() {
            return Ok(());
        }
        self.writes.append(&self.pool, request).await
    }

    async fn read_stream<'a>(
        &self,
        query: StreamQuery<'a>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let after = i64_of(query.after_version);
        // Versions are contiguous, so the page is also bounded by version: the planner
        // then walks the `(stream_id, version)` index for exactly the page even when
        // its statistics do not know the stream is long (without the bound it chose a
        // bitmap scan of the whole rest of the stream plus a sort: 30 ms per page of a
        // 100,000-event stream instead of 0.6 ms).
        let limit = limit.min(i64::MAX - after);
        // A time bound is applied after the read (`StreamBound::cut`): no index on
        // `recorded_at` is kept for it.
        let last = match query.until {
            Some(StreamBound::Version(v)) => i64_of(v),
            None | Some(StreamBound::RecordedAt(_)) => i64::MAX,
        };
        // With the stream's first event past the page's bound (within a page's width
        // of it, bounded for the same reason): a page cut short by a missing version
        // (a row deleted by hand) then shows the jump to the next one, which readers
        // refuse to fold past, instead of ending as if the stream did.
        let probe_last = after.saturating_add(limit).saturating_add(limit).min(last);
        let rows = sqlx::query(&format!(
            "(SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND version > $2 \
               AND version <= $2 + $3 AND version <= $4 ORDER BY version LIMIT $3) \
             UNION ALL (SELECT {COLUMNS} FROM events WHERE stream_id = $1 \
               AND version > $2 + $3 AND version <= $5 ORDER BY version LIMIT 1) \
             ORDER BY version LIMIT $3"
        ))
        .bind(query.stream_id)
        .bind(after)
        .bind(limit)
        .bind(last)
        .bind(probe_last)
        .fetch_all(Guarded(&self.pool))
        .await
        .map_err(store_error)?;
        let mut events = events_of(&rows)?;
        StreamBound::cut(query.until, &mut events);
        Ok(events)
    }

    async fn read_feed(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        // Only transactions older than every running one are visible: an event whose
        // transaction commits late can then never be passed over.
        let events: Vec<RecordedEvent> = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM events \
             WHERE (tx_id, position) > ($1, $2) \
               AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
             ORDER BY tx_id, position LIMIT $3"
        ))
        .bind(i64_of(after.tx))
        .bind(i64_of(after.position))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        // Each row is decoded as it arrives, while the server still sends the next.
        .fetch(Guarded(&self.pool))
        .and_then(|row| futures_util::future::ready(recorded(&row)))
        .try_collect()
        .await
        .map_err(store_error)?;
        let next = events.last().map_or(after, |e| e.cursor);
        Ok(FeedPage { events, next })
    }

    async fn feed_end(&self) -> Result<FeedCursor, StoreError> {
        // The same visibility rule as `read_feed`: the end a reader can reach now.
        self.last_cursor(
            "SELECT tx_id, position FROM events \
             WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
             ORDER BY tx_id DESC, position DESC LIMIT 1",
        )
        .await
    }

    async fn committed_end(&self) -> Result<FeedCursor, StoreError> {
        // `feed_end` without its visibility rule, the feed's index read backwards:
        // every row below the snapshot's xmax that this statement sees has committed
        // and reaches the feed once the transactions before it end. (A row at or past
        // xmax, or at or before the feed's start, never does: `hidden_from_feed`.)
        self.last_cursor(
            "SELECT tx_id, position FROM events \
             WHERE (tx_id, position) > (0, 0) \
               AND tx_id < pg_snapshot_xmax(pg_current_snapshot())::text::bigint \
             ORDER BY tx_id DESC, position DESC LIMIT 1",
        )
        .await
    }

    async fn hidden_from_feed(&self, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        // No transaction has an id at or past the snapshot's xmax yet, and the feed
        // starts after (0, 0): each range is a seek of the feed's index.
        let sql = format!(
            "(SELECT {COLUMNS} FROM events WHERE (tx_id, position) <= (0, 0) \
              ORDER BY tx_id, position LIMIT $1) \
             UNION ALL \
             (SELECT {COLUMNS} FROM events \
              WHERE tx_id >= pg_snapshot_xmax(pg_current_snapshot())::text::bigint \
              ORDER BY tx_id, position LIMIT $1) \
             ORDER BY 2, 1 LIMIT $1"
        );
        let rows = sqlx::query(&sql)
            .bind(ledger_sql::limit(limit))
            .fetch_all(Guarded(&self.pool))
            .await
            .map_err(store_error)?;
        events_of(&rows)
    }

    async fn count_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM events WHERE (tx_id, position) > ($1, $2)")
                .bind(i64_of(after.tx))
                .bind(i64_of(after.position))
                .fetch_one(Guarded(&self.pool))
                .await
                .map_err(store_error)?;
        Ok(u64_of(n))
    }

    async fn lag_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        let counted: i64 = sqlx::query_scalar(
            // In the feed index's order: without it, a generic plan takes a third of
            // the table to match and scans the heap (seconds at ten million events).
            "SELECT count(*) FROM (SELECT 1 FROM events WHERE (tx_id, position) > ($1, $2) \
             ORDER BY tx_id, position LIMIT $3) AS behind",
        )
        .bind(i64_of(after.tx))
        .bind(i64_of(after.position))
        .bind(i64_of(EXACT_LAG + 1))
        .fetch_one(Guarded(&self.pool))
        .await
        .map_err(store_error)?;
        if u64_of(counted) <= EXACT_LAG {
            return Ok(u64_of(counted));
        }
        // Beyond: the positions after the cursor's (an aborted append leaves a gap).
        let last: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(Guarded(&self.pool))
            .await
            .map_err(store_error)?;
        let estimate = u64_of(last.unwrap_or(0)).saturating_sub(after.position);
        Ok(estimate.max(EXACT_LAG + 1))
    }

    async fn size_bytes(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('events')")
            .fetch_one(Guarded(&self.pool))
            .await
            .map_err(store_error)?;
        Ok(u64_of(n))
    }

    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row =
            sqlx::query("SELECT key, fingerprint, outcome FROM idempotency_keys WHERE key = $1")
                .bind(key)
                .fetch_optional(Guarded(&self.pool))
                .await
                .map_err(store_error)?;
        row.map(|r| {
            Ok(IdempotencyRecord {
                key: r.try_get("key")?,
                fingerprint: r.try_get("fingerprint")?,
                outcome: r.try_get("outcome")?,
            })
        })
        .transpose()
        .map_err(store_error)
    }
}
