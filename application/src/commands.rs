//! The command side: load, decide, append with the expected version, retry on
//! conflict, store the idempotent outcome in the same write, answer the new state.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use ledger_domain::{AccountCommand, AccountId, Aggregate, ChainHash, DomainError, Note};

pub use crate::command_types::{
    AccountAction, AccountReply, CommandContext, CommandError, IfMatch, OpenAccount,
};

use crate::idempotency::{fingerprint, replay, scoped_key};
use crate::pipeline::Pipeline;
use crate::ports::store::{EventMetadata, EventStore, NewEvent};
use crate::ports::system::{Clock, IdGenerator, Spawner};
use crate::repository::Repository;

/// Runs commands against the event store: each account command through the pipeline
/// of its stream (`pipeline.rs`), transfers under both accounts' locks.
pub struct CommandService {
    pub(crate) pipeline: Arc<Pipeline>,
}

/// The metadata of a command's events.
pub(crate) fn metadata(
    ctx: &CommandContext,
    causation: &str,
    correlation: Option<&str>,
) -> EventMetadata {
    EventMetadata {
        actor: ctx.principal.actor.clone(),
        request_id: ctx.request_id.clone(),
        causation_id: Some(causation.to_owned()),
        correlation_id: correlation.map(str::to_owned),
    }
}

/// A command's events, encoded, with fresh ids and the time `at` the write was
/// decided, chained after `head` (the hash of the stream's event at `before`), which
/// moves to the last one's.
pub(crate) fn new_events<A: Aggregate>(
    ids: &dyn IdGenerator,
    chain: Chain<'_>,
    events: &[A::Event],
    meta: &EventMetadata,
    at: DateTime<Utc>,
) -> Vec<NewEvent> {
    let Chain {
        stream_id,
        before,
        head,
    } = chain;
    events
        .iter()
        .zip(before + 1..)
        .map(|(e, version)| {
            let enc = A::encode(e);
            let event = NewEvent {
                event_id: ids.new_id(),
                event_type: enc.event_type.to_owned(),
                schema_version: enc.schema_version,
                data: enc.data,
                metadata: meta.clone(),
                recorded_at: at,
                prev_hash: ChainHash::ZERO,
                hash: ChainHash::ZERO,
            }
            .chained(stream_id, version, *head);
            *head = event.hash;
            event
        })
        .collect()
}

/// Where new events of a stream go: after version `before`, whose hash is `head`.
pub(crate) struct Chain<'a> {
    pub(crate) stream_id: &'a str,
    pub(crate) before: u64,
    pub(crate) head: &'a mut ChainHash,
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
    /// A service retrying a conflicting command up to `max_attempts` times in all; the
    /// spawner runs each account's command batches (a task per busy account, so a
    /// caller that goes away never strands the others).
    pub fn new(
        store: Arc<dyn EventStore>,
        repo: Arc<Repository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        spawner: Arc<dyn Spawner>,
        max_attempts: u32,
    ) -> Self {
        Self {
            pipeline: Arc::new(Pipeline::new(
                store,
                repo,
                clock,
                ids,
                spawner,
                max_attempts,
            )),
        }
    }

    /// Opens an account.
    pub async fn open_account(
        &self,
        req: OpenAccount,
        ctx: &CommandContext,
    ) -> Result<AccountReply, CommandError> {
        admit(ctx)?;
        ctx.principal.may_open_for(&req.owner)?;
        let chosen = req.account_id.as_ref().map_or("\u{0}", |a| a.as_str());
        // A precondition is part of the request (it cannot hold on an open: 412); with
        // none the parts are what they always were, so stored keys still match.
        let if_match = ctx.if_match.as_ref().map(IfMatch::canonical);
        let mut parts = vec!["open", chosen, req.owner.as_str(), req.currency.code()];
        parts.extend(if_match.as_deref());
        // With no limit the parts are what they always were, so stored keys still match.
        let limit = req
            .overdraft_limit
            .map(|l| format!("limit:{}", l.canonical()));
        parts.extend(limit.as_deref());
        let fp = keyed_fingerprint(ctx, &parts);
        if let Some(stored) = self.stored_outcome(ctx, &fp).await? {
            return stored;
        }
        let id = match req.account_id {
            Some(id) => id,
            None => AccountId::parse(self.pipeline.ids.new_id().to_string())
                .map_err(|e| CommandError::Internal(e.to_string()))?,
        };
        let command = AccountCommand::Open {
            id: id.clone(),
            owner: req.owner,
            currency: req.currency,
            overdraft_limit: req.overdraft_limit,
        };
        self.execute(id, command, ctx, fp).await
    }

    /// Deposits, withdraws, closes or changes the overdraft limit.
    pub async fn act(
        &self,
        account_id: AccountId,
        action: AccountAction,
        ctx: &CommandContext,
    ) -> Result<AccountReply, CommandError> {
        admit(ctx)?;
        let if_match = ctx
            .if_match
            .as_ref()
            .map(IfMatch::canonical)
            .unwrap_or_default();
        let id = account_id.as_str();
        let fp = match &action {
            AccountAction::Deposit {
                amount,
                description,
            } => keyed_fingerprint(
                ctx,
                &[
                    "deposit",
                    id,
                    &amount.canonical(),
                    text(description),
                    &if_match,
                ],
            ),
            AccountAction::Withdraw {
                amount,
                description,
            } => keyed_fingerprint(
                ctx,
                &[
                    "withdraw",
                    id,
                    &amount.canonical(),
                    text(description),
                    &if_match,
                ],
            ),
            AccountAction::Close { reason } => {
                keyed_fingerprint(ctx, &["close", id, text(reason), &if_match])
            }
            AccountAction::SetLimit { overdraft_limit } => keyed_fingerprint(
                ctx,
                &["limits", id, &overdraft_limit.canonical(), &if_match],
            ),
        };
        let command = action.command();
        if let Some(stored) = self.stored_outcome(ctx, &fp).await? {
            return stored;
        }
        self.execute(account_id, command, ctx, fp).await
    }

    /// Queues the command on its account's stream and waits for its outcome.
    async fn execute(
        &self,
        id: AccountId,
        command: AccountCommand,
        ctx: &CommandContext,
        fp: String,
    ) -> Result<AccountReply, CommandError> {
        self.pipeline.submit(id, command, ctx, fp).await
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
            .pipeline
            .store
            .idempotency_record(&scoped_key(&ctx.principal.actor, key))
            .await?;
        Ok(record.map(|r| replay(&r, fp)))
    }
}

/// Whether the caller may run commands at all (403 `forbidden` otherwise); which
/// accounts it may act on is decided with each account's state, where it is decided.
pub(crate) fn admit(ctx: &CommandContext) -> Result<(), CommandError> {
    Ok(ctx.principal.require(crate::access::Capability::Command)?)
}

/// Why an `If-Match` precondition failed on an account at `version`: on one that does
/// not exist, 404 (there is nothing to match), except when `opening` it, which needs no
/// precondition (412).
pub(crate) fn precondition_failed(version: u64, opening: bool) -> CommandError {
    match (version, opening) {
        (0, false) => CommandError::Refused(DomainError::AccountNotFound),
        // `*` names every version but none of an account yet to be made.
        (0, true) => CommandError::Rejected {
            code: ledger_domain::ErrorCode::VersionMismatch,
            detail: "If-Match cannot hold when opening an account: it must not exist yet".into(),
        },
        _ => CommandError::VersionMismatch { actual: version },
    }
}
