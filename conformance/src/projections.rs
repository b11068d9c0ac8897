//! The read-model conformance suite: every projection store must give views equal to a
//! fold of all events, count each event once across aborted runs, and rebuild without
//! losing events or showing a partial view.

use std::sync::Arc;
use std::time::Duration;

use ledger_domain::{AccountId, Currency, Decimal, Owner, TransferId};

use ledger_application::commands::{AccountAction, CommandContext, CommandService, OpenAccount};
use ledger_application::ports::readmodel::{DailyFilter, ProjectionStore, ReadModels, PROJECTIONS};
use ledger_application::ports::snapshot::{Snapshot, SnapshotError, SnapshotStore};
use ledger_application::ports::store::EventStore;
use ledger_application::ports::system::{Clock, SystemClock, UuidV7Ids};
use ledger_application::projection::ProjectionRunner;
use ledger_application::repository::Repository;
use ledger_application::transfers::TransferRequest;
use ledger_application::views::DailyVolume;

use crate::fold::{expected, observed};

/// The stores under test.
#[derive(Clone)]
pub struct Harness {
    /// The event store.
    pub store: Arc<dyn EventStore>,
    /// Its projection store.
    pub projections: Arc<dyn ProjectionStore>,
    /// Its read-model queries.
    pub read: Arc<dyn ReadModels>,
}

pub(crate) struct NoSnapshots;

#[async_trait::async_trait]
impl SnapshotStore for NoSnapshots {
    async fn load(&self, _: &str) -> Result<Option<Snapshot>, SnapshotError> {
        Ok(None)
    }
    async fn save(&self, _: Snapshot) -> Result<(), SnapshotError> {
        Ok(())
    }
}

impl Harness {
    /// A command service of its own (its own locks, as another instance's) on the
    /// store.
    pub(crate) fn commands(&self) -> Arc<CommandService> {
        let repo = Repository::new(self.store.clone(), Arc::new(NoSnapshots), 0);
        Self::commands_on(self.store.clone(), repo, Arc::new(SystemClock))
    }

    /// A command service with an aggregate cache, as `serve` runs one, writing through
    /// `store` and reading `clock`.
    pub(crate) fn cached_commands_on(
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
    ) -> Arc<CommandService> {
        let repo = Repository::new(store.clone(), Arc::new(NoSnapshots), 0).with_cache(10_000);
        Self::commands_on(store, repo, clock)
    }

    fn commands_on(
        store: Arc<dyn EventStore>,
        repo: Repository,
        clock: Arc<dyn Clock>,
    ) -> Arc<CommandService> {
        let repo = Arc::new(repo);
        Arc::new(CommandService::new(
            store,
            repo,
            clock,
            Arc::new(UuidV7Ids),
            test_spawner(),
            50,
        ))
    }

    /// A runner whose rebuilds also read `batch` events per page (so that they take
    /// many pages, each read ahead by a task of its own while the last is applied).
    pub(crate) fn runner(&self, batch: usize) -> ProjectionRunner {
        let spawner: Arc<dyn ledger_application::ports::system::Spawner> = Arc::new(|task| {
            tokio::spawn(task);
        });
        self.runner_in_place(batch).with_spawner(spawner)
    }

    /// [`Self::runner`] without a spawner: a rebuild's read-ahead runs in the
    /// rebuild's own task.
    pub(crate) fn runner_in_place(&self, batch: usize) -> ProjectionRunner {
        ProjectionRunner::new(self.store.clone(), self.projections.clone(), batch)
            .with_rebuild_batch(batch)
    }
}

pub(crate) fn ctx(i: usize) -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new(
            format!("worker-{i}"),
            Default::default(),
        ),
        request_id: Some(format!("req-{i}")),
        ..Default::default()
    }
}

pub(crate) fn id(s: &str) -> AccountId {
    AccountId::parse(s).expect("valid id")
}

pub(crate) fn dec(s: &str) -> Decimal {
    Decimal::parse(s).expect("valid amount")
}

