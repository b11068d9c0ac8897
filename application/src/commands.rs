//! The command side: load, decide, append with the expected version, retry on
//! conflict, store the idempotent outcome in the same write, answer the new state.

use std::sync::Arc;

use ledger_domain::{
    fold, Account, AccountCommand, AccountId, Aggregate, DomainError, Note, Versioned,
};

pub use crate::command_types::{
    AccountAction, AccountReply, CommandContext, CommandError, IfMatch, OpenAccount,
};

use crate::combine::Combiner;
use crate::idempotency::{fingerprint, record_ok, record_refusal, replay, scoped_key};
use crate::ports::store::{
    AppendError, AppendRequest, EventMetadata, EventStore, NewEvent, StreamWrite,
};
use crate::ports::system::{Clock, IdGenerator};
use crate::repository::Repository;

/// Runs commands against the event store.
pub struct CommandService {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) repo: Arc<Repository>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) max_attempts: u32,
    pub(crate) locks: Arc<crate::locks::StreamLocks>,
    /// Batches queued commands per stream; only with a spawner (it runs the batches).
    combiner: Option<Arc<Combiner>>,
}

/// The metadata of a command's events.
pub(crate) fn metadata(
    ctx: &CommandContext,
    causation: &str,
    correlation: Option<&str>,
) -> EventMetadata {
    EventMetadata {
        actor: ctx.actor.clone(),
        request_id: ctx.request_id.clone(),
        causation_id: Some(causation.to_owned()),
        correlation_id: correlation.map(str::to_owned),
    }
}

/// A command's events, encoded, with fresh ids and the clock's time.
pub(crate) fn new_events<A: Aggregate>(
    clock: &dyn Clock,
    ids: &dyn IdGenerator,
    events: &[A::Event],
    meta: &EventMetadata,
) -> Vec<NewEvent> {
    // Microseconds: what every store keeps, so a read-back time equals the written one.
    let now = chrono::SubsecRound::trunc_subsecs(clock.now(), 6);
    events
        .iter()
        .map(|e| {
            let enc = A::encode(e);
            NewEvent {
                event_id: ids.new_id(),
                event_type: enc.event_type.to_owned(),
                schema_version: enc.schema_version,
                data: enc.data,
                metadata: meta.clone(),
                recorded_at: now,
            }
        })
        .collect()
}

/// The request's fingerprint, which only a request with an idempotency key needs (it
/// is stored with the key, and compared when the key comes back).
pub(crate) fn keyed_fingerprint(ctx: &CommandContext, parts: &[&str]) -> String {
    if ctx.idempotency_key.is_some() {
        fingerprint(parts)
    } else {
        String::new()
    }
}

/// An optional note for a fingerprint (NUL stands for "none").
pub(crate) fn text(o: &Option<Note>) -> &str {
    o.as_ref().map_or("\u{0}", |n| n.as_str())
}

impl CommandService {
    /// A service retrying a conflicting command up to `max_attempts` times in all.
    pub fn new(
        store: Arc<dyn EventStore>,
        repo: Arc<Repository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        max_attempts: u32,
    ) -> Self {
        let max_attempts = max_attempts.max(1);
        let locks = Arc::new(crate::locks::StreamLocks::new(1024));
        let combiner = repo.spawner().map(|spawner| {
            Arc::new(Combiner::new(
                store.clone(),
                repo.clone(),
                clock.clone(),
                ids.clone(),
                locks.clone(),
                max_attempts,
                spawner,
            ))
        });
        Self {
            store,
            repo,
            clock,
            ids,
            max_attempts,
            locks,
            combiner,
        }
    }

