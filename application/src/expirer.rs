//! The expirer: records the expiry of every pending transfer whose `expires_at` has
//! passed. It finds them in the transfers view and expires each through the command
//! path, so the expiry is one event appended with the transfer's expected version: two
//! instances racing on one transfer cannot both write it (the loser's retry decides on
//! the expired state and refuses). The bootstrap runs it about every second, on the one
//! instance that holds the expirer's lease.

use std::sync::Arc;

use ledger_domain::{DomainError, TransferId};

use crate::commands::{CommandContext, CommandError, CommandService};
use crate::ports::readmodel::{ReadModelError, ReadModels};
use crate::ports::system::Clock;

/// The actor recorded on expiry events.
pub const EXPIRER_ACTOR: &str = "system:expirer";

/// How many due transfers one step expires at most.
pub const EXPIRER_BATCH: usize = 500;

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
        let mut recorded = 0;
        for id in due {
            let id_text = id.clone();
            let Ok(id) = TransferId::from_stored(id) else {
                continue;
            };
            match self.commands.expire_transfer(id, now, &ctx).await {
                Ok(_) => recorded += 1,
                Err(CommandError::Refused(
                    DomainError::TransferNotPending(_)
                    | DomainError::TransferExpired(_)
                    | DomainError::TransferNotDue(_),
                )) => {}
                // The store is down: the next pass tries again.
                Err(e @ CommandError::Unavailable(_)) => return Err(e.into()),
                // Anything else is about this transfer (a conflict that outlasted the
                // retries, an unreadable stream): the others are not held up by it.
                Err(e) => {
                    tracing::warn!(transfer = %id_text, error = %e, "expiry not recorded; retried next pass")
                }
            }
        }
        Ok(recorded)
    }
}
