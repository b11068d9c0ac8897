//! The live feed's reader renders only what someone listens to. These tests make its
//! reads slow so subscribers join while a read is under way: each must still see every
//! event of its stream, in order, without a gap. And a store that keeps failing ends
//! the live subscriptions with `StoreFailed` instead of leaving them waiting forever,
//! a first subscriber's wait for the feed's end included. A crowd of subscribers
//! catching up from the beginning reads a few pages at a time, not one each.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ledger_application::feed::FeedReader;
use ledger_application::feed_hub::{Delivery, FeedEnd, FeedFilter, FeedHub, CATCH_UP_READS};
use ledger_application::ports::store::*;
use ledger_domain::{Account, AccountEvent, AccountId, Aggregate, Currency, Money, Owner};
use ledger_memory::MemoryEventStore;
use tokio::sync::Notify;

/// Feed reads take a while (and fail while `failing`); how many run at once is
/// counted.
#[derive(Default)]
struct SlowFeed {
    inner: MemoryEventStore,
    failing: AtomicBool,
    reading: AtomicUsize,
    most_reading: AtomicUsize,
}

#[async_trait]
impl EventStore for SlowFeed {
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        self.inner.append(request).await
    }
    async fn read_stream<'a>(&self, q: StreamQuery<'a>) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(q).await
    }
    async fn read_feed(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the store is down".into()));
        }
        // Slow to start: the reader decides what to render before, and commits and
        // catch-ups happen meanwhile.
        let now = self.reading.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_reading.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(4)).await;
        self.reading.fetch_sub(1, Ordering::SeqCst);
        self.inner.read_feed(after, limit).await
    }
    async fn feed_end(&self) -> Result<FeedCursor, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the store is down".into()));
        }
        self.inner.feed_end().await
    }
    async fn committed_end(&self) -> Result<FeedCursor, StoreError> {
        self.inner.committed_end().await
    }
    async fn count_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        self.inner.count_after(after).await
    }
    async fn size_bytes(&self) -> Result<u64, StoreError> {
        self.inner.size_bytes().await
    }
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.idempotency_record(key).await
    }
}

fn hub_on(store: &Arc<SlowFeed>) -> Arc<FeedHub> {
    let reader = FeedReader::new(store.clone(), Arc::new(|r, _| r.event_id.to_string()));
    let hub = FeedHub::new(reader, Arc::new(Notify::new()), 64);
    tokio::spawn(hub.clone().run());
    hub
}

fn usd() -> Currency {
    Currency::parse("USD").expect("usd")
}

async fn append(store: &SlowFeed, stream: &str, version: u64) {
    let id = AccountId::parse(stream).expect("id");
    let event = match version {
        0 => AccountEvent::Opened {
            account_id: id,
            owner: Owner::parse("o").expect("owner"),
            currency: usd(),
        },
        v => AccountEvent::Deposited {
            account_id: id,
            amount: Money::parse("1", usd()).expect("1"),
            balance: Money::parse(&v.to_string(), usd()).expect("balance"),
            description: None,
        },
    };
    let encoded = Account::encode(&event);
    let new = NewEvent {
        event_id: uuid::Uuid::now_v7(),
        event_type: encoded.event_type.into(),
        schema_version: encoded.schema_version,
        data: encoded.data,
        metadata: EventMetadata::default(),
        recorded_at: chrono::Utc::now(),
        prev_hash: ChainHash::ZERO,
        hash: ChainHash::ZERO,
    };
    store
        .append(AppendRequest {
            streams: vec![StreamWrite {
                stream_id: stream.into(),
                stream_type: "account".into(),
                expected_version: version,
                events: vec![new],
            }],
            idempotency: vec![],
        })
        .await
        .expect("append");
}

const EVENTS: u64 = 60;
const STREAMS: usize = 8;

/// Every event of `stream` after `after`, checked to arrive one version after another.
async fn follow(hub: Arc<FeedHub>, stream: String, after: u64, whole_feed: bool) {
    let mut sub = if whole_feed {
        hub.subscribe(FeedCursor::START, FeedFilter::default())
    } else {
        hub.subscribe_stream(&stream, after)
    };
    let mut last = if whole_feed { 0 } else { after };
    while last <= EVENTS {
        let next = tokio::time::timeout(Duration::from_secs(20), sub.next())
            .await
            .expect("the next event in time");
        let Some(Delivery::Event(item)) = next else {
            panic!("subscription ended early: {next:?}");
        };
        if item.stream_id != stream {
            continue;
        }
        assert_eq!(item.version, last + 1, "an event of {stream} was skipped");
        last = item.version;
    }
}

