//! The live feed's shared reader on the in-memory store: a subscriber that stops
//! reading is cut off once it falls further behind than the buffer, while another
//! keeps everything; closing the hub ends every subscription.

use std::sync::Arc;
use std::time::Duration;

use ledger_application::feed::FeedReader;
use ledger_application::feed_hub::{Delivery, FeedEnd, FeedFilter, FeedHub};
use ledger_application::ports::store::{
    AppendRequest, ChainHash, EventMetadata, EventStore, FeedCursor, NewEvent, StreamWrite,
};
use ledger_domain::{Account, AccountEvent, AccountId, Aggregate, Currency, Money, Owner};
use ledger_memory::MemoryEventStore;
use tokio::sync::Notify;

fn new_event(e: &AccountEvent) -> NewEvent {
    let encoded = Account::encode(e);
    NewEvent {
        event_id: uuid::Uuid::now_v7(),
        event_type: encoded.event_type.into(),
        schema_version: encoded.schema_version,
        data: encoded.data,
        metadata: EventMetadata::default(),
        recorded_at: chrono::Utc::now(),
        prev_hash: ChainHash::ZERO,
        hash: ChainHash::ZERO,
    }
}

async fn append(store: &MemoryEventStore, version: u64, e: AccountEvent) {
    store
        .append(AppendRequest {
            streams: vec![StreamWrite {
                stream_id: "a".into(),
                stream_type: "account".into(),
                expected_version: version,
                events: vec![new_event(&e)],
            }],
            idempotency: vec![],
        })
        .await
        .expect("append");
}

fn deposit() -> AccountEvent {
    let usd = Currency::parse("USD").expect("usd");
    AccountEvent::Deposited {
        account_id: AccountId::parse("a").expect("id"),
        amount: Money::parse("1", usd).expect("1"),
        balance: Money::parse("1", usd).expect("1"),
        description: None,
    }
}

#[tokio::test]
async fn a_stalled_subscriber_is_cut_off_and_others_keep_everything() {
    let store = Arc::new(MemoryEventStore::new());
    let wake = Arc::new(Notify::new());
    let reader = FeedReader::new(store.clone(), Arc::new(|r, _| r.event_id.to_string()));
    let hub = FeedHub::new(reader, wake.clone(), 8);
    let running = tokio::spawn(hub.clone().run());
    append(
        &store,
        0,
        AccountEvent::Opened {
            account_id: AccountId::parse("a").expect("id"),
            owner: Owner::parse("o").expect("owner"),
            currency: Currency::parse("USD").expect("usd"),
        },
    )
    .await;
    let mut stalled = hub.subscribe(FeedCursor::START, FeedFilter::default());
    let mut reading = hub.subscribe(FeedCursor::START, FeedFilter::default());
    for sub in [&mut stalled, &mut reading] {
        assert!(
            matches!(sub.next().await, Some(Delivery::Event(_))),
            "the opening"
        );
    }
    // One live event each (a subscriber whose own catch-up outran the buffer starts
    // it again instead; one that has been live and falls behind is cut off).
    append(&store, 1, deposit()).await;
    wake.notify_waiters();
    for sub in [&mut stalled, &mut reading] {
        let d = tokio::time::timeout(Duration::from_secs(5), sub.next()).await;
        assert!(matches!(d, Ok(Some(Delivery::Event(_)))), "a live event");
    }
    // 40 pages while `stalled` reads nothing: more than its buffer of 8.
    let mut got = 0;
    for v in 2..=41 {
        append(&store, v, deposit()).await;
        wake.notify_waiters();
        let d = tokio::time::timeout(Duration::from_secs(5), reading.next()).await;
        match d.expect("in time") {
            Some(Delivery::Event(item)) => assert_eq!(item.version, v + 1),
            other => panic!("the reading subscriber got {other:?}"),
        }
        got += 1;
    }
    assert_eq!(got, 40);
    let mut delivered = 0;
    let end = loop {
        let d = tokio::time::timeout(Duration::from_secs(5), stalled.next()).await;
        match d.expect("the stalled subscriber is answered") {
            Some(Delivery::Event(_)) => delivered += 1,
            Some(Delivery::End(why)) => break why,
            None => panic!("ended without saying why"),
        }
    };
    assert_eq!(end, FeedEnd::TooSlow);
    assert!(
        delivered <= 8,
        "at most the buffer before the cut: {delivered}"
    );
    assert!(stalled.next().await.is_none(), "nothing after the end");
    hub.close();
    assert_eq!(
        reading.next().await,
        Some(Delivery::End(FeedEnd::ShuttingDown))
    );
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the reader stops")
        .expect("no panic");
}

#[tokio::test]
async fn a_late_subscriber_catches_up_from_the_store_then_goes_live() {
    let store = Arc::new(MemoryEventStore::new());
    let wake = Arc::new(Notify::new());
    let reader = FeedReader::new(store.clone(), Arc::new(|r, _| r.event_id.to_string()));
    // A buffer far smaller than the history: the catch-up comes from the store.
    let hub = FeedHub::new(reader, wake.clone(), 4);
    tokio::spawn(hub.clone().run());
    append(
        &store,
        0,
        AccountEvent::Opened {
            account_id: AccountId::parse("a").expect("id"),
            owner: Owner::parse("o").expect("owner"),
            currency: Currency::parse("USD").expect("usd"),
        },
    )
    .await;
    for v in 1..1200 {
        append(&store, v, deposit()).await;
    }
    let mut sub = hub.subscribe_stream("a", 10);
    for v in 11..=1200 {
        match sub.next().await {
            Some(Delivery::Event(item)) => assert_eq!(item.version, v),
            other => panic!("at {v}: {other:?}"),
        }
    }
    append(&store, 1200, deposit()).await;
    wake.notify_waiters();
    match tokio::time::timeout(Duration::from_secs(5), sub.next()).await {
        Ok(Some(Delivery::Event(item))) => assert_eq!(item.version, 1201),
        other => panic!("live: {other:?}"),
    }
    hub.close();
}
