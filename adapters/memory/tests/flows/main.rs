//! Full command/query/projection flows on the in-memory adapters.
//! `lifecycle.rs`: an account's life and its history; `commands.rs`: transfers and
//! idempotency keys; `caching.rs`: concurrent writers, snapshots and the aggregate cache.

mod caching;
mod commands;
mod lifecycle;

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

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}
