//! Work cut off anywhere (its future dropped after any number of polls, as a request's
//! deadline does) leaves no session of the pool inside a transaction. sqlx 0.8 counts
//! a transaction only once its `BEGIN` is answered and gives a dropped connection back
//! after a ping that does not look, so a `BEGIN` cut off in flight left the next
//! borrower's statements inside it: acknowledged, never committed (sqlx issue 4385).
//! Such work now runs on a connection that is closed unless it ended cleanly.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ledger_application::ports::readmodel::{Projection, ProjectionStore};
use ledger_application::ports::store::{AppendRequest, EventStore, IdempotencyRecord};
use ledger_conformance::store::{event, write};
use ledger_postgres::testing::{idle_in_transaction, TestDatabase};
use ledger_postgres::{PgEventStore, PgProjectionStore};
use sqlx::PgPool;

/// Runs `inner` for at most `polls` polls, then drops it: `None` if it was cut off.
struct CutOff<F: Future> {
    inner: Pin<Box<F>>,
    polls: usize,
}

impl<F: Future> Future for CutOff<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polls == 0 {
            return Poll::Ready(None);
        }
        self.polls -= 1;
        self.inner.as_mut().poll(cx).map(Some)
    }
}

/// Cuts `work` off after 1, 2, 3... polls until it completes; after each cut, no
/// session may be left in a transaction. Returns how many cuts there were.
async fn cut_everywhere<F, Fut, T>(
    db: &TestDatabase,
    admin: &PgPool,
    what: &str,
    mut work: F,
) -> usize
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    for polls in 1..500 {
        let finished = CutOff {
            inner: Box::pin(work()),
            polls,
        }
        .await;
        // The pool gives a dropped connection back (or closes it) in a task of its own.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let open = idle_in_transaction(admin, db.name()).await;
        assert!(
            open.is_empty(),
            "{what} cut off after {polls} polls: {open:?}"
        );
        if finished.is_some() {
            return polls - 1;
        }
    }
    panic!("{what} never finished");
}

#[tokio::test]
async fn work_cut_off_anywhere_leaves_no_transaction_open() {
    let (db, admin) = TestDatabase::migrated(2).await;
    // One connection: what a cut leaves is what the next piece of work gets.
    let pool = ledger_postgres::pool_with(db.options.clone(), 1);

    let projections = PgProjectionStore::new(pool.clone());
    let cuts = cut_everywhere(&db, &admin, "start_rebuild", || {
        projections.start_rebuild(Projection::CurrentState)
    })
    .await;
    assert!(cuts > 1, "the rebuild's start was cut off {cuts} times");

    let store = PgEventStore::direct(pool.clone());
    let mut n = 0u64;
    let cuts = cut_everywhere(&db, &admin, "a keyed append", || {
        n += 1;
        let request = AppendRequest {
            streams: vec![write(&format!("s-{n}"), 0, vec![event(1)])],
            idempotency: vec![IdempotencyRecord {
                key: format!("key-{n}"),
                fingerprint: "f".into(),
                outcome: "{}".into(),
            }],
        };
        let store = &store;
        async move { store.append(request).await }
    })
    .await;
    assert!(cuts > 1, "the append was cut off {cuts} times");
    // Nothing cut off was half written: each stream holds its one event or none.
    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&admin)
        .await
        .expect("count");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&admin)
        .await
        .expect("count");
    assert_eq!(written, keys, "every event landed with its key");
}
