//! The event-store port on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledger_application::ports::store::{
    AppendError, AppendRequest, EventMetadata, EventStore, FeedCursor, FeedPage, IdempotencyRecord,
    RecordedEvent, StoreError, StreamBound, StreamQuery, StreamWrite,
};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::errors::{append_error, store_error};
use crate::group::{GroupCommit, GroupCommitConfig};
use crate::notify::Notifier;

/// The channel a NOTIFY is sent on after every append.
pub const NOTIFY_CHANNEL: &str = "ledger_events";

const COLUMNS: &str = "position, tx_id, event_id, stream_id, stream_type, version, event_type, \
                       schema_version, data::text AS data, metadata::text AS metadata, recorded_at";

/// The EXISTS makes an expected version beyond the stream's end a conflict too; the
/// unique key makes a stale one a conflict, race-free.
const INSERT_EVENTS: &str = "INSERT INTO events (stream_id, stream_type, version, event_id, \
        event_type, schema_version, data, metadata, recorded_at) \
     SELECT $1, $2, $3 + t.ord, t.event_id, t.event_type, t.schema_version, \
            t.data::json, t.metadata::jsonb, t.recorded_at \
     FROM UNNEST($4::uuid[], $5::text[], $6::int[], $7::text[], $8::text[], \
                 $9::timestamptz[]) WITH ORDINALITY \
          AS t(event_id, event_type, schema_version, data, metadata, recorded_at, ord) \
     WHERE $3 = 0 OR EXISTS (SELECT 1 FROM events WHERE stream_id = $1 AND version = $3) \
     ORDER BY t.ord";

/// Events, idempotency records and the global feed in PostgreSQL.
///
/// Appends go through group commit ([`GroupCommitConfig`]) when the store is made inside
/// a Tokio runtime: concurrent appends share one statement and one commit.
#[derive(Clone)]
pub struct PgEventStore {
    pool: PgPool,
    group: Option<GroupCommit>,
    /// When set, commits are announced after the fact instead of by a NOTIFY inside
    /// the appending statement.
    notifier: Option<Notifier>,
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
    /// runtime (it starts the group's dispatcher task).
    pub fn with_group_commit(pool: PgPool, config: GroupCommitConfig) -> Self {
        let notifier = Some(Notifier::spawn(pool.clone()));
        let writer = Self {
            pool: pool.clone(),
            group: None,
            notifier: notifier.clone(),
        };
        Self {
            pool,
            group: Some(GroupCommit::spawn(writer, config)),
            notifier,
        }
    }

    /// A store whose every append commits on its own (and NOTIFYs in its own statement).
    pub fn direct(pool: PgPool) -> Self {
        Self {
            pool,
            group: None,
            notifier: None,
        }
    }

    /// Tells listeners that events were committed.
    pub(crate) fn announce(&self) {
        if let Some(n) = &self.notifier {
            n.committed();
        }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Inserts one stream's events. With `notify`, the same statement also sends the
    /// NOTIFY, so a lone append is one round trip in autocommit (still atomic: one
    /// statement).
    async fn insert_stream<'c>(
        exec: impl sqlx::PgExecutor<'c>,
        write: &StreamWrite,
        notify: bool,
    ) -> Result<(), AppendError> {
        let expected = write.expected_version;
        let n = write.events.len();
        let mut ids = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut data = Vec::with_capacity(n);
        let mut metadata = Vec::with_capacity(n);
        let mut times = Vec::with_capacity(n);
        for e in &write.events {
            ids.push(e.event_id);
            types.push(e.event_type.as_str());
            versions.push(i32::try_from(e.schema_version).unwrap_or(i32::MAX));
            data.push(e.data.as_str());
            metadata.push(serde_json::to_string(&e.metadata).unwrap_or_else(|_| "{}".into()));
            times.push(e.recorded_at);
        }
        let expected_i64 = i64::try_from(expected).unwrap_or(i64::MAX);
        let sql = if notify {
            format!(
                "WITH ins AS ({INSERT_EVENTS} RETURNING 1) \
                 SELECT (SELECT count(*) FROM ins) AS n FROM pg_notify($10, '') AS notified"
            )
        } else {
            INSERT_EVENTS.to_owned()
        };
        let query = sqlx::query(&sql)
            .bind(&write.stream_id)
            .bind(&write.stream_type)
            .bind(expected_i64)
            .bind(&ids)
            .bind(&types)
            .bind(&versions)
            .bind(&data)
            .bind(&metadata)
            .bind(&times);
        let failed = |e| append_error(e, Some(&write.stream_id), expected);
        let inserted = if notify {
            let row = query
                .bind(NOTIFY_CHANNEL)
                .fetch_one(exec)
                .await
                .map_err(failed)?;
            u64::try_from(row.try_get::<i64, _>("n").map_err(failed)?).unwrap_or(0)
        } else {
            query.execute(exec).await.map_err(failed)?.rows_affected()
        };
        if inserted as usize != n {
            return Err(AppendError::Conflict {
                stream_id: write.stream_id.clone(),
                expected,
            });
        }
        Ok(())
    }
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Maps an events row (selected with [`COLUMNS`]).
fn recorded(row: &PgRow) -> Result<RecordedEvent, sqlx::Error> {
    let metadata: String = row.try_get("metadata")?;
    Ok(RecordedEvent {
        cursor: FeedCursor {
            tx: to_u64(row.try_get("tx_id")?),
            position: to_u64(row.try_get("position")?),
        },
        event_id: row.try_get::<Uuid, _>("event_id")?,
        stream_id: row.try_get("stream_id")?,
        stream_type: row.try_get("stream_type")?,
        version: to_u64(row.try_get("version")?),
        event_type: row.try_get("event_type")?,
        schema_version: u32::try_from(row.try_get::<i32, _>("schema_version")?).unwrap_or(0),
        data: row.try_get("data")?,
        metadata: serde_json::from_str::<EventMetadata>(&metadata)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        recorded_at: row.try_get::<DateTime<Utc>, _>("recorded_at")?,
    })
}

impl PgEventStore {
    /// One append in its own statement or transaction.
    pub(crate) async fn append_direct(&self, request: AppendRequest) -> Result<(), AppendError> {
        let mut writes: Vec<&StreamWrite> = request
            .streams
            .iter()
            .filter(|w| !w.events.is_empty())
            .collect();
        let inline_notify = self.notifier.is_none();
        if request.idempotency.is_empty() && writes.len() == 1 {
            Self::insert_stream(&self.pool, writes[0], inline_notify).await?;
            self.announce();
            return Ok(());
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| append_error(e, None, 0))?;
        // Keys in one order too (a client's retried keys on two instances would
        // otherwise deadlock).
        let mut records: Vec<&IdempotencyRecord> = request.idempotency.iter().collect();
        records.sort_by(|a, b| a.key.cmp(&b.key));
        for record in records {
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (key, fingerprint, outcome) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(&record.key)
            .bind(&record.fingerprint)
            .bind(&record.outcome)
            .execute(&mut *tx)
            .await
            .map_err(|e| append_error(e, None, 0))?
            .rows_affected();
            if inserted == 0 {
                // Read inside the transaction: the key may be one this request holds twice.
                let stored = sqlx::query(
                    "SELECT key, fingerprint, outcome FROM idempotency_keys WHERE key = $1",
                )
                .bind(&record.key)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| append_error(e, None, 0))?;
                let field = |name: &str| -> Result<String, AppendError> {
                    stored.try_get(name).map_err(|e| append_error(e, None, 0))
                };
                return Err(AppendError::IdempotencyKeyExists(IdempotencyRecord {
                    key: field("key")?,
                    fingerprint: field("fingerprint")?,
                    outcome: field("outcome")?,
                }));
            }
        }
        // Always insert streams in one order: two transfers between the same accounts in
        // opposite directions then wait for each other instead of deadlocking.
        writes.sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
        for write in writes {
            Self::insert_stream(&mut *tx, write, false).await?;
        }
        if inline_notify && !request.streams.is_empty() {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(NOTIFY_CHANNEL)
                .execute(&mut *tx)
                .await
                .map_err(|e| append_error(e, None, 0))?;
        }
        tx.commit().await.map_err(|e| append_error(e, None, 0))?;
        self.announce();
        Ok(())
    }
}

