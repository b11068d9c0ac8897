//! The event-store conformance suite on a real PostgreSQL, plus what only it can show.

use std::sync::Arc;

use ledger_conformance::store as suite;
use ledger_conformance::store_concurrency as concurrency;
use ledger_postgres::testing::{plan_without_seqscan as plan, TestDatabase};
use ledger_postgres::{GroupCommitConfig, PgEventStore};

async fn store() -> (TestDatabase, suite::Store, sqlx::PgPool) {
    let (db, pool) = TestDatabase::migrated(20).await;
    (db, Arc::new(PgEventStore::new(pool.clone())), pool)
}

/// A store whose group commit has one writer.
fn one_writer(pool: &sqlx::PgPool) -> PgEventStore {
    let config = GroupCommitConfig {
        writers: 1,
        ..Default::default()
    };
    PgEventStore::with_group_commit(pool.clone(), config)
}

#[tokio::test]
async fn append_and_read_back() {
    let (_db, s, _) = store().await;
    suite::append_and_read_back(s).await;
}

#[tokio::test]
async fn stale_expected_version_is_a_conflict() {
    let (_db, s, _) = store().await;
    suite::stale_expected_version_is_a_conflict(s).await;
}

#[tokio::test]
async fn multi_stream_conflict_writes_nothing() {
    let (_db, s, _) = store().await;
    suite::multi_stream_conflict_writes_nothing(s).await;
}

