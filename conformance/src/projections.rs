//! The read-model conformance suite: every projection store must give views equal to a
//! fold of all events, count each event once across aborted runs, and rebuild without
//! losing events or showing a partial view.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledger_domain::{AccountEvent, AccountId, AccountStatus, Currency, Decimal, Owner, TransferId};

use ledger_application::commands::{AccountAction, CommandContext, CommandService, OpenAccount};
use ledger_application::decode::{FeedDecoder, LedgerEvent};
use ledger_application::ports::readmodel::{
    AccountFilter, AuditFilter, ProjectionState, ProjectionStore, ReadModels, PROJECTIONS,
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
        ProjectionRunner::new(self.store.clone(), self.projections.clone(), batch)
            .with_rebuild_batch(batch)
            .with_spawner(spawner)
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

/// Runs aborted at random points, then a full run: nothing is counted twice.
pub async fn aborted_runs_count_nothing_twice(h: Harness) {
    workload(&h, 40).await;
    for round in 0..12u64 {
        let runner = Arc::new(h.runner(7));
        let task = tokio::spawn(async move {
            loop {
                for p in PROJECTIONS {
                    let _ = runner
                        .step(p, ledger_application::ports::readmodel::Generation::Live)
                        .await;
                    tokio::task::yield_now().await;
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(3 + round * 2)).await;
        task.abort();
        let _ = task.await;
    }
    catch_up_all(&h.runner(50)).await;
    assert_eq!(observed(&h).await, expected(&h).await);
}

/// Polls a future until it is ready or has waited `cuts` times, then drops it: a
/// deterministic stand-in for a timeout or a shutdown cutting a step off.
struct CutAfter<F> {
    fut: std::pin::Pin<Box<F>>,
    left: usize,
}

impl<F: std::future::Future> std::future::Future for CutAfter<F> {
    type Output = Option<F::Output>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        match self.fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending if self.left == 0 => Poll::Ready(None),
            Poll::Pending => {
                self.left -= 1;
                Poll::Pending
            }
        }
    }
}

/// A step cut off at each of its await points in turn (its future dropped, as a
/// timeout or a shutdown does) leaves the store usable and counts nothing twice: each
/// projection stepped alone over the whole workload as one batch (with 300 operations
/// per worker the audit log's rows take several `COPY` sends on PostgreSQL, and the
/// step waits inside its `COPY` for the server; a store that waits once per row wants
/// fewer operations, since each cut reruns the step), then all three
/// stepped together over more events. Give the store a pool of one or two connections
/// so that the calls after a cut get the connection the cut step used. Returns how
/// many times each step was cut off (none where a store never waits), by projection,
/// and `"together"`.
pub async fn a_step_cut_off_anywhere_leaves_the_store_usable(
    h: Harness,
    operations_per_worker: usize,
) -> BTreeMap<&'static str, usize> {
    workload(&h, operations_per_worker).await;
    let runner = h.runner(100_000);
    let mut cut_offs = BTreeMap::new();
    for p in PROJECTIONS {
        let cuts = cut_at_every_wait(&runner, p.as_str(), || {
            runner.step(p, ledger_application::ports::readmodel::Generation::Live)
        })
        .await;
        cut_offs.insert(p.as_str(), cuts);
    }
    workload_more(&h).await;
    let cuts = cut_at_every_wait(&runner, "together", || runner.step_many(&PROJECTIONS)).await;
    cut_offs.insert("together", cuts);
    catch_up_all(&runner).await;
    assert_eq!(observed(&h).await, expected(&h).await);
    cut_offs
}

/// Runs `step()` cut off after 0, 1, 2, ... waits until it completes; after each cut,
/// the store must still answer in full. Returns the number of cuts.
async fn cut_at_every_wait<T, E: std::fmt::Display, F>(
    runner: &ProjectionRunner,
    what: &str,
    step: impl Fn() -> F,
) -> usize
where
    F: std::future::Future<Output = Result<T, E>>,
{
    let mut cuts = 0;
    loop {
        let cut = CutAfter {
            fut: Box::pin(step()),
            left: cuts,
        };
        if let Some(done) = cut.await {
            if let Err(e) = done {
                panic!("{what}: the uncut step failed: {e}");
            }
            return cuts;
        }
        cuts += 1;
        // A connection left mid-protocol answers the next query with the rest of the
        // cut one's reply: an error, or no rows at all.
        for _ in 0..3 {
            let reports = runner.reports().await.unwrap_or_else(|e| {
                panic!("{what}: the store failed after a step cut off at wait {cuts}: {e}")
            });
            assert_eq!(
                reports.len(),
                PROJECTIONS.len(),
                "{what}: a short answer after a step cut off at wait {cuts}"
            );
        }
    }
}

/// A rebuild gives identical views; one running while writers append loses nothing;
/// a reader polling meanwhile never sees the views shrink (no partial view).
pub async fn rebuilds_are_complete_and_never_partial(h: Harness) {
    workload(&h, 30).await;
    let runner = Arc::new(h.runner(25));
    catch_up_all(&runner).await;
    let before = observed(&h).await;
    for p in PROJECTIONS {
        runner.rebuild(p, &|_| {}).await.expect("rebuild");
    }
    assert_eq!(
        observed(&h).await,
        before,
        "a rebuild gives identical views"
    );
    let read = runner
        .rebuild_many(&PROJECTIONS, &|_| {})
        .await
        .expect("rebuild all in one pass");
    assert!(read > 0, "the one-pass rebuild read the feed");
    assert_eq!(
        observed(&h).await,
        before,
        "rebuilding all in one pass gives identical views"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (h, stop) = (h.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut accounts, mut events) = (0usize, 0i64);
            while !stop.load(Ordering::Relaxed) {
                let n = h
                    .read
                    .accounts(AccountFilter {
                        limit: 10_000,
                        ..Default::default()
                    })
                    .await
                    .expect("read")
                    .len();
                let e: i64 = h
                    .read
                    .summary()
                    .await
                    .expect("read")
                    .iter()
                    .map(|s| s.totals.event_count)
                    .sum();
                assert!(
                    n >= accounts && e >= events,
                    "a reader saw a partial view: {n} < {accounts} or {e} < {events}"
                );
                (accounts, events) = (n, e);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let writer = {
        let h = h.clone();
        tokio::spawn(async move { workload_more(&h).await })
    };
    let live = {
        let runner = runner.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for p in PROJECTIONS {
                    let _ = runner.catch_up(p).await;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    runner
        .rebuild_many(&PROJECTIONS, &|_| {})
        .await
        .expect("rebuild under load");
    writer.await.expect("writer");
    stop.store(true, Ordering::Relaxed);
    reader.await.expect("the reader never saw a partial view");
    live.await.expect("live runner");
    catch_up_all(&runner).await;
    assert_eq!(observed(&h).await, expected(&h).await, "nothing lost");
    for s in h.projections.statuses().await.expect("statuses") {
        assert_eq!(s.state, ProjectionState::Live, "{}", s.name);
    }
}

async fn workload_more(h: &Harness) {
    let commands = h.commands();
    for i in 0..150 {
        let a = id(&format!("acc-{}", 2 + i % 10));
        let action = AccountAction::Deposit {
            amount: dec("1.25"),
            description: None,
        };
        commands.act(a, action, &ctx(9)).await.expect("deposit");
    }
}

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}
