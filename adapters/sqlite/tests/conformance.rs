//! The event-store conformance suite on a SQLite file.

use std::sync::Arc;

use ledger_conformance::store as suite;
use ledger_conformance::store_concurrency as concurrency;

/// A fresh file in a temporary directory, removed afterwards.
struct TempDb {
    dir: std::path::PathBuf,
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn store() -> (TempDb, suite::Store, ledger_sqlite::SqliteEventStore) {
    let dir = std::env::temp_dir().join(format!("ledger-sqlite-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let store = ledger_sqlite::open(&url).await.expect("open sqlite");
    (TempDb { dir }, Arc::new(store.clone()), store)
}

#[tokio::test]
async fn append_and_read_back() {
    let (_t, s, _) = store().await;
    suite::append_and_read_back(s).await;
}

#[tokio::test]
async fn stale_expected_version_is_a_conflict() {
    let (_t, s, _) = store().await;
    suite::stale_expected_version_is_a_conflict(s).await;
}

#[tokio::test]
async fn multi_stream_conflict_writes_nothing() {
    let (_t, s, _) = store().await;
    suite::multi_stream_conflict_writes_nothing(s).await;
}

#[tokio::test]
async fn idempotency_records_are_stored_with_the_events() {
    let (_t, s, _) = store().await;
    suite::idempotency_records_are_stored_with_the_events(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_keep_streams_contiguous() {
    let (_t, s, _) = store().await;
    concurrency::concurrent_appends_keep_streams_contiguous(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_concurrent_appends_each_get_their_own_answer() {
    let (_t, s, _) = store().await;
    concurrency::concurrent_mixed_appends_each_get_their_own_answer(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_tail_sees_every_event_once() {
    for _ in 0..3 {
        let (_t, s, _) = store().await;
        concurrency::feed_tail_sees_every_event_once(s).await;
    }
}

#[tokio::test]
async fn seed_format_events_read_back_upcast() {
    let (_t, s, _) = store().await;
    suite::seed_format_events_read_back_upcast(s).await;
}

#[tokio::test]
async fn events_cannot_be_updated_or_deleted() {
    let (_t, s, store) = store().await;
    suite::append_and_read_back(s).await;
    let before: Vec<(i64, String)> = sqlx::query_as("SELECT position, event_type FROM events")
        .fetch_all(store.writer())
        .await
        .unwrap();
    // REPLACE deletes the event it meets without firing the DELETE trigger: refused by
    // position, by (stream_id, version) and by event_id alike.
    let columns = "stream_id, stream_type, version, event_id, event_type, schema_version, \
                   data, metadata, recorded_at, prev_hash, hash";
    for sql in [
        "UPDATE events SET event_type = 'Forged'".to_owned(),
        "DELETE FROM events".to_owned(),
        "REPLACE INTO events SELECT * FROM events".to_owned(),
        format!(
            "INSERT OR REPLACE INTO events ({columns}) SELECT stream_id, stream_type, version, \
             event_id || '-forged', 'Forged', schema_version, data, metadata, recorded_at, \
             prev_hash, hash FROM events"
        ),
        format!(
            "INSERT OR REPLACE INTO events ({columns}) SELECT 'elsewhere', stream_type, \
             version, event_id, 'Forged', schema_version, data, metadata, recorded_at, \
             prev_hash, hash FROM events"
        ),
    ] {
        assert!(
            sqlx::query(&sql).execute(store.writer()).await.is_err(),
            "{sql}"
        );
    }
    let after: Vec<(i64, String)> = sqlx::query_as("SELECT position, event_type FROM events")
        .fetch_all(store.writer())
        .await
        .unwrap();
    assert_eq!(after, before);
}

#[tokio::test]
async fn the_stream_and_feed_reads_use_indexes() {
    use sqlx::Row;
    let (_t, s, store) = store().await;
    suite::append_and_read_back(s).await;
    let plan = |sql: &'static str| {
        let pool = store.reader().clone();
        async move {
            let rows = sqlx::query(sql).fetch_all(&pool).await.expect("explain");
            rows.iter()
                .map(|r| r.try_get::<String, _>("detail").unwrap_or_default())
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    let stream = plan(
        "EXPLAIN QUERY PLAN SELECT * FROM events \
         WHERE stream_id = 's-1' AND version > 0 ORDER BY version LIMIT 10",
    )
    .await;
    assert!(
        stream.contains("USING INDEX sqlite_autoindex_events_1"),
        "{stream}"
    );
    let feed = plan(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE position > 0 ORDER BY position LIMIT 10",
    )
    .await;
    assert!(feed.contains("INTEGER PRIMARY KEY"), "{feed}");
}

#[tokio::test]
async fn the_key_store_contract() {
    let (_t, _, store) = store().await;
    let keys = ledger_sqlite::SqliteKeyStore::new(store.writer().clone(), store.reader().clone());
    ledger_conformance::keys::the_key_store_contract(Arc::new(keys)).await;
}

#[tokio::test]
async fn lag_is_exact_up_to_its_bound_and_bounded_below_beyond() {
    let (_db, s, _) = store().await;
    ledger_conformance::lag::lag_is_exact_up_to_its_bound_and_bounded_below_beyond(s).await;
}
