//! The expirer: records the expiry of every pending transfer whose `expires_at` has
//! passed. It finds them in the transfers view and expires each through the command
//! path, so the expiry is one event appended with the transfer's expected version: two
//! instances racing on one transfer cannot both write it (the loser's retry decides on
//! the expired state and refuses). The bootstrap runs it about every second, on the one
//! instance that holds the expirer's lease.
//!
//! A pass writes the due transfers in groups of [`EXPIRY_GROUP`], one after another,
//! each group one append (`expiry_unit.rs`): each account sees its expiries in the order
//! they fell due (`expires_at`, then the transfer's id), as one after another would
//! record them, and a burst of thousands shares a few dozen commits. A group that cannot
//! be written (a conflict that outlasted the retries, an unreadable stream) is written
//! one expiry at a time, so one transfer never holds up the others.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use ledger_domain::{AccountId, DomainError, TransferId};

use crate::commands::{CommandContext, CommandError, CommandService};
use crate::ports::readmodel::{ReadModelError, ReadModels};
use crate::ports::system::Clock;

/// The actor recorded on expiry events.
pub const EXPIRER_ACTOR: &str = "system:expirer";

/// How many due transfers one step expires at most.
pub const EXPIRER_BATCH: usize = 500;

/// How many expiries one append records at most.
pub const EXPIRY_GROUP: usize = 100;

/// How many look-ups of a transfer's accounts run at the same time.
const CONCURRENT: usize = 32;

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

/// A due transfer with its payer and payee.
pub(crate) type Due = (TransferId, (AccountId, AccountId));

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
        let due = self.with_parties(due).await?;
        let mut recorded = 0;
        // Once the store is found down the rest are not tried: the next pass does.
        for group in due.chunks(EXPIRY_GROUP) {
            match self.commands.expire_group(group, now, &ctx).await {
                Ok(expired) => recorded += expired.len(),
                Err(e @ CommandError::Unavailable(_)) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, expiries = group.len(), "a group of expiries not written together; one at a time");
                    for (id, parties) in group {
                        recorded += usize::from(self.expire(id, parties, now, &ctx).await?);
                    }
                }
            }
        }
        Ok(recorded)
    }

    /// The due transfers, in order, with their accounts; those that cannot be read are
    /// left to the next pass.
    async fn with_parties(&self, due: Vec<String>) -> Result<Vec<Due>, CommandError> {
        let ids = due
            .into_iter()
            .filter_map(|id| TransferId::from_stored(id).ok());
        let found: Vec<_> = stream::iter(ids)
            .map(|id| async {
                let parties = self.commands.parties(&id).await;
                (id, parties)
            })
            .buffered(CONCURRENT)
            .collect()
            .await;
        let mut due = Vec::with_capacity(found.len());
        for (id, parties) in found {
            match parties {
                Ok(parties) => due.push((id, parties)),
                Err(e @ CommandError::Unavailable(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(transfer = %id.as_str(), error = %e, "expiry not recorded; retried next pass")
                }
            }
        }
        Ok(due)
    }

    /// Expires one transfer: whether an expiry was recorded; an error only when the
    /// store is down.
    async fn expire(
        &self,
        id: &TransferId,
        parties: &(AccountId, AccountId),
        now: DateTime<Utc>,
        ctx: &CommandContext,
    ) -> Result<bool, CommandError> {
        match self
            .commands
            .expire_transfer(id.clone(), parties.clone(), now, ctx)
            .await
        {
            Ok(_) => Ok(true),
            Err(CommandError::Refused(
                DomainError::TransferNotPending(_)
                | DomainError::TransferExpired(_)
                | DomainError::TransferNotDue(_),
            )) => Ok(false),
            Err(e @ CommandError::Unavailable(_)) => Err(e),
            // Anything else is about this transfer (a conflict that outlasted the
            // retries, an unreadable stream): the others are not held up by it.
            Err(e) => {
                tracing::warn!(transfer = %id.as_str(), error = %e, "expiry not recorded; retried next pass");
                Ok(false)
            }
        }
    }
}
