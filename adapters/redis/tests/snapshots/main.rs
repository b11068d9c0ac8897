//! The Redis snapshot store against a real Redis, and aggregate loading through it
//! (`long_stream.rs`: a snapshot bounds a load; `outage.rs`: Redis stopping mid-run).

mod long_stream;
mod outage;

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
        mac: String::new(),
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
    // Every repository on the store shares the secret snapshots are sealed with.
    let key = [3u8; 32];
    let repo =
        Arc::new(Repository::new(events.clone(), snapshots.clone(), 5).with_snapshot_key(key));
    open_and_deposit(&service(events.clone(), repo.clone()), "acc", 12).await;
    let stored = snapshots
        .load("acc")
        .await
        .unwrap()
        .expect("written at version 10");
    assert_eq!(stored.version, 10);

    let expected = "12.12";
    let fresh = || Repository::new(events.clone(), snapshots.clone(), 5).with_snapshot_key(key);
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

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}
