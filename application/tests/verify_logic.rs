//! `ledger verify`'s own logic against mocked ports: its read-ahead (the feed read and
//! hashed by stages a page ahead of the checks) ends with the checks, whichever fails
//! first, with a spawner and without one. Nothing waits forever: a run that has not
//! ended after a minute, for work of milliseconds, is taken to wait forever.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledger_application::ports::readmodel::{
    MockProjectionStore, MockReadModels, ProjectionState, ProjectionStatus,
};
use ledger_application::ports::store::{
    FeedCursor, FeedPage, MockEventStore, RecordedEvent, StoreError,
};
use ledger_application::ports::system::Spawner;
use ledger_application::verify::{Verifier, PAGE};
use tokio::task::JoinHandle;

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

/// A feed of full pages of deposits: `pages` of them, then `Unavailable`; with
/// `streams_fail`, every account stream's read fails too. Counts the feed's reads.
fn feed(pages: u64, streams_fail: bool) -> (MockEventStore, Arc<AtomicU64>) {
    let mut store = MockEventStore::new();
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    store.expect_read_feed().returning(move |after, limit| {
        let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
        if n > pages {
            return Err(StoreError::Unavailable("the feed went away".into()));
        }
        let events: Vec<RecordedEvent> = (1..=limit as u64)
            .map(|i| legacy_deposit(after.position + i))
            .collect();
        let next = events.last().map_or(after, |e| e.cursor);
        Ok(FeedPage { events, next })
    });
    store.expect_read_stream().returning(move |q| {
        if streams_fail && q.stream_id != "$seals" {
            return Err(StoreError::Unavailable("the streams went away".into()));
        }
        Ok(Vec::new())
    });
    (store, calls)
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
        public_keys: Vec::new(),
        kept_seal: None,
        spawner,
    }
}

/// Runs the whole feed's check, then waits for every task it spawned: the error it
/// ended with. Fails the test if either never ends.
async fn run(store: MockEventStore, spawned: Option<&Tasks>) -> String {
    let spawner = spawned.map(|tasks| {
        let tasks = tasks.clone();
        Arc::new(move |task| tasks.lock().unwrap().push(tokio::spawn(task))) as Arc<dyn Spawner>
    });
    let verifier = verifier(store, spawner);
    let forever = Duration::from_secs(60);
    let ran = tokio::time::timeout(forever, verifier.run(None, &|_| {})).await;
    let failed = ran.expect("verify ended").expect_err("verify failed");
    let handles: Vec<JoinHandle<()>> = spawned
        .map(|tasks| std::mem::take(&mut *tasks.lock().unwrap()))
        .unwrap_or_default();
    for handle in handles {
        let ended = tokio::time::timeout(forever, handle).await;
        ended
            .expect("the stage ended")
            .expect("the stage did not panic");
    }
    failed.to_string()
}

type Tasks = Arc<Mutex<Vec<JoinHandle<()>>>>;

#[tokio::test]
async fn a_feed_that_fails_midway_is_an_error() {
    for spawned in [None, Some(Tasks::default())] {
        let (store, reads) = feed(3, false);
        let failed = run(store, spawned.as_ref()).await;
        assert!(failed.contains("the feed went away"), "{failed}");
        assert_eq!(reads.load(Ordering::SeqCst), 4, "{spawned:?}");
    }
    assert_eq!(PAGE, 2_000, "the pages above are full");
}

#[tokio::test]
async fn checks_that_fail_first_stop_the_read_ahead() {
    for spawned in [None, Some(Tasks::default())] {
        // The feed would go on for a million pages; the first check fails on its
        // stream. The stages stop within the pages they hold: one being checked, one
        // in each channel, one being hashed, one being read.
        let (store, reads) = feed(1_000_000, true);
        let failed = run(store, spawned.as_ref()).await;
        assert!(failed.contains("the streams went away"), "{failed}");
        let reads = reads.load(Ordering::SeqCst);
        assert!(reads <= 6, "{reads} pages read after the checks failed");
    }
}
