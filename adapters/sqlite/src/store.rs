//! The event-store port on SQLite.

use async_trait::async_trait;
use chrono::DateTime;
use ledger_application::ports::store::{
    AppendError, AppendHold, AppendRequest, EventMetadata, EventStore, FeedCursor, FeedPage,
    IdempotencyRecord, RecordedEvent, StoreError, StreamBound, StreamQuery, EXACT_LAG,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use ledger_sql::i64_of;

use crate::errors::{append_error, store_error};
use crate::group_commit::GroupCommit;

pub(crate) const COLUMNS: &str =
    "position, event_id, stream_id, stream_type, version, event_type, \
                       schema_version, data, metadata, recorded_at, prev_hash, hash";

/// Events on one SQLite file: a single-connection writer pool and a reader pool;
/// appends go through group commit.
#[derive(Clone)]
pub struct SqliteEventStore {
    writer: SqlitePool,
    reader: SqlitePool,
    group: GroupCommit,
}

/// Maps an events row. A row that cannot be read names its position (for an operator to
/// find it; `ledger verify` reports it as a finding).
pub(crate) fn recorded(row: &SqliteRow) -> Result<RecordedEvent, sqlx::Error> {
    let stored: i64 = row.try_get("position")?;
    read_row(row, stored).map_err(|e| {
        let why = match e {
            sqlx::Error::ColumnDecode { index, source } => format!("{index}: {source}"),
            sqlx::Error::Decode(source) => source.to_string(),
            other => return other,
        };
        sqlx::Error::Decode(format!("the event at position {stored} cannot be read: {why}").into())
    })
}

fn read_row(row: &SqliteRow, stored: i64) -> Result<RecordedEvent, sqlx::Error> {
    let decode = |e: String| sqlx::Error::Decode(e.into());
    // A negative position (never written by the service) reads as 0: `ledger verify`
    // finds the event where the feed never shows it.
    let position = u64::try_from(stored).unwrap_or(0);
    let event_id: String = row.try_get("event_id")?;
    let metadata: String = row.try_get("metadata")?;
    let micros: i64 = row.try_get("recorded_at")?;
    Ok(RecordedEvent {
        // One writer: commit order is position order.
        cursor: FeedCursor {
            tx: position,
            position,
        },
        event_id: event_id
            .parse()
            .map_err(|e| decode(format!("its event_id is not a UUID: {e}")))?,
        stream_id: row.try_get("stream_id")?,
        stream_type: row.try_get("stream_type")?,
        version: u64::try_from(row.try_get::<i64, _>("version")?).unwrap_or(0),
        event_type: row.try_get("event_type")?,
        schema_version: u32::try_from(row.try_get::<i64, _>("schema_version")?).unwrap_or(0),
        data: row.try_get("data")?,
        metadata: serde_json::from_str::<EventMetadata>(&metadata).map_err(|e| {
            // Said with the event's place, for an operator to find the row (an import
            // whose metadata lacks an actor, say).
            decode(format!(
                "its metadata is not an object with at least an `actor` string: {e}"
            ))
        })?,
        recorded_at: DateTime::from_timestamp_micros(micros)
            .ok_or_else(|| decode(format!("its recorded_at {micros} is out of range")))?,
        prev_hash: ledger_sql::chain_hash(row.try_get("prev_hash")?)?,
        hash: ledger_sql::chain_hash(row.try_get("hash")?)?,
    })
}

/// The position after which the feed continues past `c`. Every cursor this store gives
/// is `<position>-<position>`; another (never given, but taken) is placed by the
/// cursors' own order, as the live stream places it: the page and the stream read
/// `99-0` alike (the page read only its second half, and answered the whole feed).
fn after_position(c: FeedCursor) -> u64 {
    match c.tx > c.position {
        true => c.tx - 1,
        false => c.tx,
    }
}

impl SqliteEventStore {
    /// A store on a writer pool (one connection) and a reader pool of a migrated file.
    pub fn new(writer: SqlitePool, reader: SqlitePool) -> Self {
        Self {
            group: GroupCommit::new(writer.clone()),
            writer,
            reader,
        }
    }

    /// The writer pool (one connection).
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// The reader pool.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }
}

/// Inside `tx`: the request's idempotency records, then each stream's events guarded by
/// its expected version.
pub(crate) async fn write_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    request: &AppendRequest,
) -> Result<(), AppendError> {
    for record in &request.idempotency {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (key, fingerprint, outcome) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&record.key)
        .bind(&record.fingerprint)
        .bind(&record.outcome)
        .execute(&mut **tx)
        .await
        .map_err(|e| append_error(e, "", 0))?
        .rows_affected();
        if inserted == 0 {
            let stored = sqlx::query(
                "SELECT key, fingerprint, outcome FROM idempotency_keys WHERE key = ?1",
            )
            .bind(&record.key)
            .fetch_one(&mut **tx)
            .await
            .map_err(|e| append_error(e, "", 0))?;
            return Err(AppendError::IdempotencyKeyExists(IdempotencyRecord {
                key: stored.try_get("key").unwrap_or_default(),
                fingerprint: stored.try_get("fingerprint").unwrap_or_default(),
                outcome: stored.try_get("outcome").unwrap_or_default(),
            }));
        }
    }
    for write in &request.streams {
        let expected = write.expected_version;
        for (i, e) in write.events.iter().enumerate() {
            let metadata = serde_json::to_string(&e.metadata).unwrap_or_else(|_| "{}".into());
            // The first event also proves the stream is at the expected version
            // (not beyond its end); the unique key refuses a stale one.
            let inserted = sqlx::query(
                "INSERT INTO events (stream_id, stream_type, version, event_id, event_type, \
                                     schema_version, data, metadata, recorded_at, \
                                     prev_hash, hash) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?12 \
                 WHERE ?10 = 0 OR EXISTS \
                    (SELECT 1 FROM events WHERE stream_id = ?1 AND version = ?10)",
            )
            .bind(&write.stream_id)
            .bind(&write.stream_type)
            .bind(i64_of(expected + i as u64 + 1))
            .bind(e.event_id.to_string())
            .bind(&e.event_type)
            .bind(i64::from(e.schema_version))
            .bind(&e.data)
            .bind(metadata)
            .bind(e.recorded_at.timestamp_micros())
            .bind(if i == 0 { i64_of(expected) } else { 0 })
            .bind(e.prev_hash.0.as_slice())
            .bind(e.hash.0.as_slice())
            .execute(&mut **tx)
            .await
            .map_err(|err| append_error(err, &write.stream_id, expected))?
            .rows_affected();
            if inserted != 1 {
                return Err(AppendError::Conflict {
                    stream_id: write.stream_id.clone(),
                    expected,
                });
            }
        }
    }
    Ok(())
}