/// A concurrent workload: 12 accounts in two currencies, 6 workers doing deposits,
/// withdrawals and transfers, some closing. Refusals are expected and fine.
pub async fn workload(h: &Harness, operations_per_worker: usize) {
    let commands = h.commands();
    for a in 0..12 {
        let currency = if a % 3 == 0 { "EUR" } else { "USD" };
        let req = OpenAccount {
            overdraft_limit: None,
            account_id: Some(id(&format!("acc-{a}"))),
            owner: Owner::parse(format!("owner-{}", a % 4)).expect("owner"),
            currency: Currency::parse(currency).expect("currency"),
        };
        commands.open_account(req, &ctx(0)).await.expect("open");
    }
    let mut tasks = Vec::new();
    for w in 0..6usize {
        let commands = commands.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..operations_per_worker {
                let n = w * 7919 + i * 104_729;
                let a = id(&format!("acc-{}", n % 12));
                let amount = dec(&format!("{}.{:02}", 1 + n % 50, n % 100));
                let c = ctx(w);
                let _ = match n % 5 {
                    0 | 1 => commands
                        .act(
                            a,
                            AccountAction::Deposit {
                                amount,
                                description: None,
                            },
                            &c,
                        )
                        .await
                        .map(|_| ()),
                    2 => commands
                        .act(
                            a,
                            AccountAction::Withdraw {
                                amount,
                                description: None,
                            },
                            &c,
                        )
                        .await
                        .map(|_| ()),
                    _ => commands
                        .transfer(
                            TransferRequest {
                                pending: false,
                                expires_in_seconds: None,
                                transfer_id: Some(
                                    TransferId::parse(format!("t-{w}-{i}")).expect("id"),
                                ),
                                from: a,
                                to: id(&format!("acc-{}", (n / 12) % 12)),
                                amount,
                                description: None,
                            },
                            &c,
                        )
                        .await
                        .map(|_| ()),
                };
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    // Empty one account and close it, so closing shows in the views.
    let balance = {
        let repo = Repository::new(h.store.clone(), Arc::new(NoSnapshots), 0);
        let acc = repo
            .load::<ledger_domain::Account>("acc-1")
            .await
            .expect("load");
        acc.state
            .details()
            .map(|d| d.balance.to_string())
            .unwrap_or_default()
    };
    if balance != "0.00" {
        let amount = dec(&balance);
        let _ = commands
            .act(
                id("acc-1"),
                AccountAction::Withdraw {
                    amount,
                    description: None,
                },
                &ctx(0),
            )
            .await;
    }
    let _ = commands
        .act(id("acc-1"), AccountAction::Close { reason: None }, &ctx(0))
        .await;
}

/// One deposit of 1 on `account` (one the workload opened and left open: `acc-0`).
pub async fn deposit_one(h: &Harness, account: &str) {
    let deposit = AccountAction::Deposit {
        amount: dec("1"),
        description: None,
    };
    h.commands()
        .act(id(account), deposit, &ctx(0))
        .await
        .expect("deposit");
}

/// Catches every projection up with every committed event. On PostgreSQL the feed
/// shows an event only once every older transaction (in any database of the cluster)
/// has ended, so "nothing new right now" is retried until no lag remains.
pub(crate) async fn catch_up_all(runner: &ProjectionRunner) {
    for _ in 0..2000 {
        for p in PROJECTIONS {
            runner.catch_up(p).await.expect("catch up");
        }
        let reports = runner.reports().await.expect("reports");
        if reports.iter().all(|r| r.lag_events == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("projections never caught up");
}

/// After a concurrent workload, every view equals the test's own fold of the events.
pub async fn views_equal_a_fold_of_all_events(h: Harness) {
    workload(&h, 60).await;
    catch_up_all(&h.runner(37)).await;
    let (want, got) = (expected(&h).await, observed(&h).await);
    assert!(want.events > 100, "the workload produced events");
    assert_eq!(got, want);
    let daily = h.read.daily(days(None, 10_000)).await.expect("daily");
    let deposits: i128 = daily.iter().map(|d| d.totals.deposit_volume).sum();
    let want_deposits: i128 = want.per_currency.values().map(|c| c.2).sum();
    assert_eq!(
        deposits, want_deposits,
        "daily volumes add up to the totals"
    );
    assert!(daily.len() >= 2, "a line per currency: {daily:?}");
    let mut paged = Vec::new();
    loop {
        let after = paged.last().map(|d: &DailyVolume| (d.date, d.currency));
        let page = h.read.daily(days(after, 1)).await.expect("page");
        assert!(page.len() <= 1, "a page holds at most its limit");
        if page.is_empty() {
            break;
        }
        paged.extend(page);
    }
    assert_eq!(
        paged, daily,
        "pages of one line, each after the last, give every line"
    );
}

/// Every daily line after `after`, at most `limit`.
fn days(after: Option<(chrono::NaiveDate, Currency)>, limit: usize) -> DailyFilter {
    DailyFilter {
        currency: None,
        from: None,
        to: None,
        after,
        limit,
    }
}

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}

/// Accounts are listed by id compared byte by byte, and so paged: on PostgreSQL the
/// order was the database's collation's (an ICU `en-US` database put `a` before `B`
/// and `_x` first; black-box testing).
pub async fn accounts_are_listed_in_byte_order(h: Harness) {
    let ids = [
        "B", "a", "_x", "-y", "Z.1", "z:2", "A", "b", "a-", "a_", "a.", "A0", "0",
    ];
    for (i, a) in ids.iter().enumerate() {
        let req = OpenAccount {
            overdraft_limit: None,
            account_id: Some(id(a)),
            owner: Owner::parse(format!("owner-{}", i % 2)).expect("owner"),
            currency: Currency::parse("USD").expect("currency"),
        };
        h.commands().open_account(req, &ctx(0)).await.expect("open");
    }
    catch_up_all(&h.runner(50)).await;
    for owner in [None, Some("owner-1")] {
        let mut want: Vec<String> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| owner.is_none_or(|o| o == format!("owner-{}", i % 2)))
            .map(|(_, a)| (*a).to_owned())
            .collect();
        want.sort();
        let mut listed = Vec::new();
        loop {
            let filter = ledger_application::ports::readmodel::AccountFilter {
                owner: owner.map(str::to_owned),
                after: listed.last().cloned(),
                limit: 3,
                ..Default::default()
            };
            let page = h.read.accounts(filter).await.expect("accounts");
            if page.is_empty() {
                break;
            }
            listed.extend(page.into_iter().map(|a| a.account_id));
        }
        assert_eq!(listed, want, "pages of three in byte order ({owner:?})");
    }
}
