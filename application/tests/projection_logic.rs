//! The projection runner's own logic, with mock stores: what it records when a batch
//! cannot be applied, and when it tries one again.

use std::sync::Arc;

use ledger_application::ports::readmodel::{
    Generation, Projection, ProjectionState, ProjectionStatus, PROJECTIONS,
};
use ledger_application::ports::readmodel::{MockProjectionStore, ReadModelError};
use ledger_application::ports::store::StoreError;
use ledger_application::ports::store::{FeedCursor, FeedPage, MockEventStore};
use ledger_application::projection::{ProjectionError, ProjectionReport};
use ledger_application::projection::{ProjectionRunner, Step, STORE_FAILURE_TRIES};

/// A feed of one page: an account's opening event.
fn feed_with_one_event() -> MockEventStore {
    let mut store = MockEventStore::new();
    store
        .expect_read_feed()
        .returning(|_, _| Ok(one_event_page()));
    store
}

/// A feed whose one event is read from the start; after it, nothing.
fn feed_ending_after_one_event() -> MockEventStore {
    let mut store = MockEventStore::new();
    store.expect_read_feed().returning(|after, _| {
        Ok(if after == FeedCursor::START {
            one_event_page()
        } else {
            FeedPage {
                events: vec![],
                next: after,
            }
        })
    });
    store
}

fn one_event_page() -> FeedPage {
    let recorded = ledger_application::ports::store::RecordedEvent {
        cursor: FeedCursor { tx: 1, position: 1 },
        event_id: uuid::Uuid::nil(),
        stream_id: "a".into(),
        stream_type: "account".into(),
        version: 1,
        event_type: "AccountOpened".into(),
        schema_version: 2,
        data: r#"{"account_id":"a","owner":"O","currency":"USD"}"#.into(),
        metadata: Default::default(),
        recorded_at: chrono::Utc::now(),
        prev_hash: Default::default(),
        hash: Default::default(),
    };
    FeedPage {
        events: vec![recorded],
        next: FeedCursor { tx: 1, position: 1 },
    }
}

/// The error a live step that fails records, marked where that step read its
/// checkpoint (a mark elsewhere could land on tables a rebuild swapped in).
async fn recorded_error(failure: ReadModelError) -> String {
    const AT: FeedCursor = FeedCursor { tx: 3, position: 5 };
    let mut target = MockProjectionStore::new();
    target.expect_checkpoint().returning(|_, _| Ok(AT));
    target
        .expect_apply_batch()
        .returning(move |_, _, _, _, _| Err(failure.clone()));
    let recorded = Arc::new(std::sync::Mutex::new(String::new()));
    let sink = recorded.clone();
    target
        .expect_set_failed()
        .withf(|_, g, at, _| *g == Generation::Live && *at == AT)
        .times(1)
        .returning(move |_, _, _, e| {
            *sink.lock().unwrap() = e.to_owned();
            Ok(())
        });
    let runner = ProjectionRunner::new(Arc::new(feed_with_one_event()), Arc::new(target), 10);
    let err = runner
        .catch_up(ledger_application::ports::readmodel::Projection::CurrentState)
        .await
        .unwrap_err();
    assert!(!err.is_transient());
    let text = recorded.lock().unwrap().clone();
    text
}

#[tokio::test]
async fn a_store_failure_is_recorded_without_its_sql() {
    let raw = "error returned from database: syntax error at or near \"SELEKT\" \
               in INSERT INTO current_state (account_id) VALUES ($1)";
    let recorded = recorded_error(ReadModelError::Failed(raw.into())).await;
    assert!(!recorded.is_empty());
    for internal in ["SELEKT", "INSERT", "database", "$1"] {
        assert!(!recorded.contains(internal), "{recorded}");
    }
    assert!(recorded.contains("server log"), "{recorded}");
}

#[tokio::test]
async fn an_event_that_cannot_be_applied_is_recorded_with_its_reason() {
    let recorded = recorded_error(ReadModelError::cannot_apply(
        "currencies differ: JPY and USD",
    ))
    .await;
    assert!(
        recorded.contains("currencies differ: JPY and USD"),
        "{recorded}"
    );
}

