//! A group of appends written with a few statements: under the write lock the group's
//! transaction holds (`BEGIN IMMEDIATE`), the stored keys and the streams' versions are
//! read once, each append is judged in order against them, and the accepted ones'
//! records and events go in as multi-row INSERTs. The unique keys still guard: should
//! one refuse, the caller writes the group again append by append.

use std::collections::{HashMap, HashSet};

use ledger_application::ports::store::{AppendError, AppendRequest, IdempotencyRecord};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use ledger_sql::i64_of;

/// Parameters per statement, well under SQLite's limit of 32,766.
const MAX_PARAMS: usize = 9_000;

/// Each append's outcome, or `None` when this path cannot judge the group (one key
/// twice in it): then the caller writes it append by append.
pub(crate) async fn write_rows(
    tx: &mut Transaction<'_, Sqlite>,
    group: &[&AppendRequest],
) -> Result<Option<Vec<Result<(), AppendError>>>, sqlx::Error> {
    let keys: Vec<&str> = group
        .iter()
        .flat_map(|r| r.idempotency.iter().map(|k| k.key.as_str()))
        .collect();
    if keys.iter().collect::<HashSet<_>>().len() != keys.len() {
        return Ok(None);
    }
    let stored = stored_keys(tx, &keys).await?;
    let streams: Vec<&str> = group
        .iter()
        .flat_map(|r| r.streams.iter().map(|w| w.stream_id.as_str()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut heads = heads(tx, &streams).await?;
    let mut outcomes = Vec::with_capacity(group.len());
    let mut accepted = Vec::with_capacity(group.len());
    for request in group {
        if let Some(record) = request.idempotency.iter().find_map(|k| stored.get(&k.key)) {
            outcomes.push(Err(AppendError::IdempotencyKeyExists(record.clone())));
            continue;
        }
        let stale = request
            .streams
            .iter()
            .find(|w| heads.get(w.stream_id.as_str()).copied().unwrap_or(0) != w.expected_version);
        if let Some(w) = stale {
            outcomes.push(Err(AppendError::Conflict {
                stream_id: w.stream_id.clone(),
                expected: w.expected_version,
            }));
            continue;
        }
        for w in &request.streams {
            heads.insert(&w.stream_id, w.expected_version + w.events.len() as u64);
        }
        accepted.push(*request);
        outcomes.push(Ok(()));
    }
    insert_keys(tx, &accepted).await?;
    insert_events(tx, &accepted).await?;
    Ok(Some(outcomes))
}

async fn stored_keys(
    tx: &mut Transaction<'_, Sqlite>,
    keys: &[&str],
) -> Result<HashMap<String, IdempotencyRecord>, sqlx::Error> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(MAX_PARAMS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT key, fingerprint, outcome FROM idempotency_keys WHERE key IN (",
        );
        let mut list = q.separated(", ");
        for k in chunk {
            list.push_bind(*k);
        }
        q.push(")");
        for row in q.build().fetch_all(&mut **tx).await? {
            let record = IdempotencyRecord {
                key: row.try_get("key")?,
                fingerprint: row.try_get("fingerprint")?,
                outcome: row.try_get("outcome")?,
            };
            out.insert(record.key.clone(), record);
        }
    }
    Ok(out)
}

async fn heads<'a>(
    tx: &mut Transaction<'_, Sqlite>,
    streams: &[&'a str],
) -> Result<HashMap<&'a str, u64>, sqlx::Error> {
    let mut out = HashMap::new();
    for chunk in streams.chunks(MAX_PARAMS) {
        // One `max(version)` per stream, each answered from the (stream_id, version)
        // index's last entry; a `GROUP BY` over `IN (...)` would read every event of
        // every stream named (a long stream's append cost grew with its length).
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT column1 AS stream_id, \
             (SELECT max(version) FROM events WHERE stream_id = column1) AS head FROM (VALUES ",
        );
        let mut list = q.separated(", ");
        for s in chunk {
            list.push("(");
            list.push_bind_unseparated(*s);
            list.push_unseparated(")");
        }
        q.push(")");
        for row in q.build().fetch_all(&mut **tx).await? {
            let id: String = row.try_get("stream_id")?;
            let Some(head) = row.try_get::<Option<i64>, _>("head")? else {
                continue;
            };
            if let Some(s) = chunk.iter().find(|s| **s == id) {
                out.insert(*s, u64::try_from(head).unwrap_or(0));
            }
        }
    }
    Ok(out)
}

async fn insert_keys(
    tx: &mut Transaction<'_, Sqlite>,
    accepted: &[&AppendRequest],
) -> Result<(), sqlx::Error> {
    let records: Vec<&IdempotencyRecord> =
        accepted.iter().flat_map(|r| r.idempotency.iter()).collect();
    for chunk in records.chunks(MAX_PARAMS / 3) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO idempotency_keys (key, fingerprint, outcome) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(&r.key)
                .push_bind(&r.fingerprint)
                .push_bind(&r.outcome);
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_events(
    tx: &mut Transaction<'_, Sqlite>,
    accepted: &[&AppendRequest],
) -> Result<(), sqlx::Error> {
    let rows: Vec<_> = accepted
        .iter()
        .flat_map(|r| r.streams.iter())
        .flat_map(|w| {
            w.events
                .iter()
                .enumerate()
                .map(move |(i, e)| (w, w.expected_version + i as u64 + 1, e))
        })
        .collect();
    for chunk in rows.chunks(MAX_PARAMS / 11) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (stream_id, stream_type, version, event_id, event_type, \
             schema_version, data, metadata, recorded_at, prev_hash, hash) ",
        );
        q.push_values(chunk, |mut b, (w, version, e)| {
            b.push_bind(&w.stream_id)
                .push_bind(&w.stream_type)
                .push_bind(i64_of(*version))
                .push_bind(e.event_id.to_string())
                .push_bind(&e.event_type)
                .push_bind(i64::from(e.schema_version))
                .push_bind(&e.data)
                .push_bind(serde_json::to_string(&e.metadata).unwrap_or_else(|_| "{}".into()))
                .push_bind(e.recorded_at.timestamp_micros())
                .push_bind(e.prev_hash.0.as_slice())
                .push_bind(e.hash.0.as_slice());
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}