/// Events rows (selected with [`COLUMNS`]) as events.
fn events_of(rows: &[SqliteRow]) -> Result<Vec<RecordedEvent>, StoreError> {
    rows.iter()
        .map(recorded)
        .collect::<Result<_, _>>()
        .map_err(store_error)
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        self.group.append(request).await
    }

    /// This process's turn at writing the file, held: every other process's writes
    /// wait for it (this process's go on, in the same turn).
    async fn hold_appends(&self) -> Result<Option<AppendHold>, StoreError> {
        let file = self.writer.connect_options().get_filename().to_owned();
        let turn = crate::write_turn::take(&file)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Some(Box::new(turn)))
    }

    async fn read_stream<'a>(
        &self,
        query: StreamQuery<'a>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // A time bound is applied after the read (`StreamBound::cut`): no index on
        // `recorded_at` is kept for it.
        let last = match query.until {
            Some(StreamBound::Version(v)) => i64_of(v),
            None | Some(StreamBound::RecordedAt(_)) => i64::MAX,
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM events WHERE stream_id = ?1 AND version > ?2 \
             AND version <= ?4 ORDER BY version LIMIT ?3"
        ))
        .bind(query.stream_id)
        .bind(i64_of(query.after_version))
        .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
        .bind(last)
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        let mut events = events_of(&rows)?;
        StreamBound::cut(query.until, &mut events);
        Ok(events)
    }

    async fn read_feed(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM events WHERE position > ?1 ORDER BY position LIMIT ?2"
        ))
        .bind(i64_of(after_position(after)))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        let events = events_of(&rows)?;
        let next = events.last().map_or(after, |e| e.cursor);
        Ok(FeedPage { events, next })
    }

    async fn feed_end(&self) -> Result<FeedCursor, StoreError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(&self.reader)
            .await
            .map_err(store_error)?;
        let position = last.map_or(0, |p| u64::try_from(p).unwrap_or(0));
        Ok(FeedCursor {
            tx: position,
            position,
        })
    }

    async fn committed_end(&self) -> Result<FeedCursor, StoreError> {
        // A reader sees every committed event.
        self.feed_end().await
    }

    async fn hidden_from_feed(&self, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        // The feed starts after position 0.
        let sql = format!("SELECT {COLUMNS} FROM events WHERE position <= 0 LIMIT ?1");
        let rows = sqlx::query(&sql)
            .bind(ledger_sql::limit(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(store_error)?;
        events_of(&rows)
    }

    async fn count_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE position > ?1")
            .bind(i64_of(after_position(after)))
            .fetch_one(&self.reader)
            .await
            .map_err(store_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn lag_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        let counted: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM events WHERE position > ?1 ORDER BY position LIMIT ?2)",
        )
        .bind(i64_of(after_position(after)))
        .bind(i64_of(EXACT_LAG + 1))
        .fetch_one(&self.reader)
        .await
        .map_err(store_error)?;
        let counted = u64::try_from(counted).unwrap_or(0);
        if counted <= EXACT_LAG {
            return Ok(counted);
        }
        // Beyond: the positions after the cursor's (an aborted append leaves a gap).
        let last: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(&self.reader)
            .await
            .map_err(store_error)?;
        let last = u64::try_from(last.unwrap_or(0)).unwrap_or(0);
        Ok(last
            .saturating_sub(after_position(after))
            .max(EXACT_LAG + 1))
    }

    async fn size_bytes(&self) -> Result<u64, StoreError> {
        // The pages of the events table and its indexes (SQLite's dbstat table).
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN \
             (SELECT name FROM sqlite_schema WHERE tbl_name = 'events')",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(store_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row =
            sqlx::query("SELECT key, fingerprint, outcome FROM idempotency_keys WHERE key = ?1")
                .bind(key)
                .fetch_optional(&self.reader)
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
