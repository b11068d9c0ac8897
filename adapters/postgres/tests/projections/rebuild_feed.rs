//! A rebuild's index builds leave the feed moving.

use std::time::Duration;

use ledger_application::ports::readmodel::Projection;
use ledger_application::ports::store::{EventStore, FeedCursor};
use ledger_application::projection::ProjectionRunner;

use super::*;

/// The feed shows an event once every transaction older than it has ended, anywhere in
/// the cluster. A plain `CREATE INDEX` holds a transaction id for as long as it builds,
/// so a rebuild's index builds on its copies held back every event committed meanwhile
/// (the live projections, live streams and relay stood still). Here the analytics
/// table gets an index whose key takes 3 s a row, so its copy's build runs for seconds;
/// an event committed once it has begun must be in the feed while it still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_moves_while_a_rebuild_builds_its_indexes() {
    let (_db, pool) = TestDatabase::migrated(20).await;
    let h = suite::Harness {
        store: Arc::new(PgEventStore::new(pool.clone())),
        projections: Arc::new(PgProjectionStore::new(pool.clone())),
        read: Arc::new(PgReadModels::new(pool.clone())),
    };
    suite::workload(&h, 5).await;
    for sql in [
        "CREATE FUNCTION slow_key(text) RETURNS text IMMUTABLE LANGUAGE plpgsql \
         AS $$ BEGIN PERFORM pg_sleep(3); RETURN $1; END $$",
        "CREATE INDEX analytics_slow_idx ON analytics_currency (slow_key(currency))",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    let store = PgEventStore::new(pool.clone());
    let mut end = FeedCursor::default();
    loop {
        let page = store.read_feed(end, 1000).await.expect("feed");
        if page.events.is_empty() {
            break;
        }
        end = page.next;
    }
    let runner = ProjectionRunner::new(h.store.clone(), h.projections.clone(), 100);
    let rebuild =
        tokio::spawn(async move { runner.rebuild_many(&[Projection::Analytics], &|_| {}).await });
    let building = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE query LIKE 'CREATE %INDEX%analytics_slow_idx__rebuild%' \
               AND state = 'active' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&pool)
        .await
        .expect("activity")
            > 0
    };
    while !building().await {
        if rebuild.is_finished() {
            let ended = rebuild.await;
            panic!("the rebuild ended before its build was seen: {ended:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    suite::deposit_one(&h, "acc-0").await;

    // Other tests' transactions hold the feed back for a moment; the build, seconds.
    let seen = loop {
        let page = store.read_feed(end, 1000).await.expect("feed");
        if page.events.iter().any(|e| e.stream_id == "acc-0") {
            break building().await;
        }
        if !building().await {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        seen,
        "the event reached the feed only once the index build ended"
    );
    rebuild.await.expect("task").expect("rebuild");
    let valid: bool = sqlx::query_scalar(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'analytics_slow_idx'::regclass",
    )
    .fetch_one(&pool)
    .await
    .expect("index");
    assert!(valid, "the swapped-in index is valid");
}

/// A rebuild swaps its tables in once they hold every event committed before it
/// began. The feed hides the events of transactions newer than the oldest one still
/// running (in any database of the server), so a rebuild that ended at the first
/// empty page put in tables that lacked them: with the CLI alone, until the service
/// next ran. Here a transaction is held open, then accounts are opened: a rebuild
/// allowed a short wait is swapped in without them once it is over (as before: the
/// live view takes them later); one allowed the default waits until the held
/// transaction ends, a second later, and its tables hold the accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_holds_every_event_committed_before_it_began() {
    let (db, h) = harness().await;
    let pool = sqlx::PgPool::connect(&db.url).await.expect("pool");
    let mut held = pool.begin().await.expect("begin");
    sqlx::query("SELECT txid_current()")
        .execute(&mut *held)
        .await
        .expect("a transaction id");
    suite::workload(&h, 0).await;
    let runner = ProjectionRunner::new(h.store.clone(), h.projections.clone(), 100);

    let short = runner.with_committed_wait(Duration::from_millis(200));
    short
        .rebuild(Projection::CurrentState, &|_| {})
        .await
        .expect("a rebuild past its wait");
    assert_eq!(h.read.account("acc-0").await.expect("read"), None);

    let runner = ProjectionRunner::new(h.store.clone(), h.projections.clone(), 100);
    let ends = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        held.commit().await.expect("commit");
    });
    let read = runner
        .rebuild(Projection::CurrentState, &|_| {})
        .await
        .expect("rebuild");
    ends.await.expect("task");
    // The workload's twelve openings and one closing, read once the held transaction
    // ended: counted too.
    assert_eq!(read, 13);
    for a in 0..12 {
        let account = h.read.account(&format!("acc-{a}")).await.expect("read");
        assert!(
            account.is_some(),
            "acc-{a} is missing from the rebuilt view"
        );
    }
}
