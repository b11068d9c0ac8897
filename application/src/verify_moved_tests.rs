//! `keep_unexplained`: a newer row is skipped only when the checkpoint moved and the
//! row's own stream has an event past it, read from the fold's version on.

use chrono::Utc;
use ledger_domain::ChainHash;

use super::*;
use crate::ports::readmodel::{MockProjectionStore, ProjectionState, ProjectionStatus};
use crate::ports::store::MockEventStore;
use crate::verify::Pass;

const UNTIL: FeedCursor = FeedCursor {
    tx: 10,
    position: 10,
};

fn checkpoints_at(position: FeedCursor) -> MockProjectionStore {
    let mut checkpoints = MockProjectionStore::new();
    checkpoints.expect_statuses().returning(move || {
        Ok(vec![ProjectionStatus {
            name: "current_state".into(),
            state: ProjectionState::Live,
            position,
            last_error: None,
        }])
    });
    checkpoints
}

fn event(version: u64, position: u64) -> RecordedEvent {
    RecordedEvent {
        cursor: FeedCursor {
            tx: position,
            position,
        },
        event_id: uuid::Uuid::nil(),
        stream_id: "acc-1".into(),
        stream_type: "account".into(),
        version,
        event_type: "MoneyDeposited".into(),
        schema_version: 2,
        data: "{}".into(),
        metadata: Default::default(),
        recorded_at: Utc::now(),
        prev_hash: ChainHash::ZERO,
        hash: ChainHash::ZERO,
    }
}

/// The events of `acc-1` after version 3 are `after`; the findings kept.
async fn kept(moved: bool, after: Vec<RecordedEvent>) -> usize {
    let mut store = MockEventStore::new();
    match moved {
        true => {
            store.expect_read_stream().returning(move |q| {
                assert_eq!(
                    (q.stream_id, q.after_version),
                    ("acc-1", 3),
                    "from the fold on"
                );
                Ok(after.clone())
            });
        }
        false => {
            store.expect_read_stream().never();
        }
    }
    let now = match moved {
        true => FeedCursor {
            tx: 12,
            position: 12,
        },
        false => UNTIL,
    };
    let finding = Finding {
        pass: Pass::ReadModels,
        stream_id: Some("acc-1".into()),
        version: Some(4),
        position: None,
        detail: "balance differs".into(),
    };
    let found = vec![(finding, Explained::IfStreamMoved { after_version: 3 })];
    let mut findings = Vec::new();
    keep_unexplained((&store, &checkpoints_at(now)), UNTIL, found, &mut findings)
        .await
        .expect("checked");
    findings.len()
}

#[tokio::test]
async fn a_newer_row_is_explained_only_by_its_own_streams_later_event() {
    // The checkpoint moved and the stream has an event past it: the projector's.
    assert_eq!(kept(true, vec![event(4, 11)]).await, 0);
    // The checkpoint moved (other accounts' events), but not this stream: a row
    // changed by hand with its version raised.
    assert_eq!(kept(true, vec![]).await, 1);
    // An event after the fold's version that is not past the checkpoint explains
    // nothing either.
    assert_eq!(kept(true, vec![event(4, 9)]).await, 1);
    // The checkpoint did not move: nothing is explained, and the store is not read.
    assert_eq!(kept(false, vec![event(4, 11)]).await, 1);
}
