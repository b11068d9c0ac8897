//! The one decide-and-append loop every command runs through: load what it decides on,
//! decide (events, idempotency records and the answer, refusals included), append it all
//! in one atomic write with the expected versions, and on a version conflict forget the
//! cached state and decide again, at most `max_attempts` times (from the second conflict
//! in a row inside a hold of other processes' appends, where the store has one, else
//! after a wait). Account commands come here as per-stream batches (`pipeline.rs`),
//! transfers as one unit of three streams.

use std::collections::HashMap;

use async_trait::async_trait;
use ledger_domain::{Account, Transfer, Versioned};

use crate::commands::CommandError;
use crate::pipeline::Pipeline;
use crate::ports::store::{AppendError, AppendHold, AppendRequest, IdempotencyRecord};
use crate::repository::Repository;

/// What a unit decided: the one write, the accounts whose new state the cache and the
/// snapshots get once it is written, and what to answer then.
pub(crate) struct Decision<O> {
    /// Events of every stream and the idempotency records, in one atomic append.
    pub(crate) request: AppendRequest,
    /// `(stream, version before, state after)` of each account written.
    pub(crate) accounts: Vec<(String, u64, Versioned<Account>)>,
    /// The same of each transfer written.
    pub(crate) transfers: Vec<(String, u64, Versioned<Transfer>)>,
    /// The answer once written.
    pub(crate) outcome: O,
    /// Whether it holds a final refusal (one that may be stored under a key).
    pub(crate) refused: bool,
}

impl Decision<()> {
    /// The same write, answered with `outcome` (`refused`: a final refusal).
    pub(crate) fn answering<O>(self, outcome: O, refused: bool) -> Decision<O> {
        Decision {
            request: self.request,
            accounts: self.accounts,
            transfers: self.transfers,
            outcome,
            refused,
        }
    }
}

/// A command (or a batch of them) as the loop sees it.
#[async_trait]
pub(crate) trait Unit: Sync {
    /// The states it decides on.
    type Loaded: Send + Sync;
    /// Its answer.
    type Outcome: Send;
    /// Loads the states: from the store, past the cache, when `fresh` (or when a
    /// precondition is given).
    async fn load(&self, repo: &Repository, fresh: bool) -> Result<Self::Loaded, CommandError>;
    /// Decides against them.
    fn decide(&self, pipeline: &Pipeline, loaded: &Self::Loaded) -> Decision<Self::Outcome>;
    /// Drops the cached states after a conflict.
    fn forget(&self, repo: &Repository);
}

/// How a unit's write ended.
pub(crate) enum Written<O> {
    /// Written (or nothing to write): its outcome.
    Done(O),
    /// One of its idempotency keys was stored meanwhile: that record.
    KeyTaken(IdempotencyRecord),
    /// Not written: why.
    Failed(CommandError),
}

impl Pipeline {
    /// Runs the loop for one unit (the caller holds its streams' locks). A refusal is
    /// final (and stored under its key), so one decided on cached state is decided
    /// again on the store's: another instance may have moved the account meanwhile.
    pub(crate) async fn write<U: Unit>(&self, unit: &U) -> Written<U::Outcome> {
        let mut fresh = false;
        let mut conflicts = 0;
        let mut hold = Hold::NotAsked;
        while conflicts < self.max_attempts {
            let loaded = match unit.load(&self.repo, fresh).await {
                Ok(loaded) => loaded,
                Err(e) => return Written::Failed(e),
            };
            let Decision {
                request,
                accounts,
                transfers,
                outcome,
                refused,
            } = unit.decide(self, &loaded);
            if refused && !fresh {
                unit.forget(&self.repo);
                fresh = true;
                continue;
            }
            if request.streams.is_empty() && request.idempotency.is_empty() {
                return Written::Done(outcome);
            }
            let last_ids: HashMap<String, uuid::Uuid> = request
                .streams
                .iter()
                .filter_map(|w| w.events.last().map(|e| (w.stream_id.clone(), e.event_id)))
                .collect();
            match self.store.append(request).await {
                Ok(()) => {
                    for (stream, before, after) in &accounts {
                        if let Some(id) = last_ids.get(stream) {
                            self.repo.after_commit(stream, *before, after, *id).await;
                        }
                    }
                    for (stream, before, after) in &transfers {
                        if let Some(id) = last_ids.get(stream) {
                            self.repo.after_commit(stream, *before, after, *id).await;
                        }
                    }
                    return Written::Done(outcome);
                }
                Err(AppendError::Conflict { .. }) => {
                    // Decide again on the store's state (the cache was behind, or a
                    // stream the unit did not read exists).
                    conflicts += 1;
                    unit.forget(&self.repo);
                    fresh = true;
                    if conflicts < 2 || conflicts >= self.max_attempts {
                        continue;
                    }
                    // The attempt right after the hold is taken goes at once; a held
                    // attempt that conflicts (this process's own writers share the
                    // hold) waits as an unheld one does.
                    if matches!(hold, Hold::NotAsked) {
                        hold = self.hold().await;
                        if matches!(hold, Hold::Held { .. }) {
                            continue;
                        }
                    }
                    futures_timer::Delay::new(backoff(conflicts)).await;
                }
                Err(AppendError::IdempotencyKeyExists(stored)) => return Written::KeyTaken(stored),
                Err(AppendError::Unavailable(m)) => {
                    return Written::Failed(CommandError::Unavailable(m))
                }
                Err(AppendError::OutcomeUnknown(m)) => {
                    // Whatever the cache holds may be behind the store now.
                    unit.forget(&self.repo);
                    return Written::Failed(CommandError::OutcomeUnknown(m));
                }
                Err(AppendError::Failed(m)) => return Written::Failed(CommandError::Internal(m)),
            }
        }
        Written::Failed(CommandError::Conflict)
    }
}

/// Other processes' appends held off for one command (`EventStore::hold_appends`):
/// asked for once, at its second conflict in a row, and kept until the command ends,
/// so another process that keeps writing its streams cannot move them between its load
/// and its append.
enum Hold {
    /// Not asked for yet.
    NotAsked,
    /// The store does not hold (or could not now): the waits stay.
    Unheld,
    /// Held; let go when dropped.
    Held { _hold: AppendHold },
}

impl Pipeline {
    async fn hold(&self) -> Hold {
        match self.store.hold_appends().await {
            Ok(Some(held)) => Hold::Held { _hold: held },
            Ok(None) => Hold::Unheld,
            Err(e) => {
                tracing::debug!(error = %e, "other processes' appends could not be held; waiting instead");
                Hold::Unheld
            }
        }
    }
}

/// The wait before deciding again after the `n`th conflict in a row: another instance
/// (or process) keeps writing the same streams, so longer each time and partly random,
/// so that two deciding the same streams stop meeting (immediate retries ran out within
/// about 150 ms, and two instances' hot accounts answered 409s).
fn backoff(n: u32) -> std::time::Duration {
    let mut random = [0u8; 2];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from(u16::from_le_bytes(random)) % 1_000,
        Err(_) => 500,
    };
    std::time::Duration::from_micros(u64::from(n) * (500 + jitter))
}
