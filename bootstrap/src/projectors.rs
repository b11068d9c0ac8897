//! The projector loop runs inside `serve`: one loop steps every projection this
//! instance leads (one feed read, one decode, one transaction per batch for all),
//! woken by commands of this instance and NOTIFYs of others, polling as a fallback;
//! the advisory lock per projection lets one instance run it while others stand by.

use std::sync::Arc;
use std::time::Duration;

use ledger_application::ports::readmodel::{Lease, Projection, ProjectionState, PROJECTIONS};
use ledger_application::projection::{ProjectionError, ProjectionRunner};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

const POLL: Duration = Duration::from_millis(250);
const COALESCE: Duration = Duration::from_millis(10);

/// How long one step of a background loop (a projections batch, a relay page, an
/// expirer pass) may wait on its stores. A connection whose answer never comes (a
/// black-holed network path keeps a socket open with no end) would otherwise stop the
/// loop for good while every status reads `live`. Past it the step is dropped (a
/// transaction's connection closed, not given back) and tried again; each step's
/// checkpoint or version guard keeps it exactly once, as for any interrupted step.
pub(crate) const STEP_DEADLINE: Duration = Duration::from_secs(30);

pub(crate) async fn pause(wake: &Notify, stop: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = wake.notified() => {}
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

/// Waits `d` unless stopped: after a failure, or while another instance leads. Not
/// cut short by commits: woken by each, a standby asked for its lease (and, with the
/// database refusing connections, failed and warned) as often as commits came, 70 to
/// 100 times a second under load, adding connection attempts to a database already
/// out of them.
pub(crate) async fn back_off(stop: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

/// A step's error past [`STEP_DEADLINE`].
pub(crate) fn no_answer() -> String {
    format!("no answer from the stores within {STEP_DEADLINE:?}; the step is tried again")
}

/// The projections this instance leads and that are not stopped on a failure.
async fn runnable(runner: &ProjectionRunner) -> Result<Vec<Projection>, String> {
    let mut mine = Vec::with_capacity(PROJECTIONS.len());
    for name in PROJECTIONS {
        match runner.target().try_lead(Lease::Projection(name)).await {
            Ok(true) => mine.push(name),
            Ok(false) => {}
            Err(e) => return Err(format!("cannot take the lease of {name}: {e}")),
        }
    }
    if mine.is_empty() {
        return Ok(mine);
    }
    let statuses = runner
        .target()
        .statuses()
        .await
        .map_err(|e| e.to_string())?;
    // Stopped on an event it cannot apply: no crash loop, no skipping. A rebuild (after
    // a fix) makes it live again.
    mine.retain(|name| {
        !statuses
            .iter()
            .any(|s| s.name == name.as_str() && s.state == ProjectionState::Failed)
    });
    Ok(mine)
}

/// One loop for every projection: they share each feed read, decode and transaction.
async fn run(runner: Arc<ProjectionRunner>, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        // Bounded as the step is: its statuses' read, on a connection whose answer was
        // black-holed, once stopped every projection for good while each read `live`.
        let mine = tokio::time::timeout(STEP_DEADLINE, runnable(&runner))
            .await
            .unwrap_or_else(|_| Err(no_answer()));
        let mine = match mine {
            Ok(mine) if mine.is_empty() => {
                // Another instance leads them all (or all are stopped): stand by.
                back_off(&mut stop, Duration::from_secs(2)).await;
                continue;
            }
            Ok(mine) => mine,
            Err(e) => {
                tracing::warn!(error = %e, "projections cannot run; retrying");
                back_off(&mut stop, Duration::from_secs(1)).await;
                continue;
            }
        };
        let step = tokio::time::timeout(STEP_DEADLINE, runner.step_many(&mine)).await;
        match step.unwrap_or_else(|_| Err(ProjectionError::Unavailable(no_answer()))) {
            // A full batch: more is waiting, go on at once.
            Ok(n) if n >= runner.batch_size() => {}
            Ok(0) => {
                pause(&wake, &mut stop, POLL).await;
                // Let a burst of commands accumulate into one batch: a projection
                // transaction per command would cost the database more than the
                // commands themselves. Lag grows by at most this much.
                tokio::time::sleep(COALESCE).await;
            }
            // The tail of the feed: let commands accumulate into the next batch
            // instead of chasing every commit with a transaction of its own.
            Ok(_) => tokio::time::sleep(COALESCE).await,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "projection step failed; retrying");
                back_off(&mut stop, Duration::from_secs(1)).await;
            }
            Err(e) => tracing::error!(error = %e, "projection stopped"),
        }
    }
}

/// Starts the projector loop; it stops when `stop` turns true.
pub fn spawn(
    runner: Arc<ProjectionRunner>,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    vec![tokio::spawn(run(runner, wake, stop))]
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ledger_application::ports::readmodel::{MockProjectionStore, ReadModelError};
    use ledger_application::ports::store::MockEventStore;

    use super::*;

    /// How many times the loop asks for a lease while 200 commits wake it over 400 ms
    /// (of the test clock: paused, it moves only as the loop sleeps).
    async fn leases_asked(answer: fn() -> Result<bool, ReadModelError>) -> usize {
        let asked = Arc::new(AtomicUsize::new(0));
        let count = asked.clone();
        let mut target = MockProjectionStore::new();
        target.expect_try_lead().returning(move |_| {
            count.fetch_add(1, Ordering::SeqCst);
            answer()
        });
        let runner = ProjectionRunner::new(Arc::new(MockEventStore::new()), Arc::new(target), 10);
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let tasks = spawn(Arc::new(runner), wake.clone(), stopped);
        for _ in 0..200 {
            wake.notify_one();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = stop.send(true);
        for task in tasks {
            task.await.expect("the loop ends");
        }
        asked.load(Ordering::SeqCst)
    }

    /// A lease the store cannot give (a database out of connections) is asked again a
    /// second later, not on every commit (that asked 70 to 100 times a second).
    #[tokio::test(start_paused = true)]
    async fn a_failing_lease_is_not_asked_again_on_each_commit() {
        let failing = || Err(ReadModelError::Unavailable("too many connections".into()));
        assert_eq!(leases_asked(failing).await, 1);
    }

    /// A standby asks for the three leases every 2 s, not on every commit.
    #[tokio::test(start_paused = true)]
    async fn a_standby_asks_for_its_leases_on_a_timer() {
        assert_eq!(leases_asked(|| Ok(false)).await, PROJECTIONS.len());
    }
}
