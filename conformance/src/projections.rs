//! The read-model conformance suite: every projection store must give views equal to a
//! fold of all events, count each event once across aborted runs, and rebuild without
//! losing events or showing a partial view.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ledger_domain::{AccountEvent, AccountId, AccountStatus, Currency, Decimal, Owner, TransferId};

use ledger_application::commands::{AccountAction, CommandContext, CommandService, OpenAccount};
use ledger_application::decode::{FeedDecoder, LedgerEvent};
use ledger_application::ports::readmodel::{
    AccountFilter, AuditFilter, ProjectionStore, ReadModels, PROJECTIONS,
};
use ledger_application::ports::snapshot::{Snapshot, SnapshotError, SnapshotStore};
use ledger_application::ports::store::{EventStore, FeedCursor};
use ledger_application::ports::system::{SystemClock, UuidV7Ids};
use ledger_application::projection::ProjectionRunner;
use ledger_application::repository::Repository;
use ledger_application::transfers::TransferRequest;

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
    pub(crate) fn commands(&self) -> Arc<CommandService> {
        let repo = Arc::new(Repository::new(
            self.store.clone(),
            Arc::new(NoSnapshots),
            0,
        ));
        Arc::new(CommandService::new(
            self.store.clone(),
            repo,
            Arc::new(SystemClock),
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

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Expected {
    balances: BTreeMap<String, (i128, u64, AccountStatus, i128, i128, u64)>,
    per_currency: BTreeMap<String, (i128, i64, i128, i128, i128, i64)>,
    pub(crate) events: usize,
}

/// Folds every event of the feed, independently of the projections.
pub(crate) async fn expected(h: &Harness) -> Expected {
    let total = h.store.count_after(FeedCursor::START).await.expect("count");
    for _ in 0..2000 {
        let e = expected_once(h).await;
        if e.events as u64 >= total {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the feed never showed every committed event");
}

async fn expected_once(h: &Harness) -> Expected {
    let mut e = Expected::default();
    let mut cursor = FeedCursor::START;
    let mut decoder = FeedDecoder::default();
    let mut currencies: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let page = h.store.read_feed(cursor, 500).await.expect("feed");
        if page.events.is_empty() {
            break;
        }
        for r in &page.events {
            e.events += 1;
            let ev = decoder.decode(h.store.as_ref(), r).await.expect("decode");
            let LedgerEvent::Account(ev) = ev else {
                let LedgerEvent::Transfer(t) = ev else {
                    continue;
                };
                let c = e
                    .per_currency
                    .entry(t.amount().currency().code().into())
                    .or_default();
                c.4 += i128::from(t.amount().minor_units());
                continue;
            };
            let row = e.balances.entry(r.stream_id.clone()).or_insert((
                0,
                0,
                AccountStatus::Open,
                0,
                0,
                0,
            ));
            row.1 = r.version;
            if let AccountEvent::Opened { currency, .. } = &ev {
                currencies.insert(r.stream_id.clone(), currency.code().into());
            }
            let cur = currencies.get(&r.stream_id).cloned().unwrap_or_default();
            let c = e.per_currency.entry(cur).or_default();
            let amount = i128::from(ev.amount().map_or(0, |m| m.minor_units()));
            match ev {
                AccountEvent::Deposited { .. } => {
                    row.0 += amount;
                    row.3 += amount;
                    row.5 += 1;
                    c.0 += amount;
                    c.2 += amount;
                }
                AccountEvent::TransferCredited { .. } => {
                    row.0 += amount;
                    row.3 += amount;
                    row.5 += 1;
                    c.0 += amount;
                }
                AccountEvent::Withdrawn { .. } => {
                    row.0 -= amount;
                    row.4 += amount;
                    row.5 += 1;
                    c.0 -= amount;
                    c.3 += amount;
                }
                AccountEvent::TransferDebited { .. } => {
                    row.0 -= amount;
                    row.4 += amount;
                    row.5 += 1;
                    c.0 -= amount;
                }
                AccountEvent::Closed { .. } => {
                    row.2 = AccountStatus::Closed;
                    c.5 += 1;
                }
                AccountEvent::Opened { .. } => c.1 += 1,
                // Not made by this workload (the pending-transfer suite checks those).
                AccountEvent::OverdraftLimitSet { .. }
                | AccountEvent::PendingReserved { .. }
                | AccountEvent::PendingPosted { .. }
                | AccountEvent::PendingReleased { .. } => {}
            }
        }
        cursor = page.next;
    }
    e
}

/// Every account row of the current-state view.
pub(crate) async fn all_accounts(h: &Harness) -> Vec<ledger_application::views::AccountView> {
    h.read
        .accounts(AccountFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("accounts")
}

/// What the read models show, in the shape of [`Expected`].
pub(crate) async fn observed(h: &Harness) -> Expected {
    let mut o = Expected::default();
    for a in all_accounts(h).await {
        o.balances.insert(
            a.account_id.clone(),
            (
                i128::from(a.balance.minor_units()),
                a.version,
                a.status,
                a.total_deposits.minor_units(),
                a.total_withdrawals.minor_units(),
                a.transaction_count,
            ),
        );
    }
    for s in h.read.summary().await.expect("summary") {
        let t = s.totals;
        o.per_currency.insert(
            s.currency.code().into(),
            (
                t.total_balance,
                t.open_accounts + t.closed_accounts,
                t.total_deposited,
                t.total_withdrawn,
                t.transfer_volume,
                t.closed_accounts,
            ),
        );
    }
    let mut before = None;
    let mut ids = HashSet::new();
    loop {
        let page = h
            .read
            .audit(AuditFilter {
                before,
                limit: 300,
                ..Default::default()
            })
            .await
            .expect("audit");
        let Some(last) = page.last() else { break };
        before = Some(last.position);
        for entry in page {
            assert!(ids.insert(entry.event_id), "audit entry twice");
        }
    }
    o.events = ids.len();
    o
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
    let daily = h.read.daily(None, None, None).await.expect("daily");
    let deposits: i128 = daily.iter().map(|d| d.totals.deposit_volume).sum();
    let want_deposits: i128 = want.per_currency.values().map(|c| c.2).sum();
    assert_eq!(
        deposits, want_deposits,
        "daily volumes add up to the totals"
    );
}

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}
