//! The event-store conformance suite: written once, run against every store adapter.
//!
//! Each function takes a fresh, empty store and panics (with a message) when the store
//! breaks the [`EventStore`] contract. Adapters call them from their own tests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use ledger_application::ports::store::*;

/// A store under test.
pub type Store = Arc<dyn EventStore>;

fn event(n: u64) -> NewEvent {
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

fn write(stream: &str, expected: u64, events: Vec<NewEvent>) -> StreamWrite {
    StreamWrite {
        stream_id: stream.into(),
        stream_type: "test".into(),
        expected_version: expected,
        events,
    }
}

fn one(stream: &str, expected: u64, events: Vec<NewEvent>) -> AppendRequest {
    AppendRequest {
        streams: vec![write(stream, expected, events)],
        idempotency: vec![],
    }
}

async fn all(store: &Store, stream: &str) -> Vec<RecordedEvent> {
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

/// 16 tasks x 200 appends over 20 streams: no lost or duplicated versions.
pub async fn concurrent_appends_keep_streams_contiguous(store: Store) {
    const TASKS: u64 = 16;
    const PER_TASK: u64 = 200;
    const STREAMS: u64 = 20;
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut known: HashMap<String, u64> = HashMap::new();
            let mut conflicts = 0u64;
            for i in 0..PER_TASK {
                let stream = format!("c-{}", (t * 7 + i * 3) % STREAMS);
                loop {
                    let expected = *known.get(&stream).unwrap_or(&0);
                    match store.append(one(&stream, expected, vec![event(i)])).await {
                        Ok(()) => {
                            known.insert(stream.clone(), expected + 1);
                            break;
                        }
                        Err(AppendError::Conflict { .. }) => {
                            conflicts += 1;
                            let page = store
                                .read_stream(StreamQuery {
                                    stream_id: &stream,
                                    after_version: expected,
                                    until: None,
                                    limit: 100_000,
                                })
                                .await
                                .expect("refresh");
                            let last = page.last().map_or(expected, |e| e.version);
                            known.insert(stream.clone(), last);
                        }
                        Err(e) => panic!("append failed: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let mut total = 0;
    let mut ids = HashSet::new();
    for s in 0..STREAMS {
        let events = all(&store, &format!("c-{s}")).await;
        for (i, e) in events.iter().enumerate() {
            assert_eq!(
                e.version,
                i as u64 + 1,
                "stream c-{s} versions must be contiguous"
            );
            assert!(ids.insert(e.event_id), "event id duplicated");
        }
        total += events.len() as u64;
    }
    assert_eq!(
        total,
        TASKS * PER_TASK,
        "every successful append is stored once"
    );
}

/// Many appends at once, good and bad mixed (as a group-committing store puts them in
/// one group): each gets exactly the answer it would have had alone, and only the good
/// ones are stored. Returns the stream ids whose appends had to succeed.
pub async fn concurrent_mixed_appends_each_get_their_own_answer(store: Store) -> Vec<String> {
    // Streams that already have one event.
    for i in 0..16 {
        store
            .append(one(&format!("m-old-{i}"), 0, vec![event(0)]))
            .await
            .expect("seed");
    }
    let key = |k: &str| IdempotencyRecord {
        key: k.into(),
        fingerprint: "fp".into(),
        outcome: "{}".into(),
    };
    store
        .append(AppendRequest {
            streams: vec![],
            idempotency: vec![key("m-taken")],
        })
        .await
        .expect("seed key");
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Want {
        Ok,
        Conflict,
        KeyExists,
    }
    let mut cases: Vec<(AppendRequest, Want)> = Vec::new();
    for i in 0..16 {
        // Good: a new stream, two events, with a fresh key on every other one.
        cases.push((
            AppendRequest {
                streams: vec![write(&format!("m-new-{i}"), 0, vec![event(1), event(2)])],
                idempotency: if i % 2 == 0 {
                    vec![key(&format!("m-key-{i}"))]
                } else {
                    vec![]
                },
            },
            Want::Ok,
        ));
        // Good: the next event of an existing stream.
        let old = format!("m-old-{i}");
        let (stale, ahead) = if i % 2 == 0 { (0, 5) } else { (0, 2) };
        match i % 4 {
            0 | 1 => cases.push((one(&old, 1, vec![event(3)]), Want::Ok)),
            2 => cases.push((one(&old, stale, vec![event(3)]), Want::Conflict)),
            _ => cases.push((one(&old, ahead, vec![event(3)]), Want::Conflict)),
        }
        // Two streams, one of them stale: neither may land.
        cases.push((
            AppendRequest {
                streams: vec![
                    write(&format!("m-pair-{i}"), 0, vec![event(4)]),
                    write(&format!("m-old-{}", (i + 1) % 16), 7, vec![event(5)]),
                ],
                idempotency: vec![],
            },
            Want::Conflict,
        ));
        // A key already stored: nothing of it may land.
        if i % 4 == 0 {
            cases.push((
                AppendRequest {
                    streams: vec![write(&format!("m-keyed-{i}"), 0, vec![event(6)])],
                    idempotency: vec![key("m-taken")],
                },
                Want::KeyExists,
            ));
        }
    }
    let start = Arc::new(tokio::sync::Barrier::new(cases.len()));
    let mut handles = Vec::new();
    for (request, want) in cases {
        let (store, start) = (store.clone(), start.clone());
        handles.push(tokio::spawn(async move {
            start.wait().await;
            let got = store.append(request.clone()).await;
            (request, want, got)
        }));
    }
    let mut must_exist = Vec::new();
    for h in handles {
        let (request, want, got) = h.await.expect("task");
        match (want, &got) {
            (Want::Ok, Ok(())) => {
                for w in &request.streams {
                    must_exist.push(w.stream_id.clone());
                }
            }
            (Want::Conflict, Err(AppendError::Conflict { .. })) => {}
            (Want::KeyExists, Err(AppendError::IdempotencyKeyExists(stored))) => {
                assert_eq!(stored.key, "m-taken")
            }
            _ => panic!("{request:?}: wanted {want:?}, got {got:?}"),
        }
    }
    for i in 0..16 {
        let new = all(&store, &format!("m-new-{i}")).await;
        assert_eq!(new.len(), 2, "m-new-{i} holds its two events");
        let old = all(&store, &format!("m-old-{i}")).await;
        let want = if i % 4 < 2 { 2 } else { 1 };
        assert_eq!(old.len(), want, "m-old-{i}: only a good append lands");
        assert!(all(&store, &format!("m-pair-{i}")).await.is_empty());
        assert!(all(&store, &format!("m-keyed-{i}")).await.is_empty());
        let keyed = store
            .idempotency_record(&format!("m-key-{i}"))
            .await
            .expect("read key");
        assert_eq!(
            keyed.is_some(),
            i % 2 == 0,
            "m-key-{i} stored with its events"
        );
    }
    must_exist
}

/// A reader tailing the feed while 8 writers append sees each event exactly once,
/// every stream in version order.
pub async fn feed_tail_sees_every_event_once(store: Store) {
    assert_eq!(
        store.feed_end().await.expect("feed_end"),
        FeedCursor::START,
        "an empty store's feed ends at its start"
    );
    const WRITERS: u64 = 8;
    const PER_WRITER: u64 = 150;
    let mut handles = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                let stream = format!("f-{w}");
                let batch = if i % 10 == 0 {
                    vec![event(i), event(i)]
                } else {
                    vec![event(i)]
                };
                let expected = all(&store, &stream).await.len() as u64;
                store
                    .append(one(&stream, expected, batch))
                    .await
                    .expect("own stream");
                if i % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    let expected_total = WRITERS * (PER_WRITER + PER_WRITER.div_ceil(10));
    let mut seen = HashSet::new();
    let mut last_version: HashMap<String, u64> = HashMap::new();
    let mut cursor = FeedCursor::START;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while (seen.len() as u64) < expected_total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tail never caught up: {} of {expected_total}",
            seen.len()
        );
        let page = store.read_feed(cursor, 37).await.expect("read_feed");
        for e in &page.events {
            assert!(e.cursor > cursor, "feed went backwards");
            assert!(seen.insert(e.event_id), "event {} seen twice", e.event_id);
            let prev = last_version
                .insert(e.stream_id.clone(), e.version)
                .unwrap_or(0);
            assert_eq!(
                e.version,
                prev + 1,
                "stream {} out of order or skipped",
                e.stream_id
            );
            cursor = e.cursor;
        }
        assert_eq!(page.next, cursor, "next must be the last event's cursor");
        if page.events.is_empty() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    for h in handles {
        h.await.expect("writer");
    }
    let rest = store.read_feed(cursor, 1000).await.expect("read_feed");
    assert!(rest.events.is_empty(), "events beyond the expected total");
    // The end of the feed is the last event a tail reaches.
    assert_eq!(store.feed_end().await.expect("feed_end"), cursor);
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
