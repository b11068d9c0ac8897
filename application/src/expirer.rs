//! The expirer: records the expiry of every pending transfer whose `expires_at` has
//! passed. It finds them in the transfers view and expires each through the command
//! path, so the expiry is one event appended with the transfer's expected version: two
//! instances racing on one transfer cannot both write it (the loser's retry decides on
//! the expired state and refuses). The bootstrap runs it about every second, on the one
//! instance that holds the expirer's lease.
//!
//! A pass pages through the transfers due at its start in their order (a keyset on
//! `(expires_at, id)`, so those it has just expired, which the lagging view still shows
//! pending, are not read again), up to [`STEP_PAGES`] pages of [`EXPIRER_BATCH`]; a
//! step that stops there leaves its place, and the next one (at once, at a new now)
//! goes on from it, until a step reaches the end of what is due and the next starts
//! from the soonest again. It writes them in groups of [`EXPIRY_GROUP`], one after
//! another, each group one append (`expiry_unit.rs`): each account sees its expiries in
//! the order they fell due (`expires_at`, then the transfer's id), as one after another
//! would record them, and a burst of thousands shares a few dozen commits. A group that
//! cannot be written (a conflict that outlasted the retries, an unreadable stream) is
//! written one expiry at a time, so one transfer never holds up the others.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use ledger_domain::{AccountId, DomainError, TransferId};

use crate::commands::{CommandContext, CommandError, CommandService};
use crate::ports::readmodel::{DueTransfer, ReadModelError, ReadModels};
use crate::ports::system::Clock;

/// The actor recorded on expiry events.
pub const EXPIRER_ACTOR: &str = "system:expirer";

/// How many due transfers one page of a step holds.
pub const EXPIRER_BATCH: usize = 500;

/// How many pages one step reads at most: a step that read them all stops, and the
/// loop starts the next at once, at a new now, from where it stopped.
pub const STEP_PAGES: usize = 10;

/// How many expiries one append records at most.
pub const EXPIRY_GROUP: usize = 50;

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

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stepped {
    /// How many expiries it recorded.
    pub recorded: usize,
    /// Whether it stopped at [`STEP_PAGES`] full pages (more may be due).
    pub more: bool,
}

/// Expires due pending transfers.
pub struct Expirer {
    commands: Arc<CommandService>,
    views: Arc<dyn ReadModels>,
    clock: Arc<dyn Clock>,
    /// Where the last step stopped when it read all its pages: the next goes on after.
    resume: Mutex<Option<DueTransfer>>,
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
            resume: Mutex::new(None),
        }
    }

    /// One pass: expires the transfers due now (at most [`STEP_PAGES`] pages of
    /// [`EXPIRER_BATCH`]); returns how many expiries it recorded, and whether it read
    /// every page it may (more may be due). A transfer posted, voided or expired
    /// meanwhile (the view lags the events) is passed over.
    pub async fn step(&self) -> Result<Stepped, ExpirerError> {
        let now = self.clock.now();
        let ctx = CommandContext {
            principal: crate::access::Principal::new(EXPIRER_ACTOR, Default::default()),
            ..CommandContext::default()
        };
        let mut stepped = Stepped::default();
        let mut after = self.resume.lock().ok().and_then(|mut r| r.take());
        for _ in 0..STEP_PAGES {
            let page = self
                .views
                .due_transfers(now, after.as_ref(), EXPIRER_BATCH)
                .await?;
            let full = page.len() == EXPIRER_BATCH;
            after = page.last().cloned();
            let ids = page.into_iter().map(|d| d.transfer_id).collect();
            stepped.recorded += self.expire_page(ids, now, &ctx).await?;
            if !full {
                return Ok(stepped);
            }
        }
        stepped.more = true;
        if let Ok(mut resume) = self.resume.lock() {
            *resume = after;
        }
        Ok(stepped)
    }

    /// Expires one page of due transfers (ids in the order they fell due).
    async fn expire_page(
        &self,
        ids: Vec<String>,
        now: DateTime<Utc>,
        ctx: &CommandContext,
    ) -> Result<usize, ExpirerError> {
        let due = self.with_parties(ids).await?;
        let mut recorded = 0;
        // Once the store is found down the rest are not tried: the next pass does.
        for group in due.chunks(EXPIRY_GROUP) {
            match self.commands.expire_group(group, now, ctx).await {
                Ok(expired) => recorded += expired.len(),
                Err(e @ CommandError::Unavailable(_)) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, expiries = group.len(), "a group of expiries not written together; one at a time");
                    for (id, parties) in group {
                        recorded += usize::from(self.expire(id, parties, now, ctx).await?);
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
