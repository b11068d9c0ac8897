//! Idempotency keys: stored in the same append as the events, replayed, raced.

use super::*;

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

fn op() -> batch::BatchOperation {
    batch::BatchOperation::Act(a(), deposit("5"))
}

/// A non-atomic batch runs its operations under keys no client can send (U+001F before
/// the index), so a deposit sent with `k#0` is never taken for the batch `k`'s first
/// operation. A batch first sent to an earlier version, which stored its operations
/// under `<key>#<index>` (its record's fingerprint says so), is retried under those
/// keys; and an earlier version, finding this version's record, refuses the key (its
/// fingerprint differs), so a retry during a rolling upgrade never runs a batch twice.
#[tokio::test]
async fn a_non_atomic_batch_runs_its_operations_under_keys_no_client_sends() {
    assert_ne!(
        batch::non_atomic_fingerprint(false, &[(0, op())], &[]),
        batch::non_atomic_fingerprint(true, &[(0, op())], &[]),
        "an earlier version must not take this version's record for its own"
    );
    for (first_sent_before, operation_key) in
        [(false, "tester\u{1f}k\u{1f}0"), (true, "tester\u{1f}k#0")]
    {
        let mut store = store_with_account();
        let keys = Arc::new(Mutex::new(Vec::new()));
        let seen = keys.clone();
        store.expect_append().returning(move |req| {
            let record = req.idempotency[0].clone();
            seen.lock().unwrap().push(record.key.clone());
            if req.streams.is_empty() && first_sent_before {
                // As the earlier version wrote it.
                return Err(AppendError::IdempotencyKeyExists(IdempotencyRecord {
                    fingerprint: batch::non_atomic_fingerprint(true, &[(0, op())], &[]),
                    outcome: r#"{"ok":"non-atomic batch: each operation under <key>#<index>"}"#
                        .into(),
                    ..record
                }));
            }
            Ok(())
        });
        let ctx = CommandContext {
            idempotency_key: Some("k".into()),
            ..ctx()
        };
        let results = service(store, no_snapshots(), 0)
            .batch(vec![(0, op())], &[], &ctx)
            .await
            .unwrap();
        assert!(results[0].is_ok(), "{results:?}");
        assert_eq!(
            *keys.lock().unwrap(),
            ["tester\u{1f}k", operation_key],
            "first sent before: {first_sent_before}"
        );
    }
}

/// An operation that writes no events (a rebuild's start) stores its first reply under
/// the caller's key: a retry of the same request reads it back, another request under
/// the key is refused, and without a key nothing is stored.
#[tokio::test]
async fn a_remembered_reply_is_read_back_under_its_key() {
    let stored = Arc::new(Mutex::new(None::<IdempotencyRecord>));
    let mut store = MockEventStore::new();
    let write = stored.clone();
    store.expect_append().times(1).returning(move |req| {
        assert!(req.streams.is_empty(), "no events");
        *write.lock().unwrap() = req.idempotency.first().cloned();
        Ok(())
    });
    let read = stored.clone();
    store
        .expect_idempotency_record()
        .returning(move |key| Ok(read.lock().unwrap().clone().filter(|r| r.key == key)));
    let svc = service(store, no_snapshots(), 0);
    let keyed = CommandContext {
        idempotency_key: Some("k".into()),
        ..ctx()
    };
    let all = ["rebuild", "all"];
    let first = svc.remembered_reply::<String>(&keyed, &all).await;
    assert_eq!(first, Ok(None));
    let reply = svc.remember_reply(&keyed, &all, "started".to_owned()).await;
    assert_eq!(reply, Ok("started".to_owned()));
    let again = svc.remembered_reply::<String>(&keyed, &all).await;
    assert_eq!(again, Ok(Some("started".to_owned())));
    let other = svc
        .remembered_reply::<String>(&keyed, &["rebuild", "audit_log"])
        .await;
    assert_eq!(other, Err(CommandError::IdempotencyKeyReused));
    // Without a key: answered, not stored (the one append above is all there is).
    let unkeyed = svc.remember_reply(&ctx(), &all, "again".to_owned()).await;
    assert_eq!(unkeyed, Ok("again".to_owned()));
}
