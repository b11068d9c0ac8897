//! Failing ports and refused commands: what reaches the caller, what is written.

use super::*;

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

/// Stream `a` opened, every read's `after_version` kept in `reads`; the first append
/// lands but its answer is lost, the second is answered.
fn first_answer_lost(reads: Arc<Mutex<Vec<u64>>>) -> CommandService {
    let mut store = MockEventStore::new();
    store.expect_read_stream().returning(move |q| {
        reads.lock().unwrap().push(q.after_version);
        Ok(if q.after_version == 0 {
            opened_stream()
        } else {
            vec![]
        })
    });
    store.expect_idempotency_record().returning(|_| Ok(None));
    let mut appends = 0;
    store.expect_append().times(2).returning(move |_| {
        appends += 1;
        match appends {
            1 => Err(AppendError::OutcomeUnknown("connection reset".into())),
            _ => Ok(()),
        }
    });
    cached_service(store)
}

/// After `failed`'s unknown outcome, the next command decides on the store's state
/// (its read starts at the stream's beginning), not on what the cache held before the
/// write that may have landed.
async fn next_reads_the_store(
    service: &CommandService,
    reads: &Mutex<Vec<u64>>,
    failed: CommandError,
) {
    assert!(
        matches!(failed, CommandError::OutcomeUnknown(_)),
        "{failed:?}"
    );
    assert_eq!(failed.code(), "service_unavailable");
    reads.lock().unwrap().clear();
    service
        .act(a(), deposit("1"), &ctx())
        .await
        .expect("written");
    assert_eq!(reads.lock().unwrap().first(), Some(&0), "{reads:?}");
}

#[tokio::test]
async fn a_write_whose_commit_went_unanswered_is_never_retried_nor_called_refused() {
    let reads: Arc<Mutex<Vec<u64>>> = Arc::default();
    let service = first_answer_lost(reads.clone());
    let err = service.act(a(), deposit("1"), &ctx()).await.unwrap_err();
    next_reads_the_store(&service, &reads, err).await;
}

#[tokio::test]
async fn an_atomic_batch_whose_commit_went_unanswered_leaves_no_state_cached() {
    let reads: Arc<Mutex<Vec<u64>>> = Arc::default();
    let service = first_answer_lost(reads.clone());
    let ops = vec![batch::BatchOperation::Act(a(), deposit("2"))];
    let err = service.atomic_batch(ops, &ctx()).await.unwrap_err();
    next_reads_the_store(&service, &reads, err).await;
}
