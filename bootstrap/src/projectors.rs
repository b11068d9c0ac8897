//! The projector loops run inside `serve`: one per projection, woken by commands of
//! this instance and NOTIFYs of others, polling as a fallback; the advisory lock lets
//! one instance run each projection while the others stand by.

use std::sync::Arc;
use std::time::Duration;

use ledger_application::ports::readmodel::{Generation, ProjectionState, PROJECTIONS};
use ledger_application::projection::{ProjectionRunner, Step};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

const POLL: Duration = Duration::from_millis(250);
const COALESCE: Duration = Duration::from_millis(10);

async fn pause(wake: &Notify, stop: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = wake.notified() => {}
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

async fn failed(runner: &ProjectionRunner, name: &str) -> bool {
    match runner.target().statuses().await {
        Ok(all) => all
            .iter()
            .any(|s| s.name == name && s.state == ProjectionState::Failed),
        Err(_) => false,
    }
}

async fn run(
    name: &'static str,
    runner: Arc<ProjectionRunner>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    // Whether the stored state must be read before stepping (it may be `failed`).
    let mut check_failed = true;
    while !*stop.borrow() {
        match runner.target().try_lead(name).await {
            Ok(true) => {}
            Ok(false) => {
                check_failed = true;
                pause(&wake, &mut stop, Duration::from_secs(2)).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(projection = name, error = %e, "cannot take the projection lease");
                check_failed = true;
                pause(&wake, &mut stop, Duration::from_secs(1)).await;
                continue;
            }
        }
        if check_failed {
            if failed(&runner, name).await {
                // Stopped on an event it cannot apply: no crash loop, no skipping. A
                // rebuild (after a fix) makes it live again.
                pause(&wake, &mut stop, Duration::from_secs(2)).await;
                continue;
            }
            check_failed = false;
        }
        match runner.step(name, Generation::Live).await {
            // A full batch: more is waiting, go on at once.
            Ok(Step::Applied(n)) if n >= runner.batch_size() => {}
            Ok(Step::Lost) => check_failed = true,
            Ok(Step::Applied(_)) => {
                // The tail of the feed: let commands accumulate into the next batch
                // instead of chasing every commit with a transaction of its own.
                tokio::time::sleep(COALESCE).await;
            }
            Ok(Step::CaughtUp) => {
                pause(&wake, &mut stop, POLL).await;
                // Let a burst of commands accumulate into one batch: a projection
                // transaction per command would cost the database more than the
                // commands themselves. Lag grows by at most this much.
                tokio::time::sleep(COALESCE).await;
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(projection = name, error = %e, "projection step failed; retrying");
                pause(&wake, &mut stop, Duration::from_secs(1)).await;
            }
            Err(e) => {
                tracing::error!(projection = name, error = %e, "projection stopped");
                check_failed = true;
            }
        }
    }
}

/// Starts every projector; they stop when `stop` turns true.
pub fn spawn(
    runner: Arc<ProjectionRunner>,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    PROJECTIONS
        .iter()
        .map(|name| tokio::spawn(run(name, runner.clone(), wake.clone(), stop.clone())))
        .collect()
}

/// Wakes local projectors on the NOTIFYs other instances send after their appends.
pub fn listen(
    pool: sqlx::PgPool,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(_) => {
                    pause(&wake, &mut stop, Duration::from_secs(2)).await;
                    continue;
                }
            };
            if listener
                .listen(ledger_postgres::NOTIFY_CHANNEL)
                .await
                .is_err()
            {
                continue;
            }
            loop {
                tokio::select! {
                    n = listener.recv() => match n {
                        Ok(_) => wake.notify_waiters(),
                        Err(_) => break,
                    },
                    _ = stop.changed() => return,
                }
            }
        }
    })
}