#[tokio::test]
async fn idempotency_records_are_stored_with_the_events() {
    let (_db, s, _) = store().await;
    suite::idempotency_records_are_stored_with_the_events(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_keep_streams_contiguous() {
    let (_db, s, _) = store().await;
    concurrency::concurrent_appends_keep_streams_contiguous(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_tail_sees_every_event_once() {
    for _ in 0..3 {
        let (_db, s, _) = store().await;
        concurrency::feed_tail_sees_every_event_once(s).await;
    }
}

#[tokio::test]
async fn seed_format_events_read_back_upcast() {
    let (_db, s, _) = store().await;
    suite::seed_format_events_read_back_upcast(s).await;
}

#[tokio::test]
async fn events_cannot_be_updated_deleted_or_truncated() {
    let (_db, s, pool) = store().await;
    suite::append_and_read_back(s).await;
    for sql in [
        "UPDATE events SET event_type = 'Forged'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(sql).execute(&pool).await;
        assert!(err.is_err(), "{sql} must be refused");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 3);
}

#[tokio::test]
async fn the_stream_and_feed_reads_use_indexes() {
    let (_db, s, pool) = store().await;
    suite::append_and_read_back(s).await;
    let stream = plan(
        &pool,
        "SELECT * FROM events WHERE stream_id = 's-1' AND version > 0 ORDER BY version LIMIT 100",
    )
    .await;
    assert!(stream.contains("events_stream_version_key"), "{stream}");
    let feed = plan(
        &pool,
        "SELECT * FROM events WHERE (tx_id, position) > (0, 0) \
         AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
         ORDER BY tx_id, position LIMIT 100",
    )
    .await;
    assert!(feed.contains("events_feed_idx"), "{feed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_concurrent_appends_each_get_their_own_answer() {
    for _ in 0..3 {
        let (_db, s, _) = store().await;
        concurrency::concurrent_mixed_appends_each_get_their_own_answer(s).await;
    }
}

/// With one writer, appends arriving while a group commits wait and go together: 40
/// concurrent appends land, each once, in fewer transactions than appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_commits() {
    use ledger_application::ports::store::*;
    let (_db, pool) = TestDatabase::migrated(20).await;
    let s: suite::Store = Arc::new(one_writer(&pool));
    let start = Arc::new(tokio::sync::Barrier::new(40));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (s, start) = (s.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let event = NewEvent {
                event_id: uuid::Uuid::new_v4(),
                event_type: "TestEvent".into(),
                schema_version: 1,
                data: format!("{{\"n\":{i}}}"),
                metadata: EventMetadata::default(),
                recorded_at: chrono::Utc::now(),
                prev_hash: ChainHash::ZERO,
                hash: ChainHash::ZERO,
            };
            s.append(AppendRequest {
                streams: vec![StreamWrite {
                    stream_id: format!("g-{i}"),
                    stream_type: "test".into(),
                    expected_version: 0,
                    events: vec![event.clone(), event_with_new_id(event)],
                }],
                idempotency: vec![],
            })
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("append");
    }
    let (streams, events, transactions): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT stream_id), count(*), count(DISTINCT tx_id) FROM events",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((streams, events), (40, 80), "every append stored once");
    assert!(
        transactions < 40,
        "40 concurrent appends took {transactions} transactions: nothing was grouped"
    );
}

fn event_with_new_id(
    e: ledger_application::ports::store::NewEvent,
) -> ledger_application::ports::store::NewEvent {
    ledger_application::ports::store::NewEvent {
        event_id: uuid::Uuid::new_v4(),
        ..e
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_multi_stream_appends_conflict_instead_of_failing() {
    let (_db, pool) = TestDatabase::migrated(20).await;
    opposite_appends(Arc::new(PgEventStore::new(pool))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_multi_stream_appends_conflict_without_group_commit_too() {
    let (_db, pool) = TestDatabase::migrated(20).await;
    opposite_appends(Arc::new(PgEventStore::direct(pool))).await;
}

async fn opposite_appends(s: suite::Store) {
    use ledger_application::ports::store::*;
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for i in 0..60u64 {
                let (a, b) = if (t + i) % 2 == 0 {
                    ("x", "y")
                } else {
                    ("y", "x")
                };
                let version = |id: &'static str| {
                    let s = s.clone();
                    async move {
                        s.read_stream(StreamQuery {
                            stream_id: id,
                            after_version: 0,
                            until: None,
                            limit: 100_000,
                        })
                        .await
                        .map(|e| e.len() as u64)
                        .unwrap_or(0)
                    }
                };
                let (va, vb) = (version(a).await, version(b).await);
                let event = |n: u64| NewEvent {
                    event_id: uuid::Uuid::new_v4(),
                    event_type: "TestEvent".into(),
                    schema_version: 1,
                    data: format!("{{\"n\":{n}}}"),
                    metadata: EventMetadata::default(),
                    recorded_at: chrono::Utc::now(),
                    prev_hash: ChainHash::ZERO,
                    hash: ChainHash::ZERO,
                };
                let write = |id: &str, v: u64| StreamWrite {
                    stream_id: id.into(),
                    stream_type: "test".into(),
                    expected_version: v,
                    events: vec![event(i)],
                };
                let req = AppendRequest {
                    streams: vec![write(a, va), write(b, vb)],
                    idempotency: vec![],
                };
                match s.append(req).await {
                    Ok(()) | Err(AppendError::Conflict { .. }) => {}
                    Err(e) => failures.push(e.to_string()),
                }
            }
            failures
        }));
    }
    for t in tasks {
        let failures = t.await.unwrap();
        assert!(
            failures.is_empty(),
            "appends failed instead of conflicting: {failures:?}"
        );
    }
}

/// Ends every other session on the test's database; returns how many.
async fn end_other_sessions(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A group-commit writer keeps its connection between groups. When the server drops it
/// (a restart, an administrator), the next append on it is answered "unavailable"
/// (its outcome is unknown, so it is never retried blindly) or succeeds, and the writer
/// takes a new connection: appends go on, and nothing is stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_replaces_a_connection_the_server_dropped() {
    use ledger_application::ports::store::*;
    let (_db, pool) = TestDatabase::migrated(10).await;
    let s = one_writer(&pool);
    let append = |version: u64| {
        let s = &s;
        async move {
            s.append(AppendRequest {
                streams: vec![StreamWrite {
                    stream_id: "kept".into(),
                    stream_type: "test".into(),
                    expected_version: version,
                    events: vec![NewEvent {
                        event_id: uuid::Uuid::new_v4(),
                        event_type: "TestEvent".into(),
                        schema_version: 1,
                        data: format!("{{\"n\":{version}}}"),
                        metadata: EventMetadata::default(),
                        recorded_at: chrono::Utc::now(),
                        prev_hash: ChainHash::ZERO,
                        hash: ChainHash::ZERO,
                    }],
                }],
                idempotency: vec![],
            })
            .await
        }
    };
    append(0).await.expect("first append");
    // Every other session on this database goes, the writer's among them.
    let killed = end_other_sessions(&pool).await;
    assert!(killed >= 1, "the writer's session was there to end");
    // Each dead connection (the writer's, and pooled ones used within the last second,
    // which are not pinged) may fail one append, as unavailable or, when the statement
    // was sent on it, with an unknown outcome (the server's FATAL could have come after
    // a commit); a writer that kept a dead one would fail them all.
    let mut version = 1;
    let mut unavailable = 0;
    while version < 4 {
        match append(version).await {
            Ok(()) => version += 1,
            Err(AppendError::Unavailable(_) | AppendError::OutcomeUnknown(_))
                if unavailable < killed =>
            {
                unavailable += 1
            }
            Err(e) => panic!("after {unavailable} unavailable answers: {e:?}"),
        }
    }
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM events WHERE stream_id = 'kept' ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        versions,
        vec![1, 2, 3, 4],
        "every append stored exactly once"
    );
    // A connection dropped while idle (for a second or more) is found dead by a ping
    // before it is used: no append is answered "unavailable" for it.
    let killed = end_other_sessions(&pool).await;
    assert!(killed >= 1, "the writer's session was there to end");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    append(4)
        .await
        .expect("an idle dead connection is replaced before use");
}

#[tokio::test]
async fn the_key_store_contract() {
    let (_db, _, pool) = store().await;
    let keys = ledger_postgres::PgKeyStore::new(pool);
    ledger_conformance::keys::the_key_store_contract(Arc::new(keys)).await;
}

#[tokio::test]
async fn lag_is_exact_up_to_its_bound_and_bounded_below_beyond() {
    let (_db, s, _) = store().await;
    ledger_conformance::lag::lag_is_exact_up_to_its_bound_and_bounded_below_beyond(s).await;
}
