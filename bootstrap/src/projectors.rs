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
                pause(&wake, &mut stop, Duration::from_secs(2)).await;
                continue;
            }
            Ok(mine) => mine,
            Err(e) => {
                tracing::warn!(error = %e, "projections cannot run; retrying");
                pause(&wake, &mut stop, Duration::from_secs(1)).await;
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
                pause(&wake, &mut stop, Duration::from_secs(1)).await;
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
