//! A stream read is bounded by version on PostgreSQL (a planner fix): a page whose last
//! version was deleted by hand (the immutability trigger set aside) ended there, as if
//! the stream did, so a command decided on a cut-short state and its append filled
//! the hole. The page now shows the jump to the next version, which readers refuse to
//! fold past.

use ledger_application::ports::store::{AppendRequest, EventStore, StreamQuery};
use ledger_conformance::store::{event, write};
use ledger_postgres::testing::TestDatabase;
use ledger_postgres::PgEventStore;

#[tokio::test]
async fn a_page_cut_short_by_a_missing_version_shows_the_jump() {
    let (_db, pool) = TestDatabase::migrated(2).await;
    let store = PgEventStore::new(pool.clone());
    let events = (1..=25).map(event).collect();
    store
        .append(AppendRequest {
            streams: vec![write("s", 0, events)],
            idempotency: vec![],
        })
        .await
        .expect("append");
    let versions = |after_version| {
        let store = &store;
        async move {
            let query = StreamQuery {
                stream_id: "s",
                after_version,
                until: None,
                limit: 10,
            };
            let page = store.read_stream(query).await.expect("read");
            page.iter().map(|e| e.version).collect::<Vec<_>>()
        }
    };
    assert_eq!(versions(0).await, (1..=10).collect::<Vec<_>>());
    assert_eq!(versions(20).await, (21..=25).collect::<Vec<_>>());
    sqlx::raw_sql(
        "ALTER TABLE events DISABLE TRIGGER USER; \
         DELETE FROM events WHERE stream_id = 's' AND version IN (10, 25); \
         ALTER TABLE events ENABLE TRIGGER USER",
    )
    .execute(&pool)
    .await
    .expect("delete by hand");
    let mut with_jump: Vec<u64> = (1..=9).collect();
    with_jump.push(11);
    assert_eq!(versions(0).await, with_jump);
    // The stream's own end is still its end.
    assert_eq!(versions(20).await, (21..=24).collect::<Vec<_>>());
}
