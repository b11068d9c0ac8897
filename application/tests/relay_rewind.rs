//! `relay::rewind`'s own logic with a mock checkpoint store: it never moves the relay's
//! checkpoint ahead, and a checkpoint a running relay moves meanwhile is read again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ledger_application::ports::readmodel::{
    MockProjectionStore, ProjectionState, ProjectionStatus,
};
use ledger_application::ports::store::FeedCursor;
use ledger_application::relay::{rewind, RewindError};

fn at(position: u64) -> FeedCursor {
    FeedCursor {
        tx: position,
        position,
    }
}

fn status(position: u64) -> Option<ProjectionStatus> {
    Some(ProjectionStatus {
        name: "relay".into(),
        state: ProjectionState::Live,
        position: at(position),
        last_error: None,
    })
}

#[tokio::test]
async fn a_cursor_past_the_checkpoint_is_refused_and_moves_nothing() {
    let mut store = MockProjectionStore::new();
    store.expect_relay_status().returning(|| Ok(status(10)));
    store.expect_move_relay().never();
    let refused = rewind(&store, at(11)).await;
    assert_eq!(
        refused,
        Err(RewindError::Ahead {
            at: at(10),
            to: at(11)
        })
    );
}

#[tokio::test]
async fn a_checkpoint_moved_meanwhile_is_read_again_and_then_moved_back() {
    // A running relay moves the checkpoint from 10 to 20 between the first read and
    // the first move; the second try moves it from 20.
    let checkpoint = Arc::new(AtomicU64::new(10));
    let mut store = MockProjectionStore::new();
    let read = checkpoint.clone();
    store
        .expect_relay_status()
        .returning(move || Ok(status(read.load(Ordering::SeqCst))));
    let moved = checkpoint.clone();
    store
        .expect_move_relay()
        .times(2)
        .returning(move |from, to, error| {
            assert_eq!((to, error), (FeedCursor::START, None));
            if moved.load(Ordering::SeqCst) == 10 {
                moved.store(20, Ordering::SeqCst);
                return Ok(false);
            }
            assert_eq!(from, at(20), "compare-and-set against what it read");
            moved.store(0, Ordering::SeqCst);
            Ok(true)
        });
    assert_eq!(rewind(&store, FeedCursor::START).await, Ok(at(20)));
    assert_eq!(checkpoint.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_relay_that_never_ran_is_at_the_start() {
    let mut store = MockProjectionStore::new();
    store.expect_relay_status().returning(|| Ok(None));
    store.expect_move_relay().never();
    let refused = rewind(&store, at(1)).await;
    assert_eq!(
        refused,
        Err(RewindError::Ahead {
            at: FeedCursor::START,
            to: at(1)
        })
    );
}