    /// Opens an account.
    pub async fn open_account(
        &self,
        req: OpenAccount,
        ctx: &CommandContext,
    ) -> Result<AccountReply, CommandError> {
        let chosen = req.account_id.as_ref().map_or("\u{0}", |a| a.as_str());
        let fp = keyed_fingerprint(
            ctx,
            &["open", chosen, req.owner.as_str(), req.currency.code()],
        );
        if let Some(stored) = self.stored_outcome(ctx, &fp).await? {
            return stored;
        }
        let id = match req.account_id {
            Some(id) => id,
            None => AccountId::parse(self.ids.new_id().to_string())
                .map_err(|e| CommandError::Internal(e.to_string()))?,
        };
        let command = AccountCommand::Open {
            id: id.clone(),
            owner: req.owner,
            currency: req.currency,
        };
        self.execute(id, command, ctx, fp).await
    }

    /// Deposits, withdraws or closes.
    pub async fn act(
        &self,
        account_id: AccountId,
        action: AccountAction,
        ctx: &CommandContext,
    ) -> Result<AccountReply, CommandError> {
        let if_match = ctx
            .if_match
            .as_ref()
            .map(IfMatch::canonical)
            .unwrap_or_default();
        let (fp, command) = match action {
            AccountAction::Deposit {
                amount,
                description,
            } => (
                keyed_fingerprint(
                    ctx,
                    &[
                        "deposit",
                        account_id.as_str(),
                        &amount.canonical(),
                        text(&description),
                        &if_match,
                    ],
                ),
                AccountCommand::Deposit {
                    amount,
                    description,
                },
            ),
            AccountAction::Withdraw {
                amount,
                description,
            } => (
                keyed_fingerprint(
                    ctx,
                    &[
                        "withdraw",
                        account_id.as_str(),
                        &amount.canonical(),
                        text(&description),
                        &if_match,
                    ],
                ),
                AccountCommand::Withdraw {
                    amount,
                    description,
                },
            ),
            AccountAction::Close { reason } => (
                keyed_fingerprint(
                    ctx,
                    &["close", account_id.as_str(), text(&reason), &if_match],
                ),
                AccountCommand::Close { reason },
            ),
        };
        if let Some(stored) = self.stored_outcome(ctx, &fp).await? {
            return stored;
        }
        self.execute(account_id, command, ctx, fp).await
    }

    async fn execute(
        &self,
        id: AccountId,
        command: AccountCommand,
        ctx: &CommandContext,
        fp: String,
    ) -> Result<AccountReply, CommandError> {
        // Without a precondition, commands queued on one stream are batched.
        if let (Some(combiner), None) = (&self.combiner, &ctx.if_match) {
            return combiner.submit(id, command, ctx, fp).await;
        }
        let stream = id.as_str();
        let causation = self.ids.new_id().to_string();
        let _serialized = self.locks.lock(&[stream]).await;
        for _ in 0..self.max_attempts {
            // A precondition is checked against the store, never a possibly stale cache.
            let loaded = match ctx.if_match {
                Some(_) => self.repo.load_fresh::<Account>(stream).await?,
                None => self.repo.load::<Account>(stream).await?,
            };
            if ctx
                .if_match
                .as_ref()
                .is_some_and(|p| !p.holds_at(loaded.version))
            {
                let err = precondition_failed(&command, loaded.version);
                return self.refuse(err, ctx, &fp).await;
            }
            let events = match loaded.state.decide(&command) {
                Ok(events) => events,
                Err(e) => return self.refuse(e.into(), ctx, &fp).await,
            };
            let after = Versioned {
                state: fold(loaded.state.clone(), &events),
                version: loaded.version + events.len() as u64,
            };
            let reply = AccountReply::from_state(&after)
                .ok_or_else(|| CommandError::Internal("decided on no account".into()))?;
            let meta = self.metadata(ctx, &causation, None);
            let write = self.stream_write::<Account>(stream, loaded.version, &events, &meta);
            let idempotency = ctx
                .idempotency_key
                .as_ref()
                .map(|k| record_ok(scoped_key(&ctx.actor, k), fp.clone(), &reply));
            let last_event_id = write.events.last().map(|e| e.event_id).unwrap_or_default();
            let request = AppendRequest {
                streams: vec![write],
                idempotency: idempotency.into_iter().collect(),
            };
            match self.store.append(request).await {
                Ok(()) => {
                    self.repo
                        .after_commit(stream, loaded.version, &after, last_event_id)
                        .await;
                    return Ok(reply);
                }
                // The account moved between the load and the write: a list of versions
                // no longer holds; `*` still does, so that retries as without one.
                Err(AppendError::Conflict { .. })
                    if matches!(ctx.if_match, Some(IfMatch::Versions(_))) =>
                {
                    let now = self.repo.load_fresh::<Account>(stream).await?;
                    let err = CommandError::VersionMismatch {
                        actual: now.version,
                    };
                    return self.refuse(err, ctx, &fp).await;
                }
                Err(AppendError::Conflict { .. }) => {
                    self.repo.forget::<Account>(stream);
                    continue;
                }
                Err(e) => return self.append_failed(e, &fp),
            }
        }
        Err(CommandError::Conflict)
    }

