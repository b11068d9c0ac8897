//! One append alone: one stream in one autocommit statement, several streams and
//! idempotency records in one transaction. Group commit falls back to this, append by
//! append, to give each its own answer.

use ledger_application::ports::store::{
    AppendError, AppendRequest, IdempotencyRecord, StreamWrite,
};
use sqlx::{PgConnection, Row};

use super::columns::EventColumns;
use super::Announce;
use crate::errors::{append_error, commit_error};
use crate::store::NOTIFY_CHANNEL;

/// The EXISTS makes an expected version beyond the stream's end a conflict too; the
/// unique key makes a stale one a conflict, race-free.
const INSERT_EVENTS: &str = "INSERT INTO events (stream_id, stream_type, version, event_id, \
        event_type, schema_version, data, metadata, recorded_at, prev_hash, hash) \
     SELECT $1, $2, $3 + t.ord, t.event_id, t.event_type, t.schema_version, \
            t.data::json, t.metadata::jsonb, t.recorded_at, t.prev_hash, t.hash \
     FROM UNNEST($4::uuid[], $5::text[], $6::int[], $7::text[], $8::text[], \
                 $9::timestamptz[], $10::bytea[], $11::bytea[]) WITH ORDINALITY \
          AS t(event_id, event_type, schema_version, data, metadata, recorded_at, \
               prev_hash, hash, ord) \
     WHERE $3 = 0 OR EXISTS (SELECT 1 FROM events WHERE stream_id = $1 AND version = $3) \
     ORDER BY t.ord";

/// Inserts one stream's events. With `notify`, the same statement also sends the
/// NOTIFY, so a lone append is one round trip in autocommit (still atomic: one
/// statement). `commits`: the statement is in autocommit, so a failure may have come
/// after its commit ([`commit_error`]).
async fn insert_stream<'c>(
    exec: impl sqlx::PgExecutor<'c>,
    write: &StreamWrite,
    notify: bool,
    commits: bool,
) -> Result<(), AppendError> {
    let expected = write.expected_version;
    let n = write.events.len();
    let rows = EventColumns::of(&[write]);
    let expected_i64 = i64::try_from(expected).unwrap_or(i64::MAX);
    let sql = if notify {
        format!(
            "WITH ins AS ({INSERT_EVENTS} RETURNING 1) \
                 SELECT (SELECT count(*) FROM ins) AS n FROM pg_notify($12, '') AS notified"
        )
    } else {
        INSERT_EVENTS.to_owned()
    };
    let query = sqlx::query(&sql)
        .bind(&write.stream_id)
        .bind(&write.stream_type)
        .bind(expected_i64)
        .bind(&rows.ids)
        .bind(&rows.types)
        .bind(&rows.schemas)
        .bind(&rows.data)
        .bind(&rows.metadata)
        .bind(&rows.times)
        .bind(&rows.prev_hashes)
        .bind(&rows.hashes);
    let failed = |e| match commits {
        true => commit_error(e, Some(&write.stream_id), expected),
        false => append_error(e, Some(&write.stream_id), expected),
    };
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

/// Whether the connection `write_alone` answered `written` on may be used again: not
/// after an error that may have broken it or left its outcome unknown.
pub(crate) fn leaves_connection_sound(written: &Result<(), AppendError>) -> bool {
    !matches!(
        written,
        Err(AppendError::Unavailable(_) | AppendError::OutcomeUnknown(_) | AppendError::Failed(_))
    )
}

/// One append in its own statement or transaction, on this connection.
pub(crate) async fn write_alone(
    conn: &mut PgConnection,
    request: AppendRequest,
    announce: &Announce,
) -> Result<(), AppendError> {
    let writes: Vec<&StreamWrite> = request
        .streams
        .iter()
        .filter(|w| !w.events.is_empty())
        .collect();
    let inline_notify = matches!(announce, Announce::InStatement);
    if request.idempotency.is_empty() && writes.len() == 1 {
        insert_stream(&mut *conn, writes[0], inline_notify, true).await?;
        announce.committed();
        return Ok(());
    }
    let mut tx = sqlx::Connection::begin(conn)
        .await
        .map_err(|e| append_error(e, None, 0))?;
    if let Err(refused) = write_in(&mut tx, &request, writes, inline_notify).await {
        // Ended now: sqlx only queues the ROLLBACK of a dropped transaction until the
        // connection is next used, and a writer keeps its connection, which could then
        // sit idle in transaction for minutes holding its locks (on `idempotency_keys`
        // after two requests with one key, for one). A failed rollback means the
        // connection is gone: the writer takes another.
        return Err(match tx.rollback().await {
            Ok(()) => refused,
            Err(e) => append_error(e, None, 0),
        });
    }
    tx.commit().await.map_err(|e| commit_error(e, None, 0))?;
    announce.committed();
    Ok(())
}

/// The keys, then the streams, then the notice, in the open transaction on `conn`.
async fn write_in(
    conn: &mut PgConnection,
    request: &AppendRequest,
    mut writes: Vec<&StreamWrite>,
    inline_notify: bool,
) -> Result<(), AppendError> {
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
        .execute(&mut *conn)
        .await
        .map_err(|e| append_error(e, None, 0))?
        .rows_affected();
        if inserted == 0 {
            // Read inside the transaction: the key may be one this request holds twice.
            let stored = sqlx::query(
                "SELECT key, fingerprint, outcome FROM idempotency_keys WHERE key = $1",
            )
            .bind(&record.key)
            .fetch_one(&mut *conn)
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
        insert_stream(&mut *conn, write, false, false).await?;
    }
    if inline_notify && !request.streams.is_empty() {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&mut *conn)
            .await
            .map_err(|e| append_error(e, None, 0))?;
    }
    Ok(())
}
