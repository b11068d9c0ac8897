//! The event-store conformance suite: written once, run against every store adapter.
//!
//! Each function takes a fresh, empty store and panics (with a message) when the store
//! breaks the [`EventStore`] contract. Adapters call them from their own tests.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use ledger_application::ports::store::*;

/// A store under test.
pub type Store = Arc<dyn EventStore>;

/// A test event numbered `n` (its data, request id, time and hashes follow from `n`).
pub fn event(n: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "TestEvent".into(),
        schema_version: 1,
        data: format!(r#"{{"n":{n}}}"#),
        metadata: EventMetadata {
            actor: "conformance".into(),
            request_id: Some(format!("req-{n}")),
            causation_id: None,
            correlation_id: None,
        },
        recorded_at: Utc
            .timestamp_opt(1_700_000_000 + n as i64, 0)
            .single()
            .unwrap_or_default(),
        // The store keeps whatever it is given: chaining is the caller's.
        prev_hash: ChainHash([n as u8; 32]),
        hash: ChainHash([n as u8 + 1; 32]),
    }
}

/// `events` appended to `stream` of type `test` after `expected`.
pub fn write(stream: &str, expected: u64, events: Vec<NewEvent>) -> StreamWrite {
    StreamWrite {
        stream_id: stream.into(),
        stream_type: "test".into(),
        expected_version: expected,
        events,
    }
}

pub(crate) fn one(stream: &str, expected: u64, events: Vec<NewEvent>) -> AppendRequest {
    AppendRequest {
        streams: vec![write(stream, expected, events)],
        idempotency: vec![],
    }
}

pub(crate) async fn all(store: &Store, stream: &str) -> Vec<RecordedEvent> {
    store
        .read_stream(StreamQuery {
            stream_id: stream,
            after_version: 0,
            until: None,
            limit: 1_000_000,
        })
        .await
        .expect("read_stream")
}

