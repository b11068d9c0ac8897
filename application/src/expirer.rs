//! The expirer: records the expiry of every pending transfer whose `expires_at` has
//! passed. It finds them in the transfers view and expires each through the command
//! path, so the expiry is one event appended with the transfer's expected version: two
//! instances racing on one transfer cannot both write it (the loser's retry decides on
//! the expired state and refuses). The bootstrap runs it about every second, on the one
//! instance that holds the expirer's lease.
//!
//! A pass expires many at a time (their appends share commits), yet each account sees
//! its expiries in the order they fell due (`expires_at`, then the transfer's id), as one
//! after another would record them: an expiry waits for the ones before it on either of
//! its accounts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::{join_all, FutureExt};
use futures_util::{stream, StreamExt};
use ledger_domain::{AccountId, DomainError, TransferId};

use crate::commands::{CommandContext, CommandError, CommandService};
use crate::ports::readmodel::{ReadModelError, ReadModels};
use crate::ports::system::Clock;
use tokio::sync::oneshot;

/// The actor recorded on expiry events.
pub const EXPIRER_ACTOR: &str = "system:expirer";

/// How many due transfers one step expires at most.
pub const EXPIRER_BATCH: usize = 500;

/// How many expiries (or look-ups of a transfer's accounts) run at the same time.
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
type Due = (TransferId, (AccountId, AccountId));

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
        let waits_for = predecessors(&due);
        let (finished, done): (Vec<_>, Vec<_>) = due
            .iter()
            .map(|_| {
                let (tx, rx) = oneshot::channel::<()>();
                (tx, rx.shared())
            })
            .unzip();
        // Once the store is found down the rest are not tried: the next pass does.
        let down = &AtomicBool::new(false);
        let ctx = &ctx;
        let outcomes: Vec<_> = stream::iter(due.into_iter().zip(waits_for).zip(finished))
            .map(|(((id, parties), waits_for), finished)| {
                let before = join_all(waits_for.into_iter().map(|j| done[j].clone()));
                async move {
                    // Resolves when each one before has finished (or was dropped).
                    before.await;
                    let outcome = match down.load(Ordering::Relaxed) {
                        true => Ok(false),
                        false => self.expire(id, parties, now, ctx).await,
                    };
                    if outcome.is_err() {
                        down.store(true, Ordering::Relaxed);
                    }
                    drop(finished);
                    outcome
                }
            })
            // Every one waited for started earlier, so the oldest unfinished one
            // never waits: the pass always moves on.
            .buffer_unordered(CONCURRENT)
            .collect()
            .await;
        let mut recorded = 0;
        for outcome in outcomes {
            match outcome {
                Ok(true) => recorded += 1,
                Ok(false) => {}
                // The store is down: the next pass tries the rest again.
                Err(e) => return Err(e.into()),
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
        id: TransferId,
        parties: (AccountId, AccountId),
        now: DateTime<Utc>,
        ctx: &CommandContext,
    ) -> Result<bool, CommandError> {
        match self
            .commands
            .expire_transfer(id.clone(), parties, now, ctx)
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

/// For each due transfer (in the order they fell due), the earlier ones it waits for:
/// the last before it on each of its two accounts.
fn predecessors(due: &[Due]) -> Vec<Vec<usize>> {
    let mut last: HashMap<&AccountId, usize> = HashMap::new();
    let mut waits = Vec::with_capacity(due.len());
    for (i, (_, (from, to))) in due.iter().enumerate() {
        let mut before: Vec<usize> = [last.get(from), last.get(to)]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        before.dedup();
        waits.push(before);
        last.insert(from, i);
        last.insert(to, i);
    }
    waits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(id: &str, from: &str, to: &str) -> Due {
        let account = |a: &str| AccountId::parse(a).unwrap();
        (TransferId::parse(id).unwrap(), (account(from), account(to)))
    }

    #[test]
    fn each_expiry_waits_for_the_last_one_before_it_on_each_of_its_accounts() {
        let due = vec![
            due("t1", "a", "b"),
            due("t2", "c", "d"),
            due("t3", "b", "c"),
            due("t4", "e", "f"),
            due("t5", "a", "e"),
            due("t6", "d", "c"),
            due("t7", "b", "a"),
        ];
        let none: Vec<usize> = vec![];
        assert_eq!(
            predecessors(&due),
            vec![
                none.clone(),
                none.clone(),
                vec![0, 1],
                none,
                vec![0, 3],
                vec![1, 2],
                vec![2, 4]
            ]
        );
    }

    #[test]
    fn two_transfers_between_the_same_accounts_wait_once() {
        let due = vec![due("t1", "a", "b"), due("t2", "b", "a")];
        assert_eq!(predecessors(&due), vec![vec![], vec![0]]);
    }
}
