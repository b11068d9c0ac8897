//! The feed's central promise on PostgreSQL, held without relying on timing: an event
//! whose transaction commits late is never passed over. Transaction A takes its id and
//! inserts an event, B inserts one and commits first; while A runs the feed shows
//! neither (B is behind A's id), and once A commits it shows A's, then B's.

use ledger_application::ports::store::{EventStore, FeedCursor};
use ledger_postgres::testing::TestDatabase;
use ledger_postgres::PgEventStore;
use sqlx::{Executor, PgPool};

const INSERT: &str = "INSERT INTO events (stream_id, stream_type, version, event_id, \
    event_type, schema_version, data, metadata, recorded_at) \
    VALUES ($1, 'account', 1, gen_random_uuid(), 'AccountOpened', 2, '{}', \
    '{\"actor\": \"t\"}', now())";

async fn streams_in_feed(store: &PgEventStore) -> Vec<String> {
    let page = store
        .read_feed(FeedCursor::default(), 100)
        .await
        .expect("feed");
    page.events.into_iter().map(|e| e.stream_id).collect()
}

async fn insert(pool: &PgPool, stream: &str) {
    sqlx::query(INSERT)
        .bind(stream)
        .execute(pool)
        .await
        .expect("insert");
}

#[tokio::test]
async fn an_event_that_commits_late_is_never_passed_over() {
    let (_db, pool) = TestDatabase::migrated(4).await;
    let store = PgEventStore::direct(pool.clone());
    insert(&pool, "before").await;
    let mut a = pool.begin().await.expect("begin");
    a.execute(sqlx::query(INSERT).bind("late"))
        .await
        .expect("insert late");
    insert(&pool, "early").await;
    // Other tests' transactions may hold the feed back for a moment too; A holds it
    // back for as long as it runs, so "early" is never shown before A ends.
    for _ in 0..20 {
        let shown = streams_in_feed(&store).await;
        assert!(
            !shown.iter().any(|s| s == "early" || s == "late"),
            "{shown:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    a.commit().await.expect("commit");
    let mut shown = Vec::new();
    for _ in 0..1000 {
        shown = streams_in_feed(&store).await;
        if shown.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        shown,
        ["before", "late", "early"],
        "commit order by transaction id"
    );
}