/// A runner whose store refuses the batch `refusals` times with `refusal`, then applies
/// it; each try counted, and any marking as failed.
async fn refused_then_applied(
    refusal: ReadModelError,
    refusals: u32,
) -> (Result<Step, String>, u32, bool) {
    let tries = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let marked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut target = MockProjectionStore::new();
    target
        .expect_checkpoint()
        .returning(|_, _| Ok(FeedCursor::START));
    let counted = tries.clone();
    target.expect_apply_batch().returning(move |_, _, _, _, _| {
        let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if n <= refusals {
            Err(refusal.clone())
        } else {
            Ok(true)
        }
    });
    let mark = marked.clone();
    target.expect_set_failed().returning(move |_, _, _, _| {
        mark.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    });
    let runner = ProjectionRunner::new(Arc::new(feed_with_one_event()), Arc::new(target), 10);
    let step = runner
        .step(Projection::CurrentState, Generation::Live)
        .await
        .map_err(|e| e.to_string());
    let tries = tries.load(std::sync::atomic::Ordering::SeqCst);
    (
        step,
        tries,
        marked.load(std::sync::atomic::Ordering::SeqCst),
    )
}

/// A refusal that goes away (a deadlock, say) once stopped the projection for good,
/// and with the transfers view every expiry.
#[tokio::test]
async fn a_batch_the_store_refused_is_tried_again_before_the_projection_fails() {
    let deadlock = || ReadModelError::Failed("deadlock detected".into());
    let (step, tries, marked) = refused_then_applied(deadlock(), STORE_FAILURE_TRIES - 1).await;
    assert_eq!(step, Ok(Step::Applied(1)));
    assert_eq!(tries, STORE_FAILURE_TRIES);
    assert!(!marked, "marked failed though the batch was applied");

    let (step, tries, marked) = refused_then_applied(deadlock(), STORE_FAILURE_TRIES).await;
    assert!(step.is_err_and(|e| e.contains("failed")));
    assert_eq!(tries, STORE_FAILURE_TRIES, "tried again past the bound");
    assert!(marked);
}

/// An event the read model cannot apply is its own verdict: never tried again.
#[tokio::test]
async fn an_event_that_cannot_be_applied_is_not_tried_again() {
    let cannot = ReadModelError::cannot_apply("currencies differ");
    let (step, tries, marked) = refused_then_applied(cannot, u32::MAX).await;
    assert!(step.is_err_and(|e| e.contains("currencies differ")));
    assert_eq!(tries, 1);
    assert!(marked);
}

#[test]
fn only_a_failed_projection_is_not_transient() {
    let failed = ProjectionError::Failed {
        projection: "current_state".into(),
        reason: "r".into(),
    };
    assert!(!failed.is_transient());
    for transient in [
        ProjectionError::Unavailable("down".into()),
        ProjectionError::Busy,
        ProjectionError::Store(StoreError::Unavailable("down".into())),
    ] {
        assert!(transient.is_transient(), "{transient:?}");
    }
}

#[test]
fn a_runner_applies_at_least_one_event_a_step() {
    let runner = |n| {
        ProjectionRunner::new(
            Arc::new(MockEventStore::new()),
            Arc::new(MockProjectionStore::new()),
            n,
        )
    };
    assert_eq!(runner(250).batch_size(), 250);
    assert_eq!(runner(0).batch_size(), 1);
}

/// Catching up counts what it applied, and stops where the feed ends.
#[tokio::test]
async fn catching_up_counts_the_events_it_applied() {
    let applied = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut target = MockProjectionStore::new();
    let at = applied.clone();
    target.expect_checkpoint().returning(move |_, _| {
        Ok(if at.load(std::sync::atomic::Ordering::SeqCst) {
            FeedCursor { tx: 1, position: 1 }
        } else {
            FeedCursor::START
        })
    });
    let mark = applied.clone();
    target.expect_apply_batch().returning(move |_, _, _, _, _| {
        mark.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(true)
    });
    let runner = ProjectionRunner::new(
        Arc::new(feed_ending_after_one_event()),
        Arc::new(target),
        10,
    );
    assert_eq!(runner.catch_up(Projection::AuditLog).await, Ok(1));
}

