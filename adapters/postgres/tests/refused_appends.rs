//! An append the database refuses inside its transaction (a key already stored, a
//! stale version among several streams) ends that transaction before it answers. The
//! group-commit writer keeps its connection between groups, and sqlx only queues the
//! ROLLBACK of a dropped transaction until the connection is next used: the writer's
//! connection sat `idle in transaction` with its locks until the next write, minutes
//! on a quiet ledger, and a `CREATE INDEX` waiting behind them stalled every keyed
//! command (found by black-box testing: two requests with one key at the same instant).

use ledger_application::ports::store::{AppendError, AppendRequest, EventStore, IdempotencyRecord};
use ledger_conformance::store::{event, write};
use ledger_postgres::testing::{idle_in_transaction, TestDatabase};
use ledger_postgres::PgEventStore;

fn keyed(stream: &str, expected: u64, fingerprint: &str) -> AppendRequest {
    AppendRequest {
        streams: vec![write(stream, expected, vec![event(expected + 1)])],
        idempotency: vec![IdempotencyRecord {
            key: "actor\u{1f}key".into(),
            fingerprint: fingerprint.into(),
            outcome: "{}".into(),
        }],
    }
}

fn two_streams(expected: u64) -> AppendRequest {
    AppendRequest {
        streams: vec![
            write("a", expected, vec![event(expected + 1)]),
            write("b", expected, vec![event(expected + 1)]),
        ],
        idempotency: vec![],
    }
}

#[tokio::test]
async fn a_refused_append_leaves_no_transaction_open() {
    // Room for the writer to keep its connection between groups.
    let (db, pool) = TestDatabase::migrated(6).await;
    let store = PgEventStore::new(pool.clone());
    store.append(keyed("s", 0, "first")).await.expect("keyed");
    let again = store.append(keyed("t", 0, "second")).await;
    assert!(
        matches!(again, Err(AppendError::IdempotencyKeyExists(_))),
        "{again:?}"
    );
    let open = idle_in_transaction(&pool, db.name()).await;
    assert!(open.is_empty(), "after a stored key: {open:?}");

    store.append(two_streams(0)).await.expect("two streams");
    let stale = store.append(two_streams(0)).await;
    assert!(
        matches!(stale, Err(AppendError::Conflict { .. })),
        "{stale:?}"
    );
    let open = idle_in_transaction(&pool, db.name()).await;
    assert!(open.is_empty(), "after a stale version: {open:?}");

    // The writer's connection is usable at once, and nothing refused was written.
    store.append(two_streams(1)).await.expect("the next append");
    assert!(store
        .idempotency_record("actor\u{1f}key")
        .await
        .expect("read")
        .is_some_and(|r| r.fingerprint == "first"));
}