/// Appended events read back in order, with their data, metadata and versions.
pub async fn append_and_read_back(store: Store) {
    store
        .append(one("s-1", 0, vec![event(1), event(2)]))
        .await
        .expect("first append");
    store
        .append(one("s-1", 2, vec![event(3)]))
        .await
        .expect("second append");
    let read = all(&store, "s-1").await;
    assert_eq!(
        read.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(read[2].data, r#"{"n":3}"#);
    assert_eq!(read[0].metadata.request_id.as_deref(), Some("req-1"));
    assert_eq!(read[0].stream_type, "test");
    assert_eq!(read[1].recorded_at, event(2).recorded_at);
    assert_eq!(
        (read[1].prev_hash, read[1].hash),
        (event(2).prev_hash, event(2).hash),
        "the hashes read back as written"
    );
    let after = store
        .read_stream(StreamQuery {
            stream_id: "s-1",
            after_version: 1,
            until: Some(StreamBound::Version(2)),
            limit: 10,
        })
        .await
        .expect("bounded read");
    assert_eq!(after.iter().map(|e| e.version).collect::<Vec<_>>(), [2]);
    let until_time = store
        .read_stream(StreamQuery {
            stream_id: "s-1",
            after_version: 0,
            until: Some(StreamBound::RecordedAt(event(2).recorded_at)),
            limit: 10,
        })
        .await
        .expect("read until an instant");
    assert_eq!(until_time.len(), 2);
    // A page that reaches past the instant ends there: shorter than its limit, so a
    // reader paging through stops.
    for (after_version, want) in [(1, vec![2]), (2, vec![])] {
        let page = store
            .read_stream(StreamQuery {
                stream_id: "s-1",
                after_version,
                until: Some(StreamBound::RecordedAt(event(2).recorded_at)),
                limit: 2,
            })
            .await
            .expect("a page until an instant");
        assert_eq!(page.iter().map(|e| e.version).collect::<Vec<_>>(), want);
    }
    assert!(all(&store, "missing").await.is_empty());
}

/// An append with a stale expected version is a conflict and writes nothing.
pub async fn stale_expected_version_is_a_conflict(store: Store) {
    store
        .append(one("s", 0, vec![event(1)]))
        .await
        .expect("append");
    let err = store
        .append(one("s", 0, vec![event(2)]))
        .await
        .expect_err("must be refused");
    assert!(matches!(err, AppendError::Conflict { .. }), "got {err:?}");
    let ahead = store
        .append(one("s", 5, vec![event(2)]))
        .await
        .expect_err("must be refused");
    assert!(
        matches!(ahead, AppendError::Conflict { .. }),
        "got {ahead:?}"
    );
    assert_eq!(all(&store, "s").await.len(), 1);
}

/// A two-stream append whose second stream conflicts leaves the first untouched.
pub async fn multi_stream_conflict_writes_nothing(store: Store) {
    store
        .append(one("b", 0, vec![event(1)]))
        .await
        .expect("append");
    let req = AppendRequest {
        streams: vec![write("a", 0, vec![event(2)]), write("b", 0, vec![event(3)])],
        idempotency: vec![],
    };
    let err = store.append(req).await.expect_err("must be refused");
    assert!(matches!(err, AppendError::Conflict { .. }), "got {err:?}");
    assert!(
        all(&store, "a").await.is_empty(),
        "stream a must stay empty"
    );
    let ok = AppendRequest {
        streams: vec![write("a", 0, vec![event(4)]), write("b", 1, vec![event(5)])],
        idempotency: vec![],
    };
    store
        .append(ok)
        .await
        .expect("both streams at their versions");
    assert_eq!(all(&store, "a").await.len(), 1);
    assert_eq!(all(&store, "b").await.len(), 2);
}

/// Same key: the stored record comes back and nothing is written twice.
pub async fn idempotency_records_are_stored_with_the_events(store: Store) {
    let record = IdempotencyRecord {
        key: "actor\u{1f}key-1".into(),
        fingerprint: "fp".into(),
        outcome: r#"{"ok":1}"#.into(),
    };
    let req = AppendRequest {
        streams: vec![write("s", 0, vec![event(1)])],
        idempotency: vec![record.clone()],
    };
    store.append(req).await.expect("append with key");
    assert_eq!(
        store.idempotency_record(&record.key).await.expect("read"),
        Some(record.clone())
    );
    let again = AppendRequest {
        streams: vec![write("s", 1, vec![event(2)])],
        idempotency: vec![IdempotencyRecord {
            fingerprint: "other".into(),
            ..record.clone()
        }],
    };
    match store.append(again).await {
        Err(AppendError::IdempotencyKeyExists(stored)) => assert_eq!(stored, record),
        other => panic!("expected the stored record, got {other:?}"),
    }
    assert_eq!(
        all(&store, "s").await.len(),
        1,
        "the second write must not land"
    );
    assert_eq!(
        store.idempotency_record("absent").await.expect("read"),
        None
    );
    let only_record = AppendRequest {
        streams: vec![],
        idempotency: vec![IdempotencyRecord {
            key: "k2".into(),
            ..record
        }],
    };
    store.append(only_record).await.expect("a record alone");
    // One request holding a key twice (two batched commands of a retrying client):
    // refused whole, with the record, and nothing of it stored.
    let twice = AppendRequest {
        streams: vec![write("s-twice", 0, vec![event(9)])],
        idempotency: vec![
            IdempotencyRecord {
                key: "k3".into(),
                fingerprint: "a".into(),
                outcome: "{}".into(),
            },
            IdempotencyRecord {
                key: "k3".into(),
                fingerprint: "a".into(),
                outcome: "{}".into(),
            },
        ],
    };
    match store.append(twice).await {
        Err(AppendError::IdempotencyKeyExists(stored)) => assert_eq!(stored.key, "k3"),
        other => panic!("a key held twice must be refused, got {other:?}"),
    }
    assert!(all(&store, "s-twice").await.is_empty());
    assert_eq!(store.idempotency_record("k3").await.expect("read"), None);
    assert!(store
        .idempotency_record("k2")
        .await
        .expect("read")
        .is_some());
}

/// A stored schema-version-1 (seed format) stream reads back through the upcasters.
pub async fn seed_format_events_read_back_upcast(store: Store) {
    let v1 = |event_type: &str, data: &str, n: u64| NewEvent {
        event_type: event_type.into(),
        schema_version: 1,
        data: data.into(),
        ..event(n)
    };
    let req = AppendRequest {
        streams: vec![StreamWrite {
            stream_id: "legacy".into(),
            stream_type: "account".into(),
            expected_version: 0,
            events: vec![
                v1(
                    "AccountCreated",
                    r#"{"type":"AccountCreated","aggregate_id":"legacy","version":1,"account_id":"legacy","owner":"Old","currency":"USD"}"#,
                    1,
                ),
                v1(
                    "MoneyDeposited",
                    r#"{"type":"MoneyDeposited","aggregate_id":"legacy","version":2,"account_id":"legacy","amount":0.1,"balance":0.1}"#,
                    2,
                ),
                v1(
                    "MoneyDeposited",
                    r#"{"type":"MoneyDeposited","aggregate_id":"legacy","version":3,"account_id":"legacy","amount":0.2,"balance":0.30000000000000004}"#,
                    3,
                ),
            ],
        }],
        idempotency: vec![],
    };
    store.append(req).await.expect("import v1 events");
    let events = all(&store, "legacy").await;
    let raws = events.iter().map(RecordedEvent::raw);
    let account = ledger_domain::replay(ledger_domain::Account::default(), raws).expect("upcast");
    assert_eq!(account.details().map(|d| d.balance.minor_units()), Some(30));
    // The feed path decodes without the stream folded, fetching context as needed.
    let page = store.read_feed(FeedCursor::START, 10).await.expect("feed");
    let mut decoder = ledger_application::decode::FeedDecoder::default();
    for e in &page.events {
        decoder
            .decode(store.as_ref(), e)
            .await
            .expect("feed events upcast");
    }
}
