//! Group commit on SQLite: concurrent appends sharing transactions still get each their
//! own answer, whether the group is judged at once or (one key twice in it) append by
//! append.

use std::sync::Arc;

use ledger_application::ports::store::{AppendError, EventStore, StreamQuery};

mod common;
use common::request;

async fn events_of(store: &ledger_sqlite::SqliteEventStore, stream: &str) -> usize {
    let q = StreamQuery {
        stream_id: stream,
        after_version: 0,
        until: None,
        limit: 100,
    };
    store.read_stream(q).await.expect("read").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_with_shared_keys_and_stale_versions_each_get_their_answer() {
    let dir = std::env::temp_dir().join(format!("ledger-sqlite-gc-{}", uuid::Uuid::new_v4()));
    let store = ledger_sqlite::open(&format!("sqlite://{}/l.db", dir.display()))
        .await
        .expect("open");
    let store = Arc::new(store);
    for round in 0..20 {
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = store.clone();
            // Pairs share a key (one of each pair wins), every fourth is stale.
            let key = format!("k-{round}-{}", i / 2);
            let stream = format!("s-{round}-{i}");
            let expected = if i % 4 == 3 { 5 } else { 0 };
            tasks.push(tokio::spawn(async move {
                let r = store.append(request(&stream, expected, Some(&key))).await;
                (i, stream, r)
            }));
        }
        let mut won = std::collections::HashMap::new();
        for t in tasks {
            let (i, stream, r) = t.await.expect("task");
            let written = events_of(&store, &stream).await;
            match r {
                Ok(()) => {
                    assert_eq!(written, 1, "{stream}: an accepted append is written");
                    assert!(won.insert(i / 2, stream).is_none(), "one winner per key");
                }
                Err(AppendError::IdempotencyKeyExists(rec)) => {
                    assert_eq!(written, 0, "{stream}: a refused append writes nothing");
                    assert_ne!(rec.outcome, format!("{{\"by\":\"{stream}\"}}"));
                }
                Err(AppendError::Conflict { stream_id, .. }) => {
                    assert_eq!(stream_id, stream);
                    assert_eq!(i % 4, 3, "only stale appends conflict");
                    assert_eq!(written, 0);
                }
                Err(other) => panic!("{stream}: {other:?}"),
            }
        }
        // A key whose first claimant was stale may have no winner; no key has two.
        assert!(won.len() <= 8);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