    pub(crate) fn metadata(
        &self,
        ctx: &CommandContext,
        causation: &str,
        correlation: Option<&str>,
    ) -> EventMetadata {
        metadata(ctx, causation, correlation)
    }

    pub(crate) fn stream_write<A: Aggregate>(
        &self,
        stream_id: &str,
        expected_version: u64,
        events: &[A::Event],
        meta: &EventMetadata,
    ) -> StreamWrite {
        StreamWrite {
            stream_id: stream_id.to_owned(),
            stream_type: A::STREAM_TYPE.to_owned(),
            expected_version,
            events: new_events::<A>(self.clock.as_ref(), self.ids.as_ref(), events, meta),
        }
    }

    /// The stored outcome of this key, if the caller gave one and it is stored.
    pub(crate) async fn stored_outcome<R: serde::de::DeserializeOwned>(
        &self,
        ctx: &CommandContext,
        fp: &str,
    ) -> Result<Option<Result<R, CommandError>>, CommandError> {
        let Some(key) = &ctx.idempotency_key else {
            return Ok(None);
        };
        let record = self
            .store
            .idempotency_record(&scoped_key(&ctx.actor, key))
            .await?;
        Ok(record.map(|r| replay(&r, fp)))
    }

    /// Returns a final refusal, storing it under the idempotency key first.
    pub(crate) async fn refuse<R: serde::de::DeserializeOwned>(
        &self,
        err: CommandError,
        ctx: &CommandContext,
        fp: &str,
    ) -> Result<R, CommandError> {
        let Some(key) = ctx.idempotency_key.as_ref().filter(|_| err.is_final()) else {
            return Err(err);
        };
        let record = record_refusal(scoped_key(&ctx.actor, key), fp.to_owned(), &err);
        let request = AppendRequest {
            streams: vec![],
            idempotency: vec![record],
        };
        match self.store.append(request).await {
            Err(AppendError::IdempotencyKeyExists(stored)) => replay(&stored, fp),
            _ => Err(err),
        }
    }

    /// Maps a non-conflict append failure; a lost race on the key replays the winner.
    pub(crate) fn append_failed<R: serde::de::DeserializeOwned>(
        &self,
        e: AppendError,
        fp: &str,
    ) -> Result<R, CommandError> {
        match e {
            AppendError::IdempotencyKeyExists(stored) => replay(&stored, fp),
            AppendError::Unavailable(m) => Err(CommandError::Unavailable(m)),
            AppendError::Failed(m) => Err(CommandError::Internal(m)),
            AppendError::Conflict { .. } => Err(CommandError::Conflict),
        }
    }
}

/// Why an `If-Match` precondition failed: on an account that does not exist, 404 (there
/// is nothing to match), except for opening one, which needs no precondition (412).
pub(crate) fn precondition_failed(command: &AccountCommand, version: u64) -> CommandError {
    if version == 0 && !matches!(command, AccountCommand::Open { .. }) {
        CommandError::Refused(DomainError::AccountNotFound)
    } else {
        CommandError::VersionMismatch { actual: version }
    }
}
