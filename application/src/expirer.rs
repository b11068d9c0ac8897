//! The expirer: records the expiry of every pending transfer whose `expires_at` has
//! passed. It finds them in the transfers view and expires each through the command
//! path, so the expiry is one event appended with the transfer's expected version: two
//! instances racing on one transfer cannot both write it (the loser's retry decides on
//! the expired state and refuses). The bootstrap runs it about every second, on the one
//! instance that holds the expirer's lease.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::{stream, StreamExt};
use ledger_domain::{DomainError, TransferId};

use crate::commands::{CommandContext, CommandError, CommandService};
use crate::ports::readmodel::{ReadModelError, ReadModels};
use crate::ports::system::Clock;

/// The actor recorded on expiry events.
pub const EXPIRER_ACTOR: &str = "system:expirer";

/// How many due transfers one step expires at most.
pub const EXPIRER_BATCH: usize = 500;

/// How many of them are expired at the same time.
const CONCURRENT_EXPIRIES: usize = 32;

/// Why a step stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExpirerError {
    /// The transfers view could not be read.
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    /// An expiry could not be written (the store is down, ...).
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// Expires due pending transfers.
pub struct Expirer {
    commands: Arc<CommandService>,
    views: Arc<dyn ReadModels>,
    clock: Arc<dyn Clock>,
}

impl Expirer {
    /// An expirer writing through `commands`.
    pub fn new(
        commands: Arc<CommandService>,
        views: Arc<dyn ReadModels>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            commands,
            views,
            clock,
        }
    }

    /// One pass: expires the transfers due now (at most [`EXPIRER_BATCH`]); returns how
    /// many expiries it recorded. A transfer posted, voided or expired meanwhile (the
    /// view lags the events) is passed over.
    pub async fn step(&self) -> Result<usize, ExpirerError> {
        let now = self.clock.now();
        let due = self.views.due_transfers(now, EXPIRER_BATCH).await?;
        let ctx = CommandContext {
            principal: crate::access::Principal::new(EXPIRER_ACTOR, Default::default()),
            ..CommandContext::default()
        };
        let ids = due
            .into_iter()
            .filter_map(|id| TransferId::from_stored(id).ok());
        // Many at once: each is a command of its own, and concurrent commands share
        // commits (one after another, a burst of a few thousand due in the same second
        // took longer than the five seconds an expiry is promised within).
        // Once the store is found down the rest are not tried: the next pass does.
        let down = AtomicBool::new(false);
        let outcomes: Vec<_> = stream::iter(ids)
            .filter(|_| std::future::ready(!down.load(Ordering::Relaxed)))
            .map(|id| async {
                let outcome = self.commands.expire_transfer(id.clone(), now, &ctx).await;
                if matches!(outcome, Err(CommandError::Unavailable(_))) {
                    down.store(true, Ordering::Relaxed);
                }
                (id, outcome)
            })
            .buffer_unordered(CONCURRENT_EXPIRIES)
            .collect()
            .await;
        let mut recorded = 0;
        let mut unavailable = None;
        for (id, outcome) in outcomes {
            match outcome {
                Ok(_) => recorded += 1,
                Err(CommandError::Refused(
                    DomainError::TransferNotPending(_)
                    | DomainError::TransferExpired(_)
                    | DomainError::TransferNotDue(_),
                )) => {}
                // The store is down: the next pass tries again.
                Err(e @ CommandError::Unavailable(_)) => unavailable = Some(e),
                // Anything else is about this transfer (a conflict that outlasted the
                // retries, an unreadable stream): the others are not held up by it.
                Err(e) => {
                    tracing::warn!(transfer = %id.as_str(), error = %e, "expiry not recorded; retried next pass")
                }
            }
        }
        match unavailable {
            Some(e) => Err(e.into()),
            None => Ok(recorded),
        }
    }
}
