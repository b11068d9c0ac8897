//! The hash chain: new events extend the head as loaded, never a stream without hashes.

use super::*;

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
