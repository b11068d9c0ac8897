//! The event-store conformance suite, under concurrency: appends racing on the same
//! streams, good and bad appends sharing a group, and a reader tailing the feed while
//! writers append. Same contract as [`crate::store`]: a fresh, empty store each.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ledger_application::ports::store::*;

use crate::store::{all, event, one, write, Store};

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
