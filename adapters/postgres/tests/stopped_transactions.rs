//! A session of the service's pool that stops inside a transaction (its process
//! paused, its host cut off) is ended by the server once it has waited
//! `IDLE_IN_TRANSACTION`: its row locks and its transaction id go, so other instances'
//! writes of those rows and every feed reader go on. Before, they waited for as long as
//! the process stayed stopped (found by black-box testing with SIGSTOP). A session the
//! server ends, and a statement an operator cancels, are "unavailable" (503), not a
//! failure (500).

use ledger_application::ports::store::{EventStore, StoreError, StreamQuery};
use ledger_postgres::testing::{idle_in_transaction, TestDatabase};
use ledger_postgres::{is_unavailable, PgEventStore, IDLE_IN_TRANSACTION};
use sqlx::{Connection, Executor, PgConnection};

const INSERT_KEY: &str =
    "INSERT INTO idempotency_keys (key, fingerprint, outcome) VALUES ('k', 'f', '{}')";

#[tokio::test]
async fn a_transaction_left_waiting_is_ended_by_the_server() {
    let (db, pool) = TestDatabase::migrated(2).await;
    let mut stopped = pool.acquire().await.expect("connection");
    sqlx::query("BEGIN")
        .execute(&mut *stopped)
        .await
        .expect("begin");
    sqlx::query(INSERT_KEY)
        .execute(&mut *stopped)
        .await
        .expect("insert");
    // Its process stops here, holding the key's row.
    assert_eq!(idle_in_transaction(&pool, db.name()).await.len(), 1);

    tokio::time::sleep(IDLE_IN_TRANSACTION + std::time::Duration::from_secs(2)).await;
    let open = idle_in_transaction(&pool, db.name()).await;
    assert!(open.is_empty(), "still waiting: {open:?}");
    // Another writer of the same row goes through at once.
    let mut other = PgConnection::connect(&db.url).await.expect("connect");
    sqlx::query("SET lock_timeout = '1s'")
        .execute(&mut other)
        .await
        .expect("set");
    sqlx::query(INSERT_KEY)
        .execute(&mut other)
        .await
        .expect("the row is free, and the stopped insert was rolled back");
    // The stopped one, going on, finds its session ended: unavailable, not a failure.
    let next = sqlx::query("COMMIT").execute(&mut *stopped).await;
    assert!(next.as_ref().is_err_and(is_unavailable), "{next:?}");
}

#[tokio::test]
async fn a_statement_an_operator_cancels_is_unavailable() {
    let (db, pool) = TestDatabase::migrated(2).await;
    let store = PgEventStore::direct(pool.clone());
    let mut locker = PgConnection::connect(&db.url).await.expect("connect");
    locker
        .execute("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let read = store.read_stream(StreamQuery {
        stream_id: "a",
        after_version: 0,
        limit: 10,
        until: None,
    });
    let cancel = async {
        for _ in 0..100 {
            let cancelled: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND wait_event_type = 'Lock'",
            )
            .bind(db.name())
            .fetch_all(&mut locker)
            .await
            .expect("cancel");
            if cancelled.contains(&true) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the read never waited on the lock");
    };
    let (read, ()) = tokio::join!(read, cancel);
    assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
}
