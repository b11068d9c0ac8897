//! Concurrent writers on one account, snapshots, and a stale cached aggregate.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deposits_on_one_account_lose_no_update() {
    let app = Arc::new(app(0, 1000));
    open(&app, "hot", "USD").await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..25 {
                if deposit(&app, "hot", "0.01").await.is_ok() {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut succeeded = 0;
    for t in tasks {
        succeeded += t.await.unwrap();
    }
    let state = app.repo.load::<Account>("hot").await.unwrap();
    assert_eq!(state.version, 1 + succeeded);
    assert_eq!(
        state.state.details().unwrap().balance.minor_units(),
        succeeded as i64
    );
    assert_eq!(succeeded, 400, "with generous retries every deposit lands");
}

#[tokio::test]
async fn snapshots_are_written_forward_and_used_when_loading() {
    let app = app(2, 5);
    open(&app, "a", "USD").await;
    for _ in 0..5 {
        deposit(&app, "a", "1").await.unwrap();
    }
    let stats = app.repo.stats();
    let written = stats
        .snapshots_written
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(written, 3, "versions 2, 4 and 6 crossed a multiple of 2");
    let state = app.repo.load::<Account>("a").await.unwrap();
    assert_eq!(state.version, 6);
    assert_eq!(state.state.details().unwrap().balance.to_string(), "5.00");
    assert!(
        stats
            .from_snapshot
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
}

#[tokio::test]
async fn a_stale_cached_aggregate_is_caught_by_the_expected_version() {
    // Two instances, each with its own cache, writing one stream in turn.
    let store: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let instance = || {
        let repo = Arc::new(
            Repository::new(store.clone(), Arc::new(MemorySnapshotStore::new(10)), 0)
                .with_cache(100),
        );
        let commands = CommandService::new(
            store.clone(),
            repo.clone(),
            Arc::new(SystemClock),
            Arc::new(UuidV7Ids),
            test_spawner(),
            5,
        );
        (repo, commands)
    };
    let (repo_a, a) = instance();
    let (_, b) = instance();
    let open_req = OpenAccount {
        overdraft_limit: None,
        account_id: Some(id("shared")),
        owner: Owner::parse("Ada").unwrap(),
        currency: Currency::parse("USD").unwrap(),
    };
    a.open_account(open_req, &ctx()).await.unwrap();
    let dep = || AccountAction::Deposit {
        amount: dec("1"),
        description: None,
    };
    for i in 0..10 {
        let service = if i % 2 == 0 { &a } else { &b };
        service.act(id("shared"), dep(), &ctx()).await.unwrap();
    }
    let reply = a.act(id("shared"), dep(), &ctx()).await.unwrap();
    assert_eq!(reply.balance.to_string(), "11.00");
    assert_eq!(reply.version, 12);
    let stats = repo_a.stats();
    assert!(stats.from_cache.load(std::sync::atomic::Ordering::Relaxed) > 0);
}
