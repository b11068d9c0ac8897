//! A server that refuses connections makes the store unavailable (503 over HTTP), never
//! a failure (500): a database that accepts no connections now, or that does not exist.
//! Found by black-box testing (`ALTER DATABASE ... ALLOW_CONNECTIONS false` answered 500
//! on every read).

use std::str::FromStr;

use ledger_application::ports::store::{EventStore, RecordedEvent, StoreError, StreamQuery};
use ledger_postgres::testing::{admin_url, TestDatabase};
use ledger_postgres::PgEventStore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

fn store_on(url: &str) -> PgEventStore {
    let options = PgConnectOptions::from_str(url).unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_lazy_with(options);
    PgEventStore::new(pool)
}

async fn read(store: &PgEventStore) -> Result<Vec<RecordedEvent>, StoreError> {
    store
        .read_stream(StreamQuery {
            stream_id: "a",
            after_version: 0,
            limit: 10,
            until: None,
        })
        .await
}

#[tokio::test]
async fn a_database_that_refuses_connections_is_unavailable() {
    let (db, _pool) = TestDatabase::migrated(2).await;
    let store = store_on(&db.url);
    // The server's own database: a database cannot refuse its own session.
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_url())
        .await
        .unwrap();
    read(&store).await.expect("readable at first");
    let name = db.name().to_owned();
    let set = |allow: bool| format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allow}");
    sqlx::query(&set(false)).execute(&admin).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&admin)
        .await
        .unwrap();
    let refused = read(&store).await;
    sqlx::query(&set(true)).execute(&admin).await.unwrap();
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    let gone = store_on(&format!("{}_never_made", db.url));
    let missing = read(&gone).await;
    assert!(
        matches!(missing, Err(StoreError::Unavailable(_))),
        "{missing:?}"
    );
}
