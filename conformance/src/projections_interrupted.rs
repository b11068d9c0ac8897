//! The projections' conformance suite, interrupted: runs aborted at random points,
//! a step cut off at each of its await points, and rebuilds running while writers
//! append and readers poll. Same harness as [`crate::projections`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledger_application::commands::AccountAction;
use ledger_application::ports::readmodel::{AccountFilter, ProjectionState, PROJECTIONS};
use ledger_application::projection::ProjectionRunner;

use crate::fold::{expected, observed};
use crate::projections::{catch_up_all, ctx, dec, id, workload, Harness};

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
    let read_in_place = h
        .runner_in_place(25)
        .rebuild_many(&PROJECTIONS, &|_| {})
        .await
        .expect("rebuild all in one pass, reading ahead in the same task");
    assert_eq!(read_in_place, read);
    assert_eq!(
        observed(&h).await,
        before,
        "rebuilding with the read-ahead in the rebuild's task gives identical views"
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
