//! Events restored from another cluster (a `pg_dump` of a cluster whose transaction ids
//! ran ahead of this one's): the feed would hide them until this cluster's ids pass
//! theirs, and the events written meanwhile would come before them in it, so the read
//! models, live streams and relay missed those for good (found by black-box testing of
//! backups and restores). The service refuses to start on them, naming both ids.

use ledger_application::ports::store::EventStore;
use ledger_conformance::store::{event, write};
use ledger_postgres::testing::TestDatabase;
use ledger_postgres::{ids_ahead_of_cluster, PgEventStore};

#[tokio::test]
async fn events_from_a_cluster_ahead_of_this_one_are_found() {
    let (_db, pool) = TestDatabase::migrated(2).await;
    assert_eq!(ids_ahead_of_cluster(&pool).await.expect("empty"), None);
    let store = PgEventStore::new(pool.clone());
    let one = ledger_application::ports::store::AppendRequest {
        streams: vec![write("s", 0, vec![event(1)])],
        idempotency: vec![],
    };
    store.append(one).await.expect("append");
    assert_eq!(ids_ahead_of_cluster(&pool).await.expect("ours"), None);

    // The same event as another cluster wrote it, at a transaction id far ahead.
    let ahead: i64 = 1 << 40;
    sqlx::query(
        "INSERT INTO events (tx_id, stream_id, stream_type, version, event_id, event_type, \
                             schema_version, data, metadata, recorded_at, prev_hash, hash) \
         SELECT $1, stream_id, stream_type, 2, gen_random_uuid(), event_type, \
                schema_version, data, metadata, recorded_at, hash, hash FROM events",
    )
    .bind(ahead)
    .execute(&pool)
    .await
    .expect("a restored row");
    let found = ids_ahead_of_cluster(&pool).await.expect("restored");
    let Some((highest, next)) = found else {
        panic!("events from a cluster ahead were not found");
    };
    assert_eq!(highest, ahead);
    assert!(next < ahead, "{next}");
}