/// The projections at the lowest checkpoint share one read and one write; one ahead
/// of them waits for its own turn.
#[tokio::test]
async fn one_step_for_all_applies_those_at_the_lowest_checkpoint_together() {
    let mut target = MockProjectionStore::new();
    target.expect_checkpoint().returning(|p, _| {
        Ok(match p {
            Projection::AuditLog => FeedCursor { tx: 9, position: 9 },
            _ => FeedCursor::START,
        })
    });
    let group = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = group.clone();
    target
        .expect_apply_batches()
        .returning(move |projections, _, from, batch, _| {
            assert_eq!(from, FeedCursor::START);
            assert_eq!(batch.len(), 1);
            *seen.lock().unwrap() = projections.to_vec();
            Ok(vec![true; projections.len()])
        });
    let runner = ProjectionRunner::new(Arc::new(feed_with_one_event()), Arc::new(target), 10);
    assert_eq!(runner.step_many(&PROJECTIONS).await, Ok(1));
    let group = group.lock().unwrap().clone();
    assert_eq!(group, [Projection::CurrentState, Projection::Analytics]);
}

/// A checkpoint that cannot be read (changed by hand) holds back that projection alone,
/// and the others step on; any other failure to read one stays transient, failing nothing
/// (a review found every such failure marking the projection failed for good).
#[tokio::test]
async fn an_unreadable_checkpoint_holds_back_its_projection_alone() {
    for (failure, passed_over) in [
        (ReadModelError::Unreadable("negative".into()), true),
        (ReadModelError::Failed("protocol".into()), false),
    ] {
        let mut target = MockProjectionStore::new();
        target.expect_checkpoint().returning(move |p, _| match p {
            Projection::Analytics => Err(failure.clone()),
            _ => Ok(FeedCursor::START),
        });
        let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let marked = failed.clone();
        target.expect_set_failed().returning(move |p, _, _, _| {
            marked.lock().unwrap().push(p);
            Ok(())
        });
        let group = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = group.clone();
        target
            .expect_apply_batches()
            .returning(move |projections, _, _, _, _| {
                *seen.lock().unwrap() = projections.to_vec();
                Ok(vec![true; projections.len()])
            });
        let runner = ProjectionRunner::new(Arc::new(feed_with_one_event()), Arc::new(target), 10);
        let stepped = runner.step_many(&PROJECTIONS).await;
        let (failed, group) = (
            failed.lock().unwrap().clone(),
            group.lock().unwrap().clone(),
        );
        // Neither marks it failed: an unreadable one reads `failed` from its row (a
        // mark written here could land after the rebuild that mended it).
        assert!(failed.is_empty(), "{failed:?}");
        if passed_over {
            assert_eq!(stepped, Ok(1));
            assert_eq!(group, [Projection::CurrentState, Projection::AuditLog]);
        } else {
            assert!(
                matches!(stepped, Err(ProjectionError::Unavailable(_))),
                "{stepped:?}"
            );
            assert!(group.is_empty(), "{group:?}");
        }
    }
}

#[tokio::test]
async fn reports_give_each_projection_its_lag_behind_the_feed() {
    let status = ProjectionStatus {
        name: "current_state".into(),
        state: ProjectionState::Live,
        position: FeedCursor { tx: 3, position: 3 },
        last_error: None,
    };
    let mut target = MockProjectionStore::new();
    let listed = status.clone();
    target
        .expect_statuses()
        .returning(move || Ok(vec![listed.clone()]));
    target.expect_relay_status().returning(|| Ok(None));
    let mut store = MockEventStore::new();
    store.expect_lag_after().returning(|after| {
        assert_eq!(
            after.position, 3,
            "measured from the projection's checkpoint"
        );
        Ok(7)
    });
    store.expect_count_after().returning(|_| Ok(42));
    let runner = ProjectionRunner::new(Arc::new(store), Arc::new(target), 10);
    let expected = ProjectionReport {
        status,
        lag_events: 7,
    };
    assert_eq!(runner.reports().await, Ok(vec![expected]));
    assert_eq!(runner.lag_of(FeedCursor::START).await, Ok(42));
}