#[async_trait]
impl EventStore for PgEventStore {
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        if request.streams.iter().all(|w| w.events.is_empty()) && request.idempotency.is_empty() {
            return Ok(());
        }
        match &self.group {
            Some(group) => match group.append(request).await {
                Ok(outcome) => outcome,
                Err(request) => self.append_direct(request).await,
            },
            None => self.append_direct(request).await,
        }
    }

    async fn read_stream<'a>(
        &self,
        query: StreamQuery<'a>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let after = to_i64(query.after_version);
        // Versions are contiguous, so the page is also bounded by version: the planner
        // then walks the `(stream_id, version)` index for exactly the page even when
        // its statistics do not know the stream is long (without the bound it chose a
        // bitmap scan of the whole rest of the stream plus a sort: 30 ms per page of a
        // 100,000-event stream instead of 0.6 ms).
        let limit = limit.min(i64::MAX - after);
        let rows = match query.until {
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND version > $2 \
                     AND version <= $2 + $3 ORDER BY version LIMIT $3"
                ))
                .bind(query.stream_id)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
            Some(StreamBound::Version(v)) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND version > $2 \
                     AND version <= $2 + $3 AND version <= $4 ORDER BY version LIMIT $3"
                ))
                .bind(query.stream_id)
                .bind(after)
                .bind(limit)
                .bind(to_i64(v))
                .fetch_all(&self.pool)
                .await
            }
            Some(StreamBound::RecordedAt(t)) => {
                // The stream's prefix before its first event recorded after `t`.
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND version > $2 \
                     AND version <= $2 + $3 AND version < COALESCE((SELECT min(version) FROM events \
                        WHERE stream_id = $1 AND recorded_at > $4), 9223372036854775807) \
                     ORDER BY version LIMIT $3"
                ))
                .bind(query.stream_id)
                .bind(after)
                .bind(limit)
                .bind(t)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(store_error)?;
        rows.iter()
            .map(recorded)
            .collect::<Result<_, _>>()
            .map_err(store_error)
    }

    async fn read_feed(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        // Only transactions older than every running one are visible: an event whose
        // transaction commits late can then never be passed over.
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM events \
             WHERE (tx_id, position) > ($1, $2) \
               AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
             ORDER BY tx_id, position LIMIT $3"
        ))
        .bind(to_i64(after.tx))
        .bind(to_i64(after.position))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let events: Vec<RecordedEvent> = rows
            .iter()
            .map(recorded)
            .collect::<Result<_, _>>()
            .map_err(store_error)?;
        let next = events.last().map_or(after, |e| e.cursor);
        Ok(FeedPage { events, next })
    }

    async fn count_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM events WHERE (tx_id, position) > ($1, $2)")
                .bind(to_i64(after.tx))
                .bind(to_i64(after.position))
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
        Ok(to_u64(n))
    }

    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row =
            sqlx::query("SELECT key, fingerprint, outcome FROM idempotency_keys WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
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
