//! `ledger verify`'s own logic against mocked ports: its read-ahead (the feed read and
//! hashed by stages a page ahead of the checks) ends with the checks, whichever fails
//! first, with a spawner and without one; nothing waits forever (a run that has not
//! ended after a minute, for work of microseconds, is taken to wait forever).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledger_application::ports::readmodel::{
    MockProjectionStore, MockReadModels, ProjectionState, ProjectionStatus,
};
use ledger_application::ports::store::{
    FeedCursor, FeedPage, MockEventStore, RecordedEvent, StoreError,
};
use ledger_application::ports::system::Spawner;
use ledger_application::verify::Verifier;

/// A seed-format deposit (schema version 1, no currency): decoding it reads its
/// stream's opening event from the store.
fn legacy_deposit(n: u64) -> RecordedEvent {
    RecordedEvent {
        cursor: FeedCursor { tx: n, position: n },
        event_id: uuid::Uuid::nil(),
        stream_id: format!("legacy-{n}"),
        stream_type: "account".into(),
        version: 1,
        event_type: "MoneyDeposited".into(),
        schema_version: 1,
        data: r#"{"account_id":"legacy","amount":0.1,"balance":0.1}"#.into(),
        metadata: Default::default(),
        recorded_at: chrono::Utc::now(),
        prev_hash: Default::default(),
        hash: Default::default(),
    }
}

/// A feed whose page `n` (from 1) holds one deposit: up to `pages` pages, then
/// `Unavailable`; with `streams_fail`, each stream's read fails too.
fn feed(pages: u64, streams_fail: bool) -> MockEventStore {
    let mut store = MockEventStore::new();
    let calls = Arc::new(AtomicU64::new(0));
    store.expect_read_feed().returning(move |_, _| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n > pages {
            return Err(StoreError::Unavailable("the feed went away".into()));
        }
        let e = legacy_deposit(n);
        let next = e.cursor;
        Ok(FeedPage {
            events: vec![e],
            next,
        })
    });
    store.expect_read_stream().returning(move |q| {
        if streams_fail && q.stream_id != "$seals" {
            return Err(StoreError::Unavailable("the streams went away".into()));
        }
        Ok(Vec::new())
    });
    store
}

fn verifier(store: MockEventStore, spawner: Option<Arc<dyn Spawner>>) -> Verifier {
    let mut checkpoints = MockProjectionStore::new();
    checkpoints.expect_statuses().returning(|| {
        Ok(vec![ProjectionStatus {
            name: "current_state".into(),
            state: ProjectionState::Live,
            position: FeedCursor {
                tx: u64::MAX,
                position: u64::MAX,
            },
            last_error: None,
        }])
    });
    Verifier {
        store: Arc::new(store),
        models: Arc::new(MockReadModels::new()),
        checkpoints: Arc::new(checkpoints),
        public_key: None,
        spawner,
    }
}

/// Runs the whole feed's check, failing the test if it never ends.
async fn run(verifier: Verifier) -> Result<ledger_application::verify::Report, String> {
    let ran = tokio::time::timeout(Duration::from_secs(60), verifier.run(None, &|_| {}));
    let outcome = ran.await.expect("verify ended instead of waiting forever");
    outcome.map_err(|e| e.to_string())
}

fn spawners() -> [Option<Arc<dyn Spawner>>; 2] {
    let spawn: Arc<dyn Spawner> = Arc::new(|task| {
        tokio::spawn(task);
    });
    [None, Some(spawn)]
}

#[tokio::test]
async fn a_feed_that_fails_midway_is_an_error() {
    for spawner in spawners() {
        let with_spawner = spawner.is_some();
        let failed = run(verifier(feed(3, false), spawner))
            .await
            .expect_err("the feed failed");
        assert!(
            failed.contains("the feed went away"),
            "{failed} (spawner: {with_spawner})"
        );
    }
}

#[tokio::test]
async fn checks_that_fail_first_stop_the_read_ahead() {
    for spawner in spawners() {
        let with_spawner = spawner.is_some();
        // The feed would go on for a long time; the first check fails on its stream.
        let failed = run(verifier(feed(1_000_000, true), spawner))
            .await
            .expect_err("the stream read failed");
        assert!(
            failed.contains("the streams went away"),
            "{failed} (spawner: {with_spawner})"
        );
    }
}
