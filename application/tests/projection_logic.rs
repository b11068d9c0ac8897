//! The projection runner's own logic, with mock stores: what it records when a batch
//! cannot be applied, and when it tries one again.

use std::sync::Arc;

use ledger_application::ports::readmodel::Projection;
use ledger_application::ports::readmodel::{MockProjectionStore, ReadModelError};
use ledger_application::ports::store::{FeedCursor, FeedPage, MockEventStore};
use ledger_application::projection::{ProjectionRunner, Step, STORE_FAILURE_TRIES};

/// A feed of one page: an account's opening event.
fn feed_with_one_event() -> MockEventStore {
    let mut store = MockEventStore::new();
    store.expect_read_feed().returning(|_, _| {
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
        Ok(FeedPage {
            events: vec![recorded],
            next: FeedCursor { tx: 1, position: 1 },
        })
    });
    store
}

async fn recorded_error(failure: ReadModelError) -> String {
    let mut target = MockProjectionStore::new();
    target
        .expect_checkpoint()
        .returning(|_, _| Ok(FeedCursor::START));
    target
        .expect_apply_batch()
        .returning(move |_, _, _, _, _| Err(failure.clone()));
    let recorded = Arc::new(std::sync::Mutex::new(String::new()));
    let sink = recorded.clone();
    target.expect_set_failed().returning(move |_, e| {
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

/// A runner whose store refuses the batch `refusals` times (a store failure, not an
/// outage), then applies it; each try counted, and any marking as failed.
async fn refused_then_applied(refusals: u32) -> (Result<Step, String>, u32, bool) {
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
            Err(ReadModelError::Failed("deadlock detected".into()))
        } else {
            Ok(true)
        }
    });
    let mark = marked.clone();
    target.expect_set_failed().returning(move |_, _| {
        mark.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    });
    let runner = ProjectionRunner::new(Arc::new(feed_with_one_event()), Arc::new(target), 10);
    let step = runner
        .step(
            Projection::CurrentState,
            ledger_application::ports::readmodel::Generation::Live,
        )
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
    let (step, tries, marked) = refused_then_applied(STORE_FAILURE_TRIES - 1).await;
    assert_eq!(step, Ok(Step::Applied(1)));
    assert_eq!(tries, STORE_FAILURE_TRIES);
    assert!(!marked, "marked failed though the batch was applied");

    let (step, tries, marked) = refused_then_applied(STORE_FAILURE_TRIES).await;
    assert!(step.is_err_and(|e| e.contains("failed")));
    assert_eq!(tries, STORE_FAILURE_TRIES, "tried again past the bound");
    assert!(marked);
}

/// An event the read model cannot apply is its own verdict: never tried again.
#[tokio::test]
async fn an_event_that_cannot_be_applied_is_not_tried_again() {
    let tries = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut target = MockProjectionStore::new();
    target
        .expect_checkpoint()
        .returning(|_, _| Ok(FeedCursor::START));
    let counted = tries.clone();
    target.expect_apply_batch().returning(move |_, _, _, _, _| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(ReadModelError::cannot_apply("currencies differ"))
    });
    target.expect_set_failed().returning(|_, _| Ok(()));
    let runner = ProjectionRunner::new(Arc::new(feed_with_one_event()), Arc::new(target), 10);
    assert!(runner.catch_up(Projection::CurrentState).await.is_err());
    assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 1);
}
