//! A lost race for a stream: the command reloads and retries, a bounded number of times.

use super::*;

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
