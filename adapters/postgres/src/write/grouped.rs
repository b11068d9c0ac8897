//! The appends of a group in one statement, one commit: every row of every append,
//! or nothing (`ledger_batch_check` raises when a key or a version guard held one
//! back).

use ledger_application::ports::store::{AppendRequest, StreamWrite};
use sqlx::PgConnection;

use super::columns::EventColumns;

/// The version guard is a scalar subquery on purpose: an `EXISTS` here may be planned
/// as a hashed subplan that scans the whole events table on every group.
const GROUP_INSERT: &str = "WITH keys AS ( \
        INSERT INTO idempotency_keys (key, fingerprint, outcome) \
        SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) \
        ON CONFLICT (key) DO NOTHING RETURNING 1), \
     ins AS ( \
        INSERT INTO events (stream_id, stream_type, version, event_id, event_type, \
            schema_version, data, metadata, recorded_at, prev_hash, hash) \
        SELECT t.stream_id, t.stream_type, t.version, t.event_id, t.event_type, \
            t.schema_version, t.data::json, t.metadata::jsonb, t.recorded_at, \
            t.prev_hash, t.hash \
        FROM UNNEST($4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::uuid[], \
                    $9::text[], $10::int[], $11::text[], $12::text[], $13::timestamptz[], \
                    $16::bytea[], $17::bytea[]) \
             WITH ORDINALITY AS t(stream_id, stream_type, expected, version, event_id, \
                 event_type, schema_version, data, metadata, recorded_at, prev_hash, hash, \
                 ord) \
        WHERE t.expected = 0 OR (SELECT true FROM events e \
            WHERE e.stream_id = t.stream_id AND e.version = t.expected) \
        ORDER BY t.ord \
        RETURNING 1) \
     SELECT ledger_batch_check((SELECT count(*) FROM keys) = $14 \
                               AND (SELECT count(*) FROM ins) = $15)::text";

/// One statement, one commit: every row of every request, or nothing.
pub(super) async fn write_grouped(
    conn: &mut PgConnection,
    requests: &[&AppendRequest],
) -> Result<(), sqlx::Error> {
    // Keys and streams in one order, so two instances' groups wait for each other
    // instead of deadlocking.
    let mut records: Vec<_> = requests.iter().flat_map(|r| &r.idempotency).collect();
    records.sort_by(|a, b| a.key.cmp(&b.key));
    let mut writes: Vec<&StreamWrite> = requests
        .iter()
        .flat_map(|r| &r.streams)
        .filter(|w| !w.events.is_empty())
        .collect();
    writes.sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
    let rows = EventColumns::of(&writes);
    let n = rows.ids.len();
    sqlx::query(GROUP_INSERT)
        .bind(records.iter().map(|r| r.key.as_str()).collect::<Vec<_>>())
        .bind(
            records
                .iter()
                .map(|r| r.fingerprint.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.outcome.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(&rows.stream_ids)
        .bind(&rows.stream_types)
        .bind(&rows.expected)
        .bind(&rows.versions)
        .bind(&rows.ids)
        .bind(&rows.types)
        .bind(&rows.schemas)
        .bind(&rows.data)
        .bind(&rows.metadata)
        .bind(&rows.times)
        .bind(records.len() as i64)
        .bind(n as i64)
        .bind(&rows.prev_hashes)
        .bind(&rows.hashes)
        .execute(conn)
        .await?;
    Ok(())
}
