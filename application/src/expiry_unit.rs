//! A group of due transfers' expiries as one unit of the write loop: every stream they
//! touch is loaded, the expiries are decided in the order they fell due (each against
//! the state the earlier ones left, so each account records them in that order), and
//! all their events are one append. A transfer that is no longer pending (posted,
//! voided or expired meanwhile; the view the expirer reads lags) is passed over, not a
//! refusal of the group; one refused for another reason is a refusal decided on what
//! may be cached state (an account another instance moved), so the loop decides the
//! group again on the store's state, and only then passes it over. Each expiry's
//! events are those one expiry alone writes (its own causation id, the transfer's id
//! as correlation).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use ledger_domain::{plan_settlement, DomainError, Settlement, TransferId};

use crate::batch_state::{Finished, Loaded, Streams, Working};
use crate::commands::{metadata, CommandContext, CommandError, CommandService};
use crate::expirer::Due;
use crate::pipeline::Pipeline;
use crate::ports::store::AppendRequest;
use crate::repository::Repository;
use crate::transfers::transfer_stream;
use crate::write::{Decision, Unit, Written};

/// The expiries recorded, and those refused (with why) for a reason other than no
/// longer being pending.
type Decided = (Vec<TransferId>, Vec<(TransferId, String)>);

struct ExpiryUnit<'a> {
    due: &'a [Due],
    now: DateTime<Utc>,
    ctx: &'a CommandContext,
    streams: Streams,
}

impl<'a> ExpiryUnit<'a> {
    fn new(due: &'a [Due], now: DateTime<Utc>, ctx: &'a CommandContext) -> Self {
        let streams = Streams {
            accounts: due
                .iter()
                .flat_map(|(_, (from, to))| [from.to_string(), to.to_string()])
                .collect(),
            transfers: due.iter().map(|(id, _)| transfer_stream(id)).collect(),
            made: HashSet::new(),
        };
        Self {
            due,
            now,
            ctx,
            streams: streams.sorted(),
        }
    }

    /// Decides each expiry in turn: the ids of those recorded, and those refused for a
    /// reason other than no longer being pending, with the reason.
    fn decide_all(&self, w: &mut Working<'_>) -> Result<Decided, CommandError> {
        let mut expired = Vec::with_capacity(self.due.len());
        let mut refused = Vec::new();
        for (id, (from, to)) in self.due {
            let stream = transfer_stream(id);
            let plan = plan_settlement(
                &Settlement::Expire,
                self.now,
                &w.transfer(&stream)?.state,
                &w.account(from.as_str())?.state,
                &w.account(to.as_str())?.state,
            );
            let plan = match plan {
                Ok(plan) => plan,
                Err(
                    DomainError::TransferNotPending(_)
                    | DomainError::TransferExpired(_)
                    | DomainError::TransferNotDue(_),
                ) => continue,
                Err(e) => {
                    refused.push((id.clone(), e.to_string()));
                    continue;
                }
            };
            let meta = metadata(self.ctx, &w.p.ids.new_id().to_string(), Some(id.as_str()));
            w.apply_plan(id, from.as_str(), to.as_str(), &plan, &meta)?;
            expired.push(id.clone());
        }
        Ok((expired, refused))
    }
}

#[async_trait::async_trait]
impl Unit for ExpiryUnit<'_> {
    type Loaded = Loaded;
    type Outcome = Result<Decided, CommandError>;

    async fn load(&self, repo: &Repository, fresh: bool) -> Result<Loaded, CommandError> {
        self.streams.load(repo, fresh).await
    }

    fn decide(&self, p: &Pipeline, loaded: &Loaded) -> Decision<Self::Outcome> {
        let mut w = Working::new(p, loaded, p.times(loaded.heads_at()).1);
        let (outcome, refused, finished) = match self.decide_all(&mut w) {
            Ok(decided) => {
                let refused = !decided.1.is_empty();
                (Ok(decided), refused, w.finish())
            }
            Err(e) => (Err(e), false, Finished::default()),
        };
        let Finished {
            streams,
            accounts,
            transfers,
        } = finished;
        Decision {
            request: AppendRequest {
                streams,
                idempotency: vec![],
            },
            accounts,
            transfers,
            // Decided again on the store's state before anything is written.
            refused,
            outcome,
        }
    }

    fn forget(&self, repo: &Repository) {
        self.streams.forget(repo);
    }
}

impl CommandService {
    /// Expires these due transfers (in the order they fell due) in one append, under
    /// their accounts' locks: the ids of those recorded (the others were no longer
    /// pending).
    pub(crate) async fn expire_group(
        &self,
        due: &[Due],
        now: DateTime<Utc>,
        ctx: &CommandContext,
    ) -> Result<Vec<TransferId>, CommandError> {
        let unit = ExpiryUnit::new(due, now, ctx);
        let accounts: Vec<&str> = unit.streams.accounts.iter().map(String::as_str).collect();
        let _serialized = self.pipeline.locks.lock(&accounts).await;
        match self.pipeline.write(&unit).await {
            Written::Done(outcome) => {
                let (expired, refused) = outcome?;
                // Logged once decided on the store's state (a refusal on cached state is
                // decided again first, and is most often an account another instance
                // moved: no warning for it).
                for (id, why) in refused {
                    tracing::warn!(transfer = %id.as_str(), error = %why, "expiry not recorded; retried next pass");
                }
                Ok(expired)
            }
            // The unit writes no idempotency record.
            Written::KeyTaken(_) => Err(CommandError::Internal(
                "an expiry group met an idempotency key".into(),
            )),
            Written::Failed(e) => Err(e),
        }
    }
}
