//! One batch of commands on one account, as a unit of the write loop: decided in
//! arrival order, each against the state the previous ones left and its own `If-Match`,
//! into one append with one expected version.

use ledger_domain::{Account, AccountCommand, Aggregate, DomainError, Versioned};

use crate::commands::{metadata, precondition_failed, AccountReply, CommandError};
use crate::idempotency::{record_ok, record_refusal, scoped_key};
use crate::pipeline::{Pipeline, Queued};
use crate::ports::store::{AppendRequest, StreamWrite};
use crate::repository::Repository;
use crate::write::{Decision, Unit};

/// What one command of a batch came to.
pub(crate) enum Decided {
    /// Written; its reply.
    Applied(AccountReply),
    /// Refused; why.
    Refused(CommandError),
}

impl Pipeline {
    /// Decides every job in order against the state the previous ones left.
    fn decide(
        &self,
        stream: &str,
        loaded: &Versioned<Account>,
        jobs: &[Queued],
    ) -> Decision<Vec<Decided>> {
        let mut state = loaded.clone();
        let mut write = StreamWrite {
            stream_id: stream.to_owned(),
            stream_type: Account::STREAM_TYPE.to_owned(),
            expected_version: loaded.version,
            events: Vec::new(),
        };
        let mut records = Vec::new();
        let mut decided = Vec::with_capacity(jobs.len());
        // One time for every event of the append.
        let (_, at) = self.times([loaded.head_at]);
        for job in jobs {
            let raw_key = job.ctx.idempotency_key.as_deref();
            let key = raw_key.map(|k| scoped_key(&job.ctx.principal.actor, k));
            let precondition = job.ctx.if_match.as_ref();
            let opening = matches!(job.command, AccountCommand::Open { .. });
            // Another owner's account is, to an owner key, one that does not exist:
            // decided before anything else about it (its version, its state).
            // (Opening one that exists is `account_exists`, whatever its version.)
            let unseen = !job.ctx.principal.sees(&state.state);
            let decision = match precondition.filter(|p| !p.holds_at(state.version)) {
                _ if unseen && !opening => Err(CommandError::Refused(DomainError::AccountNotFound)),
                _ if unseen && state.version > 0 => {
                    Err(CommandError::Refused(DomainError::AccountExists))
                }
                Some(_) => Err(precondition_failed(state.version, opening)),
                None => state
                    .state
                    .decide(&job.command)
                    .map_err(CommandError::Refused),
            };
            let events = match decision {
                Ok(events) if !events.is_empty() => events,
                Ok(_) => {
                    decided.push(Decided::Refused(CommandError::Internal(
                        "a command decided no event".into(),
                    )));
                    continue;
                }
                Err(err) => {
                    if let Some(key) =
                        key.filter(|_| raw_key.is_some_and(|k| err.is_recorded_under(k)))
                    {
                        records.push(record_refusal(key, job.fp.clone(), &err));
                    }
                    decided.push(Decided::Refused(err));
                    continue;
                }
            };
            let meta = metadata(&job.ctx, &job.causation, None);
            let (next, new) = self.advance(stream, &state, &events, &meta, at);
            let Some(reply) = AccountReply::from_state(&next) else {
                // Not written, so the state stays where it was.
                decided.push(Decided::Refused(CommandError::Internal(
                    "decided on no account".into(),
                )));
                continue;
            };
            state = next;
            write.events.extend(new);
            if let Some(key) = key {
                records.push(record_ok(key, job.fp.clone(), &reply));
            }
            decided.push(Decided::Applied(reply));
        }
        let (streams, accounts) = if write.events.is_empty() {
            (vec![], vec![])
        } else {
            (
                vec![write],
                vec![(stream.to_owned(), loaded.version, state)],
            )
        };
        Decision {
            request: AppendRequest {
                streams,
                idempotency: records,
            },
            accounts,
            transfers: vec![],
            refused: decided
                .iter()
                .any(|d| matches!(d, Decided::Refused(e) if e.is_final())),
            outcome: decided,
        }
    }
}

/// The commands of one batch on one account, as a unit of the write loop.
pub(crate) struct AccountBatch<'a> {
    pub(crate) stream: &'a str,
    pub(crate) jobs: &'a [Queued],
    pub(crate) fresh: bool,
}

#[async_trait::async_trait]
impl Unit for AccountBatch<'_> {
    type Loaded = Versioned<Account>;
    type Outcome = Vec<Decided>;

    async fn load(
        &self,
        repo: &Repository,
        fresh: bool,
    ) -> Result<Versioned<Account>, CommandError> {
        let loaded = if self.fresh || fresh {
            repo.load_fresh::<Account>(self.stream).await
        } else {
            repo.load::<Account>(self.stream).await
        };
        Ok(loaded?)
    }

    fn decide(&self, pipeline: &Pipeline, loaded: &Versioned<Account>) -> Decision<Vec<Decided>> {
        pipeline.decide(self.stream, loaded, self.jobs)
    }

    fn forget(&self, repo: &Repository) {
        repo.forget::<Account>(self.stream);
    }
}
