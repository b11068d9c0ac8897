//! `EventStore::lag_after`: exact up to `EXACT_LAG` events behind, an estimate that
//! never reads less than `EXACT_LAG + 1` beyond (what a status page shows a reader far
//! behind), and zero exactly when nothing is behind.

use chrono::Utc;
use uuid::Uuid;

use ledger_application::ports::store::*;

use crate::store::Store;

fn events(n: u64) -> Vec<NewEvent> {
    (0..n)
        .map(|_| NewEvent {
            event_id: Uuid::new_v4(),
            event_type: "TestEvent".into(),
            schema_version: 1,
            data: "{}".into(),
            metadata: EventMetadata::default(),
            recorded_at: Utc::now(),
            prev_hash: ChainHash::ZERO,
            hash: ChainHash::ZERO,
        })
        .collect()
}

async fn append(store: &Store, stream: &str, expected: u64, n: u64) {
    let write = StreamWrite {
        stream_id: stream.into(),
        stream_type: "test".into(),
        expected_version: expected,
        events: events(n),
    };
    let request = AppendRequest {
        streams: vec![write],
        idempotency: vec![],
    };
    store.append(request).await.expect("append");
}

/// The cursor of a stream's last event.
async fn last_cursor(store: &Store, stream: &str) -> FeedCursor {
    let events = store
        .read_stream(StreamQuery {
            stream_id: stream,
            after_version: 0,
            until: None,
            limit: 100_000,
        })
        .await
        .expect("read_stream");
    events.last().expect("an event").cursor
}

/// The lag of a reader at the start, in the middle and at the end of the feed, below
/// and beyond `EXACT_LAG`.
pub async fn lag_is_exact_up_to_its_bound_and_bounded_below_beyond(store: Store) {
    assert_eq!(store.lag_after(FeedCursor::START).await.expect("lag"), 0);
    append(&store, "a", 0, 1_000).await;
    let middle = last_cursor(&store, "a").await;
    append(&store, "a", 1_000, EXACT_LAG - 1_000).await;
    let exact = store.lag_after(FeedCursor::START).await.expect("lag");
    assert_eq!(exact, EXACT_LAG, "exact at the bound");
    let from_middle = store.lag_after(middle).await.expect("lag");
    assert_eq!(from_middle, EXACT_LAG - 1_000, "exact below the bound");
    append(&store, "b", 0, 2_500).await;
    let total = store.count_after(FeedCursor::START).await.expect("count");
    assert_eq!(total, EXACT_LAG + 2_500);
    let beyond = store.lag_after(FeedCursor::START).await.expect("lag");
    assert!(
        (EXACT_LAG + 1..=total).contains(&beyond),
        "{beyond} is beyond the bound and at most the {total} events"
    );
    assert_eq!(
        store.lag_after(middle).await.expect("lag"),
        total - 1_000,
        "an append without gaps: the estimate is the count"
    );
    // The last event's own cursor (`feed_end` may stop short of it while another
    // transaction of the database server runs).
    let end = last_cursor(&store, "b").await;
    assert_eq!(store.lag_after(end).await.expect("lag"), 0, "caught up");
}
