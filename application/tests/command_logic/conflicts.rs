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
    // Asked once, from the second conflict: this store cannot hold other writers.
    store.expect_hold_appends().times(1).returning(|| Ok(None));
    let err = service(store, no_snapshots(), 0)
        .act(a(), deposit("5"), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err, CommandError::Conflict);
    assert_eq!(err.code(), "concurrency_conflict");
}

/// From the second conflict in a row, a store that can keep other processes from
/// appending is asked to, once, and its hold lasts through the next load and append
/// and ends with the command.
#[tokio::test]
async fn the_second_conflict_decides_again_holding_other_writers_off() {
    use std::sync::atomic::{AtomicBool, Ordering};
    struct Hold(Arc<AtomicBool>);
    impl Drop for Hold {
        fn drop(&mut self) {
            self.0.store(false, Ordering::SeqCst);
        }
    }
    let held = Arc::new(AtomicBool::new(false));
    let mut store = store_with_account();
    let (mut calls, seen) = (0, held.clone());
    store.expect_append().times(3).returning(move |_| {
        calls += 1;
        match calls {
            3 if seen.load(Ordering::SeqCst) => Ok(()),
            3 => panic!("the third attempt was not held"),
            _ => Err(conflict()),
        }
    });
    let hold = held.clone();
    store.expect_hold_appends().times(1).returning(move || {
        hold.store(true, Ordering::SeqCst);
        Ok(Some(Box::new(Hold(hold.clone())) as AppendHold))
    });
    let reply = service(store, no_snapshots(), 0)
        .act(a(), deposit("5"), &ctx())
        .await
        .expect("the held attempt is written");
    assert_eq!(reply.version, 2);
    assert!(
        !held.load(Ordering::SeqCst),
        "the hold outlived its command"
    );
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
