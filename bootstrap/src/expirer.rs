//! The expirer loop runs inside `serve`: about once a second, on the one instance that
//! holds the expirer's lease, it records the expiry of the pending transfers whose
//! `expires_at` has passed (so an expiry is recorded within about a second of being
//! due, plus the transfers view's lag).

use std::sync::Arc;
use std::time::Duration;

use ledger_application::expirer::Expirer;
use ledger_application::ports::readmodel::{Lease, ProjectionStore};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::projectors::{no_answer, STEP_DEADLINE};

const EVERY: Duration = Duration::from_secs(1);

/// Starts the loop; it stops when `stop` turns true.
pub fn spawn(
    expirer: Arc<Expirer>,
    leases: Arc<dyn ProjectionStore>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            let mut pause = EVERY;
            match leases.try_lead(Lease::Expirer).await {
                Ok(true) => match tokio::time::timeout(STEP_DEADLINE, expirer.step()).await {
                    // More may be due: go on at once.
                    Ok(Ok(s)) if s.more => pause = Duration::ZERO,
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "expiring transfers failed; retrying"),
                    Err(_) => tracing::warn!(error = %no_answer(), "expiring transfers stalled"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot take the expirer's lease"),
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    })
}