async fn version_of(store: &SlowFeed, stream: &str) -> u64 {
    let query = StreamQuery {
        stream_id: stream,
        after_version: 0,
        until: None,
        limit: usize::MAX,
    };
    store.read_stream(query).await.expect("read").len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_joining_during_a_read_miss_nothing() {
    for _round in 0..5 {
        let store = Arc::new(SlowFeed::default());
        let hub = hub_on(&store);
        // Someone watches `a` only, so the reader leaves other streams out of its reads
        // until someone watches them (each follower below watches a stream of its own).
        let mut watcher = hub.subscribe_stream("a", 0);
        let writer = tokio::spawn({
            let store = store.clone();
            async move {
                for v in 0..=EVENTS {
                    append(&store, "a", v).await;
                    for s in 0..STREAMS {
                        append(&store, &format!("s{s}"), v).await;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
        let mut followers = Vec::new();
        for i in 0..=STREAMS {
            tokio::time::sleep(Duration::from_millis(5)).await;
            // The last one follows the whole feed (for stream s0).
            let stream = format!("s{}", i % STREAMS);
            let at = version_of(&store, &stream).await;
            let task = follow(hub.clone(), stream, at, i == STREAMS);
            followers.push(tokio::spawn(task));
        }
        writer.await.expect("writer");
        for f in followers {
            f.await.expect("a follower saw every event of its stream");
        }
        let first = watcher.next().await;
        assert!(matches!(first, Some(Delivery::Event(_))), "{first:?}");
        hub.close();
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_that_keeps_failing_ends_live_subscriptions() {
    let store = Arc::new(SlowFeed::default());
    append(&store, "a", 0).await;
    let hub = hub_on(&store);
    let mut sub = hub.subscribe(FeedCursor::START, FeedFilter::default());
    assert!(matches!(sub.next().await, Some(Delivery::Event(_))));
    store.failing.store(true, Ordering::SeqCst);
    let end = tokio::time::timeout(Duration::from_secs(60), sub.next())
        .await
        .expect("the subscription ends");
    assert!(
        matches!(end, Some(Delivery::End(FeedEnd::StoreFailed(_)))),
        "{end:?}"
    );
    // Once the store is back, a new subscriber is served again.
    store.failing.store(false, Ordering::SeqCst);
    append(&store, "a", 1).await;
    let mut again = hub.subscribe(FeedCursor::START, FeedFilter::default());
    assert!(matches!(again.next().await, Some(Delivery::Event(_))));
    assert!(matches!(again.next().await, Some(Delivery::Event(_))));
}

/// The first subscriber arrives while the store is down: the hub cannot even find the
/// feed's end, and the subscription ends instead of waiting with heartbeats for ever.
#[tokio::test(start_paused = true)]
async fn a_first_subscriber_while_the_store_is_down_is_ended() {
    let store = Arc::new(SlowFeed {
        failing: AtomicBool::new(true),
        ..SlowFeed::default()
    });
    let hub = hub_on(&store);
    let mut sub = hub.subscribe(FeedCursor::START, FeedFilter::default());
    let end = tokio::time::timeout(Duration::from_secs(60), sub.next())
        .await
        .expect("the subscription ends");
    assert!(
        matches!(end, Some(Delivery::End(FeedEnd::StoreFailed(_)))),
        "{end:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_catching_up_reads_a_few_pages_at_a_time() {
    let store = Arc::new(SlowFeed::default());
    // Three pages of the feed (500 events a page).
    for v in 0..1_200 {
        append(&store, "a", v).await;
    }
    let hub = hub_on(&store);
    let crowd = (0..40).map(|_| {
        let mut sub = hub.subscribe(FeedCursor::START, FeedFilter::default());
        tokio::spawn(async move {
            for _ in 0..1_200 {
                let next = tokio::time::timeout(Duration::from_secs(30), sub.next()).await;
                assert!(matches!(next, Ok(Some(Delivery::Event(_)))), "{next:?}");
            }
        })
    });
    for follower in crowd.collect::<Vec<_>>() {
        follower.await.expect("every subscriber caught up");
    }
    // The catch-ups, and the hub's own read of the live feed.
    let most = store.most_reading.load(Ordering::SeqCst);
    assert!(most <= CATCH_UP_READS + 1, "{most} feed reads at once");
    hub.close();
}
