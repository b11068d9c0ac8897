//! Full command/query/projection flows on the in-memory adapters.

use ledger_application::access::Principal;
use std::sync::Arc;

use ledger_application::ports::readmodel::Projection;
use ledger_application::ports::store::{EventStore, StreamBound};
use ledger_application::ports::system::{SystemClock, UuidV7Ids};
use ledger_application::projection::ProjectionRunner;
use ledger_application::queries::QueryService;
use ledger_application::repository::Repository;
use ledger_application::*;
use ledger_domain::*;
use ledger_memory::{MemoryEventStore, MemoryReadModels, MemorySnapshotStore};

struct App {
    store: Arc<MemoryEventStore>,
    repo: Arc<Repository>,
    commands: Arc<CommandService>,
    queries: QueryService,
    runner: ProjectionRunner,
}

fn app(snapshot_every: u64, attempts: u32) -> App {
    let store = Arc::new(MemoryEventStore::new());
    let dyn_store: Arc<dyn EventStore> = store.clone();
    let views = Arc::new(MemoryReadModels::new());
    let repo = Arc::new(Repository::new(
        dyn_store.clone(),
        Arc::new(MemorySnapshotStore::new(100)),
        snapshot_every,
    ));
    let commands = Arc::new(CommandService::new(
        dyn_store.clone(),
        repo.clone(),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        test_spawner(),
        attempts,
    ));
    App {
        queries: QueryService::new(dyn_store.clone(), repo.clone(), views.clone()),
        runner: ProjectionRunner::new(dyn_store, views, 100),
        store,
        repo,
        commands,
    }
}

fn ctx() -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new("anonymous", Default::default()),
        ..Default::default()
    }
}

fn id(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::parse(s).unwrap()
}

async fn open(app: &App, account: &str, currency: &str) -> AccountReply {
    app.commands
        .open_account(
            OpenAccount {
                overdraft_limit: None,
                account_id: Some(id(account)),
                owner: Owner::parse("Ada").unwrap(),
                currency: Currency::parse(currency).unwrap(),
            },
            &ctx(),
        )
        .await
        .expect("open")
}

async fn deposit(app: &App, account: &str, amount: &str) -> Result<AccountReply, CommandError> {
    let action = AccountAction::Deposit {
        amount: dec(amount),
        description: None,
    };
    app.commands.act(id(account), action, &ctx()).await
}

