//! `relay::rewind`'s own logic with mock stores: it never moves the relay's checkpoint
//! ahead, takes only `START` or an event's cursor, leaves a checkpoint already there as
//! it is, and reads again a checkpoint a running relay moves meanwhile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ledger_application::ports::readmodel::{
    MockProjectionStore, ProjectionState, ProjectionStatus,
};
use ledger_application::ports::store::{FeedCursor, FeedPage, MockEventStore, RecordedEvent};
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

/// A feed whose event after any cursor is the one at `cursor`.
fn feed_holding(cursor: FeedCursor) -> MockEventStore {
    let mut events = MockEventStore::new();
    events.expect_read_feed().returning(move |_, _| {
        Ok(FeedPage {
            events: vec![RecordedEvent {
                cursor,
                event_id: uuid::Uuid::nil(),
                stream_id: "a".into(),
                stream_type: "account".into(),
                version: 1,
                event_type: "AccountOpened".into(),
                schema_version: 2,
                data: "{}".into(),
                metadata: Default::default(),
                recorded_at: chrono::Utc::now(),
                prev_hash: Default::default(),
                hash: Default::default(),
            }],
            next: cursor,
        })
    });
    events
}

#[tokio::test]
async fn a_cursor_past_the_checkpoint_is_refused_and_moves_nothing() {
    let mut store = MockProjectionStore::new();
    store.expect_relay_status().returning(|| Ok(status(10)));
    store.expect_move_relay().never();
    let refused = rewind(&store, &feed_holding(at(11)), at(11)).await;
    assert_eq!(
        refused,
        Err(RewindError::Ahead {
            at: at(10),
            to: at(11)
        })
    );
}

#[tokio::test]
async fn a_cursor_no_event_has_is_refused() {
    // On a store whose cursors are (n, n), `0-5` names no event: the event after 0-4
    // is 5-5.
    let mut store = MockProjectionStore::new();
    store.expect_relay_status().never();
    store.expect_move_relay().never();
    let wrong = FeedCursor { tx: 0, position: 5 };
    let refused = rewind(&store, &feed_holding(at(5)), wrong).await;
    assert_eq!(refused, Err(RewindError::NoSuchEvent(wrong)));
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
            assert_eq!((to, error), (at(3), None));
            if moved.load(Ordering::SeqCst) == 10 {
                moved.store(20, Ordering::SeqCst);
                return Ok(false);
            }
            assert_eq!(from, at(20), "compare-and-set against what it read");
            moved.store(3, Ordering::SeqCst);
            Ok(true)
        });
    let rewound = rewind(&store, &feed_holding(at(3)), at(3)).await;
    assert_eq!(rewound, Ok(at(20)));
    assert_eq!(checkpoint.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_checkpoint_already_there_or_never_written_is_left_as_it_is() {
    let mut store = MockProjectionStore::new();
    store.expect_relay_status().returning(|| Ok(None));
    store.expect_move_relay().never();
    let events = MockEventStore::new();
    assert_eq!(
        rewind(&store, &events, FeedCursor::START).await,
        Ok(FeedCursor::START)
    );
    let refused = rewind(&store, &feed_holding(at(1)), at(1)).await;
    assert_eq!(
        refused,
        Err(RewindError::Ahead {
            at: FeedCursor::START,
            to: at(1)
        })
    );
    let mut store = MockProjectionStore::new();
    store.expect_relay_status().returning(|| Ok(status(7)));
    store.expect_move_relay().never();
    assert_eq!(rewind(&store, &feed_holding(at(7)), at(7)).await, Ok(at(7)));
}
