//! The command service's own logic, against mocked ports.

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use ledger_application::ports::snapshot::{MockSnapshotStore, SnapshotError};
use ledger_application::ports::store::{
    AppendError, EventStore, FeedCursor, IdempotencyRecord, MockEventStore, RecordedEvent,
    StoreError,
};
use ledger_application::ports::system::{SystemClock, UuidV7Ids};
use ledger_application::repository::Repository;
use ledger_application::*;
use ledger_domain::*;

fn opened_stream() -> Vec<RecordedEvent> {
    let enc = Account::encode(&AccountEvent::Opened {
        account_id: AccountId::parse("a").unwrap(),
        owner: Owner::parse("Ada").unwrap(),
        currency: Currency::parse("USD").unwrap(),
    });
    vec![RecordedEvent {
        cursor: FeedCursor { tx: 1, position: 1 },
        event_id: uuid::Uuid::nil(),
        stream_id: "a".into(),
        stream_type: "account".into(),
        version: 1,
        event_type: enc.event_type.into(),
        schema_version: enc.schema_version,
        data: enc.data,
        metadata: Default::default(),
        recorded_at: Utc.timestamp_opt(0, 0).unwrap(),
        prev_hash: ledger_domain::ChainHash::ZERO,
        hash: ledger_domain::ChainHash([7; 32]),
    }]
}

fn no_snapshots() -> MockSnapshotStore {
    let mut s = MockSnapshotStore::new();
    s.expect_load().returning(|_| Ok(None));
    s.expect_save().returning(|_| Ok(()));
    s
}

fn service(store: MockEventStore, snapshots: MockSnapshotStore, every: u64) -> CommandService {
    let store: Arc<dyn EventStore> = Arc::new(store);
    let repo = Arc::new(Repository::new(store.clone(), Arc::new(snapshots), every));
    CommandService::new(
        store,
        repo,
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        test_spawner(),
        3,
    )
}

/// A store whose stream `a` holds only its opening event.
fn store_with_account() -> MockEventStore {
    let mut store = MockEventStore::new();
    store.expect_read_stream().returning(|q| {
        Ok(if q.after_version == 0 {
            opened_stream()
        } else {
            vec![]
        })
    });
    store.expect_idempotency_record().returning(|_| Ok(None));
    store
}

fn deposit(amount: &str) -> AccountAction {
    AccountAction::Deposit {
        amount: Decimal::parse(amount).unwrap(),
        description: None,
    }
}

fn ctx() -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new("tester", Default::default()),
        ..Default::default()
    }
}

fn a() -> AccountId {
    AccountId::parse("a").unwrap()
}

fn conflict() -> AppendError {
    AppendError::Conflict {
        stream_id: "a".into(),
        expected: 1,
    }
}

#[tokio::test]
async fn a_conflicting_append_is_retried_after_reloading() {
    let mut store = store_with_account();
    let mut calls = 0;
    store.expect_append().times(2).returning(move |_| {
        calls += 1;
        if calls == 1 {
            Err(conflict())
        } else {
            Ok(())
        }
    });
    let reply = service(store, no_snapshots(), 0)
        .act(a(), deposit("5"), &ctx())
        .await
        .expect("the retry succeeds");
    assert_eq!(reply.balance.to_string(), "5.00");
    assert_eq!(reply.version, 2);
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_a_conflict_error() {
    let mut store = store_with_account();
    store
        .expect_append()
        .times(3)
        .returning(|_| Err(conflict()));
    let err = service(store, no_snapshots(), 0)
        .act(a(), deposit("5"), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err, CommandError::Conflict);
    assert_eq!(err.code(), "concurrency_conflict");
}

/// After a conflict the account is reloaded from the store: another writer has taken it
/// to version 2, so an `If-Match: "1"` that held before the conflict no longer does.
#[tokio::test]
async fn an_if_match_that_a_concurrent_write_broke_is_a_version_mismatch() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let moved = Arc::new(AtomicBool::new(false));
    let mut store = MockEventStore::new();
    let seen = moved.clone();
    store.expect_read_stream().returning(move |q| {
        let mut events = opened_stream();
        if seen.load(Ordering::SeqCst) {
            let enc = Account::encode(&AccountEvent::Deposited {
                account_id: a(),
                amount: Money::from_minor(100, Currency::parse("USD").unwrap()),
                balance: Money::from_minor(100, Currency::parse("USD").unwrap()),
                description: None,
            });
            let mut second = events[0].clone();
            second.version = 2;
            second.event_type = enc.event_type.into();
            second.data = enc.data;
            events.push(second);
        }
        Ok(events
            .into_iter()
            .filter(|e| e.version > q.after_version)
            .collect())
    });
    store.expect_idempotency_record().returning(|_| Ok(None));
    let writer = moved.clone();
    store.expect_append().times(1).returning(move |_| {
        writer.store(true, Ordering::SeqCst);
        Err(conflict())
    });
    let ctx = CommandContext {
        if_match: Some(IfMatch::Versions(vec![1])),
        ..ctx()
    };
    let err = service(store, no_snapshots(), 0)
        .act(a(), deposit("5"), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err, CommandError::VersionMismatch { actual: 2 });
}