#[tokio::test]
async fn a_full_life_of_an_account_projects_into_the_current_view() {
    let app = app(0, 5);
    open(&app, "a", "USD").await;
    open(&app, "b", "USD").await;
    deposit(&app, "a", "100").await.unwrap();
    let reply = app
        .commands
        .transfer(
            TransferRequest {
                pending: false,
                expires_in_seconds: None,
                transfer_id: None,
                from: id("a"),
                to: id("b"),
                amount: dec("30.25"),
                description: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(reply.from.balance.to_string(), "69.75");
    assert_eq!(reply.to.balance.to_string(), "30.25");
    let withdraw = AccountAction::Withdraw {
        amount: dec("30.25"),
        description: None,
    };
    app.commands.act(id("b"), withdraw, &ctx()).await.unwrap();
    let close = AccountAction::Close { reason: None };
    let closed = app.commands.act(id("b"), close, &ctx()).await.unwrap();
    assert_eq!(closed.status, AccountStatus::Closed);

    app.runner.catch_up(Projection::CurrentState).await.unwrap();
    let a = app
        .queries
        .current(&Principal::anonymous(), "a")
        .await
        .unwrap()
        .expect("a is projected");
    assert_eq!(a.balance.to_string(), "69.75");
    assert_eq!(a.total_deposits.to_string(), "100.00");
    assert_eq!(a.total_withdrawals.to_string(), "30.25");
    assert_eq!(a.transaction_count, 2);
    let b = app
        .queries
        .current(&Principal::anonymous(), "b")
        .await
        .unwrap()
        .expect("b is projected");
    assert_eq!(b.status, AccountStatus::Closed);
    assert!(b.closed_at.is_some());
    assert_eq!(b.version, 4);
}

#[tokio::test]
async fn a_refused_transfer_writes_neither_leg() {
    let app = app(0, 5);
    open(&app, "a", "USD").await;
    open(&app, "b", "USD").await;
    open(&app, "e", "EUR").await;
    deposit(&app, "a", "10").await.unwrap();
    let before = app.store.len();
    let transfer = |to: &str, amount: &str| TransferRequest {
        pending: false,
        expires_in_seconds: None,
        transfer_id: None,
        from: id("a"),
        to: id(to),
        amount: dec(amount),
        description: None,
    };
    let cases = [
        (transfer("b", "10.01"), "insufficient_funds"),
        (transfer("e", "1"), "currency_mismatch"),
        (transfer("a", "1"), "same_account"),
        (transfer("nobody", "1"), "account_not_found"),
        (transfer("b", "0"), "invalid_amount"),
    ];
    for (req, code) in cases {
        let err = app.commands.transfer(req, &ctx()).await.unwrap_err();
        assert_eq!(err.code(), code);
    }
    assert_eq!(
        app.store.len(),
        before,
        "no refused transfer wrote anything"
    );
}

#[tokio::test]
async fn a_transfer_id_is_used_once() {
    let app = app(0, 5);
    open(&app, "a", "USD").await;
    open(&app, "b", "USD").await;
    deposit(&app, "a", "10").await.unwrap();
    let req = TransferRequest {
        pending: false,
        expires_in_seconds: None,
        transfer_id: Some(TransferId::parse("t-1").unwrap()),
        from: id("a"),
        to: id("b"),
        amount: dec("1"),
        description: None,
    };
    app.commands.transfer(req.clone(), &ctx()).await.unwrap();
    let err = app.commands.transfer(req, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), "transfer_exists");
}

#[tokio::test]
async fn a_retried_key_returns_the_first_outcome_and_writes_once() {
    let app = app(0, 5);
    open(&app, "a", "USD").await;
    let keyed = CommandContext {
        idempotency_key: Some("k-1".into()),
        ..ctx()
    };
    let action = || AccountAction::Deposit {
        amount: dec("5"),
        description: None,
    };
    let first = app.commands.act(id("a"), action(), &keyed).await.unwrap();
    let events = app.store.len();
    let second = app.commands.act(id("a"), action(), &keyed).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(app.store.len(), events, "the retry wrote nothing");
    let other = AccountAction::Deposit {
        amount: dec("6"),
        description: None,
    };
    let err = app.commands.act(id("a"), other, &keyed).await.unwrap_err();
    assert_eq!(err, CommandError::IdempotencyKeyReused);
    // A refusal is an outcome too: it comes back even after the account could satisfy it.
    let withdraw = || AccountAction::Withdraw {
        amount: dec("50"),
        description: None,
    };
    let refusing = CommandContext {
        idempotency_key: Some("k-2".into()),
        ..ctx()
    };
    let err = app
        .commands
        .act(id("a"), withdraw(), &refusing)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insufficient_funds");
    deposit(&app, "a", "100").await.unwrap();
    let again = app
        .commands
        .act(id("a"), withdraw(), &refusing)
        .await
        .unwrap_err();
    assert_eq!(again.code(), "insufficient_funds");
}

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
async fn an_account_can_be_shown_as_it_was_at_a_version_or_instant() {
    let app = app(0, 5);
    open(&app, "a", "USD").await;
    deposit(&app, "a", "1").await.unwrap();
    deposit(&app, "a", "2").await.unwrap();
    let at_two = app
        .queries
        .state_at(&Principal::anonymous(), "a", StreamBound::Version(2))
        .await
        .unwrap()
        .expect("existed");
    assert_eq!(at_two.account.version, 2);
    assert_eq!(
        at_two.account.state.details().unwrap().balance.to_string(),
        "1.00"
    );
    let instant = at_two.as_of;
    let by_time = app
        .queries
        .state_at(
            &Principal::anonymous(),
            "a",
            StreamBound::RecordedAt(instant),
        )
        .await
        .unwrap()
        .expect("existed");
    assert!(by_time.account.version >= 2);
    let before = instant - chrono::Duration::days(1);
    assert!(app
        .queries
        .state_at(
            &Principal::anonymous(),
            "a",
            StreamBound::RecordedAt(before)
        )
        .await
        .unwrap()
        .is_none());
    let history = app.queries.history("a", 1, 10).await.unwrap();
    assert_eq!(history.len(), 2);
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

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}
