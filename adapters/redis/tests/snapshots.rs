//! The Redis snapshot store against a real Redis, and aggregate loading through it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ledger_application::ports::snapshot::{Snapshot, SnapshotStore};
use ledger_application::ports::store::*;
use ledger_application::ports::system::{SystemClock, UuidV7Ids};
use ledger_application::repository::Repository;
use ledger_application::{AccountAction, CommandContext, CommandService, OpenAccount};
use ledger_domain::*;
use ledger_memory::MemoryEventStore;
use ledger_redis::{RedisSnapshotConfig, RedisSnapshotStore};

fn redis_url() -> String {
    std::env::var("LEDGER_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A store with a unique key prefix; fails loudly when Redis is not reachable.
async fn store() -> (Arc<RedisSnapshotStore>, String) {
    let prefix = format!("ledger-test:{}:", uuid::Uuid::new_v4().simple());
    let config = RedisSnapshotConfig {
        prefix: prefix.clone(),
        ttl: Some(Duration::from_secs(600)),
        timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let store = RedisSnapshotStore::new(&redis_url(), config).expect("redis url");
    store.load("probe").await.unwrap_or_else(|e| {
        panic!(
            "Redis is needed for this test and is not reachable at {}: {e}. \
             Run `bash scripts/test.sh`, which starts it.",
            redis_url()
        )
    });
    (Arc::new(store), prefix)
}

async fn raw_connection() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn snapshot(stream: &str, version: u64) -> Snapshot {
    Snapshot {
        stream_id: stream.into(),
        version,
        event_id: uuid::Uuid::from_u128(u128::from(version)),
        format: 1,
        state: format!("{{\"v\":{version}}}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writers_leave_the_newest_snapshot() {
    let (store, _) = store().await;
    for round in 0..5 {
        let stream = format!("race-{round}");
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let store = store.clone();
            let stream = stream.clone();
            tasks.push(tokio::spawn(async move {
                // Each writer goes through versions in its own order, newest not last.
                for i in 0..50u64 {
                    let version = 1 + (i * 7 + t * 13) % 400;
                    store.save(snapshot(&stream, version)).await.expect("save");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let max = (0..8u64)
            .flat_map(|t| (0..50u64).map(move |i| 1 + (i * 7 + t * 13) % 400))
            .max()
            .unwrap();
        let kept = store.load(&stream).await.unwrap().expect("a snapshot");
        assert_eq!(kept.version, max, "the newest snapshot must win");
    }
    store.save(snapshot("race-0", 1)).await.unwrap();
    assert_ne!(
        store.load("race-0").await.unwrap().unwrap().version,
        1,
        "never backwards"
    );
}

fn ctx() -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new("test", Default::default()),
        ..Default::default()
    }
}

fn service(store: Arc<dyn EventStore>, repo: Arc<Repository>) -> CommandService {
    CommandService::new(
        store,
        repo,
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        test_spawner(),
        5,
    )
}

async fn open_and_deposit(commands: &CommandService, id: &str, deposits: usize) {
    commands
        .open_account(
            OpenAccount {
                overdraft_limit: None,
                account_id: Some(AccountId::parse(id).unwrap()),
                owner: Owner::parse("Ada").unwrap(),
                currency: Currency::parse("USD").unwrap(),
            },
            &ctx(),
        )
        .await
        .expect("open");
    for _ in 0..deposits {
        let action = AccountAction::Deposit {
            amount: Decimal::parse("1.01").unwrap(),
            description: None,
        };
        commands
            .act(AccountId::parse(id).unwrap(), action, &ctx())
            .await
            .expect("deposit succeeds whatever Redis does");
    }
}

#[tokio::test]
async fn commands_keep_succeeding_while_redis_is_unreachable() {
    let config = RedisSnapshotConfig {
        timeout: Duration::from_millis(100),
        ..Default::default()
    };
    // Nothing listens on port 1.
    let down = Arc::new(RedisSnapshotStore::new("redis://127.0.0.1:1", config).unwrap());
    let events: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let repo = Arc::new(Repository::new(events.clone(), down, 2));
    let commands = service(events, repo.clone());
    open_and_deposit(&commands, "acc", 10).await;
    let state = repo.load::<Account>("acc").await.unwrap();
    assert_eq!(state.state.details().unwrap().balance.to_string(), "10.10");
    assert!(
        repo.stats().snapshot_errors.load(Ordering::Relaxed) > 0,
        "errors are counted"
    );
}

#[tokio::test]
async fn snapshots_written_to_redis_are_used_and_bad_ones_ignored() {
    let (snapshots, prefix) = store().await;
    let events: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let repo = Arc::new(Repository::new(events.clone(), snapshots.clone(), 5));
    open_and_deposit(&service(events.clone(), repo.clone()), "acc", 12).await;
    let stored = snapshots
        .load("acc")
        .await
        .unwrap()
        .expect("written at version 10");
    assert_eq!(stored.version, 10);

    let expected = "12.12";
    let fresh = || Repository::new(events.clone(), snapshots.clone(), 5);
    let check = |repo: &Repository| {
        let stats = repo.stats();
        (
            stats.from_snapshot.load(Ordering::Relaxed),
            stats.snapshot_errors.load(Ordering::Relaxed),
        )
    };

    let repo = fresh();
    let state = repo.load::<Account>("acc").await.unwrap();
    assert_eq!(state.state.details().unwrap().balance.to_string(), expected);
    assert_eq!(check(&repo), (1, 0), "loaded from the snapshot");

    let mut conn = raw_connection().await;
    let key = format!("{prefix}snapshot:acc");
    let good: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let good: serde_json::Value = serde_json::from_str(&good).unwrap();
    let variant = |field: &str, value: Option<serde_json::Value>| {
        let mut v = good.clone();
        match value {
            Some(value) => v[field] = value,
            None => {
                v.as_object_mut().unwrap().remove(field);
            }
        }
        v.to_string()
    };
    let bad_values = [
        "not json at all".to_owned(),
        variant("format", Some(99.into())),
        variant("state", Some(r#"{"details":42}"#.into())),
        variant("version", Some(999.into())),
        // Version 10 of another database's (or an older copy's) history.
        variant("event_id", Some(uuid::Uuid::new_v4().to_string().into())),
        // Written before snapshots named their last event.
        variant("event_id", None),
    ];
    for bad in bad_values {
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(&bad)
            .query_async(&mut conn)
            .await
            .unwrap();
        let repo = fresh();
        let state = repo.load::<Account>("acc").await.unwrap();
        assert_eq!(
            state.state.details().unwrap().balance.to_string(),
            expected,
            "state right despite {bad}"
        );
        assert_eq!(state.version, 13);
        assert_eq!(check(&repo).0, 0, "{bad} must not be used");
    }
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
}

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
    snapshots
        .save(Snapshot {
            stream_id: "long".into(),
            version: at,
            event_id: ids[at as usize - 1],
            format: Account::SNAPSHOT_FORMAT,
            state: serde_json::to_string(&snapshot_state).unwrap(),
        })
        .await
        .unwrap();
    let store: Arc<dyn EventStore> = counting.clone();
    let repo = Repository::new(store, snapshots.clone(), EVERY);
    let loaded = repo.load::<Account>("long").await.unwrap();
    assert_eq!(loaded.version, EVENTS);
    assert_eq!(loaded.state, state);
    let read = counting.events_read.load(Ordering::Relaxed);
    assert!(read <= EVERY, "read {read} events; at most {EVERY} allowed");
    let mut conn = raw_connection().await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}snapshot:long"))
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// A TCP proxy in front of Redis that the test can cut and restore.
struct Proxy {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = redis_url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            port,
            task: Some(task),
        }
    }

    /// Stops listening and drops every proxied connection.
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopping_mid_run_costs_nothing_and_snapshots_resume() {
    let (_, prefix) = store().await;
    let mut proxy = Proxy::start(0).await;
    let config = RedisSnapshotConfig {
        prefix: prefix.clone(),
        timeout: Duration::from_millis(200),
        reconnect_backoff: Duration::from_millis(100),
        ..Default::default()
    };
    let url = format!("redis://127.0.0.1:{}", proxy.port);
    let snapshots = Arc::new(RedisSnapshotStore::new(&url, config).unwrap());
    let events: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let repo = Arc::new(Repository::new(events.clone(), snapshots.clone(), 1));
    let commands = service(events, repo.clone());
    open_and_deposit(&commands, "acc", 3).await;
    assert_eq!(snapshots.load("acc").await.unwrap().unwrap().version, 4);

    proxy.cut();
    let deposit = || AccountAction::Deposit {
        amount: Decimal::parse("1").unwrap(),
        description: None,
    };
    for _ in 0..5 {
        commands
            .act(AccountId::parse("acc").unwrap(), deposit(), &ctx())
            .await
            .expect("Redis down: the command still succeeds");
    }
    assert!(snapshots.load("acc").await.is_err(), "Redis is down");

    let port = proxy.port;
    let _proxy = Proxy::start(port).await;
    let mut resumed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        commands
            .act(AccountId::parse("acc").unwrap(), deposit(), &ctx())
            .await
            .expect("deposit");
        if let Ok(Some(s)) = snapshots.load("acc").await {
            if s.version > 4 {
                resumed = true;
                break;
            }
        }
    }
    assert!(resumed, "snapshots resume once Redis is back");
    let mut conn = raw_connection().await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}snapshot:acc"))
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}