#[tokio::test]
async fn the_events_and_the_idempotency_record_go_in_one_append() {
    let mut store = store_with_account();
    store
        .expect_append()
        .withf(|req| {
            req.streams.len() == 1
                && req.streams[0].expected_version == 1
                && req.streams[0].events[0].metadata.actor == "tester"
                && req.streams[0].events[0].metadata.request_id.as_deref() == Some("req-1")
                && req.idempotency.len() == 1
                && req.idempotency[0].key.ends_with("key-1")
        })
        .times(1)
        .returning(|_| Ok(()));
    let ctx = CommandContext {
        idempotency_key: Some("key-1".into()),
        request_id: Some("req-1".into()),
        ..ctx()
    };
    service(store, no_snapshots(), 0)
        .act(a(), deposit("5"), &ctx)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stored_key_with_another_request_is_refused_without_writing() {
    let mut store = MockEventStore::new();
    store.expect_idempotency_record().returning(|key| {
        Ok(Some(IdempotencyRecord {
            key: key.to_owned(),
            fingerprint: "another request".into(),
            outcome: "{}".into(),
        }))
    });
    store.expect_append().never();
    store.expect_read_stream().never();
    let ctx = CommandContext {
        idempotency_key: Some("k".into()),
        ..ctx()
    };
    let err = service(store, no_snapshots(), 0)
        .act(a(), deposit("5"), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err, CommandError::IdempotencyKeyReused);
}

#[tokio::test]
async fn losing_the_race_for_a_key_returns_the_winners_outcome() {
    let mut store = store_with_account();
    let winner = Arc::new(Mutex::new(None::<IdempotencyRecord>));
    let seen = winner.clone();
    store.expect_append().times(1).returning(move |req| {
        // The winner had the same request but stored a refusal.
        let mut record = req.idempotency[0].clone();
        record.outcome = r#"{"refused":{"code":"insufficient_funds","detail":"stored"}}"#.into();
        *seen.lock().unwrap() = Some(record.clone());
        Err(AppendError::IdempotencyKeyExists(record))
    });
    let ctx = CommandContext {
        idempotency_key: Some("k".into()),
        ..ctx()
    };
    let err = service(store, no_snapshots(), 0)
        .act(a(), deposit("5"), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insufficient_funds");
    assert!(winner.lock().unwrap().is_some());
}

#[tokio::test]
async fn snapshot_store_errors_never_fail_a_command() {
    let mut store = store_with_account();
    store.expect_append().returning(|_| Ok(()));
    let mut snapshots = MockSnapshotStore::new();
    snapshots
        .expect_load()
        .returning(|_| Err(SnapshotError::Unavailable("down".into())));
    snapshots
        .expect_save()
        .times(1)
        .returning(|_| Err(SnapshotError::Unavailable("down".into())));
    let reply = service(store, snapshots, 1)
        .act(a(), deposit("1.25"), &ctx())
        .await
        .expect("still succeeds");
    assert_eq!(reply.balance.to_string(), "1.25");
}

#[tokio::test]
async fn an_unreachable_store_is_reported_as_unavailable() {
    let mut store = MockEventStore::new();
    store.expect_idempotency_record().returning(|_| Ok(None));
    store
        .expect_read_stream()
        .returning(|_| Err(StoreError::Unavailable("connection refused".into())));
    let err = service(store, no_snapshots(), 0)
        .act(a(), deposit("1"), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "service_unavailable");
}

#[tokio::test]
async fn a_domain_refusal_writes_no_events() {
    let mut store = store_with_account();
    store.expect_append().never();
    let action = AccountAction::Withdraw {
        amount: Decimal::parse("1").unwrap(),
        description: None,
    };
    let err = service(store, no_snapshots(), 0)
        .act(a(), action, &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insufficient_funds");
}

#[tokio::test]
async fn a_stream_with_a_hole_is_never_folded() {
    let mut store = MockEventStore::new();
    store.expect_read_stream().returning(|q| {
        let mut events = opened_stream();
        let mut deposit = events[0].clone();
        deposit.version = 3; // version 2 is missing
        events.push(deposit);
        Ok(if q.after_version == 0 { events } else { vec![] })
    });
    store.expect_idempotency_record().returning(|_| Ok(None));
    store.expect_append().never();
    let err = service(store, no_snapshots(), 0)
        .act(a(), deposit("5"), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CommandError::Internal(m) if m.contains("jumps from version 1 to 3")),
        "{err:?}"
    );
}

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}

/// New events chain to the stream's head as loaded: the first one's `prev_hash` is the
/// stored event's `hash`, each hash is the one its fields give, and the next command
/// (from the cache) chains to the previous command's last event.
#[tokio::test]
async fn new_events_chain_to_the_loaded_head() {
    let mut store = store_with_account();
    let written = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = written.clone();
    store.expect_append().times(2).returning(move |request| {
        sink.lock()
            .unwrap()
            .extend(request.streams[0].events.clone());
        Ok(())
    });
    let store: Arc<dyn EventStore> = Arc::new(store);
    let repo = Repository::new(store.clone(), Arc::new(no_snapshots()), 0).with_cache(10);
    let service = CommandService::new(
        store,
        Arc::new(repo),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        test_spawner(),
        3,
    );
    service.act(a(), deposit("5"), &ctx()).await.expect("first");
    service
        .act(a(), deposit("6"), &ctx())
        .await
        .expect("second");
    let events = written.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].prev_hash, ledger_domain::ChainHash([7; 32]));
    assert_eq!(events[1].prev_hash, events[0].hash);
    for (e, version) in events.iter().zip(2..) {
        let as_stored = RecordedEvent {
            cursor: FeedCursor::START,
            event_id: e.event_id,
            stream_id: "a".into(),
            stream_type: "account".into(),
            version,
            event_type: e.event_type.clone(),
            schema_version: e.schema_version,
            data: e.data.clone(),
            metadata: e.metadata.clone(),
            recorded_at: e.recorded_at,
            prev_hash: e.prev_hash,
            hash: e.hash,
        };
        assert_eq!(as_stored.computed_hash(e.prev_hash), e.hash);
    }
}

/// A stream whose last event has no hash (written by an older version after the
/// upgrade) is not extended: chaining to zeros would break the chain for good.
#[tokio::test]
async fn a_stream_without_hashes_is_not_extended() {
    let mut store = MockEventStore::new();
    store.expect_read_stream().returning(|q| {
        Ok(if q.after_version == 0 {
            let mut events = opened_stream();
            events[0].hash = ledger_domain::ChainHash::ZERO;
            events
        } else {
            vec![]
        })
    });
    store.expect_idempotency_record().returning(|_| Ok(None));
    store.expect_append().times(0);
    let err = service(store, no_snapshots(), 0)
        .act(a(), deposit("5"), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "internal", "{err:?}");
}
