//! A long stream with a snapshot: a load reads at most the events after it.

use super::*;

/// Counts the events read through the event-store port.
struct Counting {
    inner: MemoryEventStore,
    events_read: AtomicU64,
}

#[async_trait]
impl EventStore for Counting {
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        self.inner.append(request).await
    }
    async fn read_stream<'a>(&self, q: StreamQuery<'a>) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.read_stream(q).await?;
        self.events_read
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        Ok(events)
    }
    async fn read_feed(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        self.inner.read_feed(after, limit).await
    }
    async fn feed_end(&self) -> Result<FeedCursor, StoreError> {
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

#[tokio::test]
async fn a_long_stream_with_a_snapshot_reads_at_most_n_events() {
    const EVENTS: u64 = 10_000;
    const EVERY: u64 = 100;
    let (snapshots, prefix) = store().await;
    let counting = Arc::new(Counting {
        inner: MemoryEventStore::new(),
        events_read: AtomicU64::new(0),
    });
    let usd = Currency::parse("USD").unwrap();
    let id = AccountId::parse("long").unwrap();
    let mut state = Account::default();
    let mut all = vec![AccountEvent::Opened {
        account_id: id.clone(),
        owner: Owner::parse("Ada").unwrap(),
        currency: usd,
    }];
    state = state.evolve(&all[0]);
    for i in 1..EVENTS {
        let balance = Money::from_minor(i as i64, usd);
        let e = AccountEvent::Deposited {
            account_id: id.clone(),
            amount: Money::from_minor(1, usd),
            balance,
            description: None,
        };
        state = state.evolve(&e);
        all.push(e);
    }
    let now = chrono::Utc::now();
    let ids: Vec<uuid::Uuid> = all.iter().map(|_| uuid::Uuid::new_v4()).collect();
    for (chunk_index, chunk) in all.chunks(1000).enumerate() {
        let events = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let enc = Account::encode(e);
                NewEvent {
                    event_id: ids[chunk_index * 1000 + i],
                    event_type: enc.event_type.into(),
                    schema_version: enc.schema_version,
                    data: enc.data,
                    metadata: EventMetadata::default(),
                    recorded_at: now,
                    // Any hash but zeros: a stream whose head has none is not loaded.
                    prev_hash: ChainHash([1; 32]),
                    hash: ChainHash([1; 32]),
                }
            })
            .collect();
        counting
            .append(AppendRequest {
                streams: vec![StreamWrite {
                    stream_id: "long".into(),
                    stream_type: "account".into(),
                    expected_version: (chunk_index * 1000) as u64,
                    events,
                }],
                idempotency: vec![],
            })
            .await
            .unwrap();
    }
    // A snapshot as a writer would leave it: at the last multiple of N.
    let at = EVENTS - EVENTS % EVERY - EVERY / 2;
    let snapshot_state = all[..at as usize]
        .iter()
        .fold(Account::default(), |s, e| s.evolve(e));
    let key = [7u8; 32];
    let mut snapshot = Snapshot {
        stream_id: "long".into(),
        version: at,
        event_id: ids[at as usize - 1],
        format: Account::SNAPSHOT_FORMAT,
        state: serde_json::to_string(&snapshot_state).unwrap(),
        mac: String::new(),
    };
    ledger_application::repository::seal_snapshot(&mut snapshot, &key);
    snapshots.save(snapshot).await.unwrap();
    let store: Arc<dyn EventStore> = counting.clone();
    let repo = Repository::new(store, snapshots.clone(), EVERY).with_snapshot_key(key);
    let loaded = repo.load::<Account>("long").await.unwrap();
    assert_eq!(loaded.version, EVENTS);
    assert_eq!(loaded.state, state);
    let read = counting.events_read.load(Ordering::Relaxed);
    assert!(read <= EVERY, "read {read} events; at most {EVERY} allowed");
    // Snapshots the repository did not write, newer each: another secret's seal, then
    // a state changed after sealing (as someone with access to Redis could). Neither is
    // used: the load replays and gets the true state (black-box testing found a balance
    // edited in Redis decide a withdrawal).
    let wrong = all[..10]
        .iter()
        .fold(Account::default(), |s, e| s.evolve(e));
    let wrong = serde_json::to_string(&wrong).unwrap();
    for (n, changed_after_sealing) in [false, true].into_iter().enumerate() {
        let version = at + 10 * (n as u64 + 1);
        let mut forged = Snapshot {
            stream_id: "long".into(),
            version,
            event_id: ids[version as usize - 1],
            format: Account::SNAPSHOT_FORMAT,
            state: wrong.clone(),
            mac: String::new(),
        };
        match changed_after_sealing {
            false => ledger_application::repository::seal_snapshot(&mut forged, &[8u8; 32]),
            true => {
                let true_state = all[..version as usize]
                    .iter()
                    .fold(Account::default(), |s, e| s.evolve(e));
                forged.state = serde_json::to_string(&true_state).unwrap();
                ledger_application::repository::seal_snapshot(&mut forged, &key);
                forged.state = wrong.clone();
            }
        }
        snapshots.save(forged).await.unwrap();
        let before = counting.events_read.load(Ordering::Relaxed);
        let store: Arc<dyn EventStore> = counting.clone();
        let repo = Repository::new(store, snapshots.clone(), EVERY).with_snapshot_key(key);
        let loaded = repo.load::<Account>("long").await.unwrap();
        assert_eq!(
            (loaded.version, &loaded.state),
            (EVENTS, &state),
            "forged snapshot {n} used"
        );
        let read = counting.events_read.load(Ordering::Relaxed) - before;
        assert_eq!(read, EVENTS, "a full replay instead");
    }
    let mut conn = raw_connection().await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}snapshot:long"))
        .query_async(&mut conn)
        .await
        .unwrap();
}
