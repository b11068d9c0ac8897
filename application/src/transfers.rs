//! Transfers, posted at once or pending, and the post, void and expiry of pending
//! ones: each decided across the two accounts and the transfer's own stream, and
//! written in one atomic append (all three streams, or none).

use chrono::{DateTime, Duration, Utc};
use ledger_domain::{
    AccountId, Decimal, DomainError, Note, Settlement, Transfer, TransferId, TransferOrder,
    ValueError,
};
use serde::{Deserialize, Serialize};

use crate::commands::CommandService;
use crate::commands::{admit, keyed_fingerprint, text, AccountReply, CommandContext, CommandError};
use crate::idempotency::{is_operation_key, record_refusal, replay, scoped_key};
use crate::ports::store::{AppendError, AppendRequest};
use crate::transfer_unit::{TransferUnit, What};
use crate::transfer_views::TransferView;
use crate::write::Written;

/// The longest `expires_in_seconds` (30 days).
pub const MAX_EXPIRES_IN_SECONDS: u32 = 2_592_000;

/// Move money between two accounts of one currency, at once or pending.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferRequest {
    /// The caller's id for it; a UUID when `None`.
    pub transfer_id: Option<TransferId>,
    /// Debited account.
    pub from: AccountId,
    /// Credited account.
    pub to: AccountId,
    /// Positive amount.
    pub amount: Decimal,
    /// Optional note.
    pub description: Option<Note>,
    /// Reserve now, post or void later.
    pub pending: bool,
    /// A pending transfer's life (1 to [`MAX_EXPIRES_IN_SECONDS`]); none: it never expires.
    pub expires_in_seconds: Option<u32>,
}

impl TransferRequest {
    /// Refused unless its life is 1 to [`MAX_EXPIRES_IN_SECONDS`] seconds, on a
    /// pending transfer only.
    pub(crate) fn check(&self) -> Result<(), CommandError> {
        match self.expires_in_seconds {
            Some(s) if !self.pending || !(1..=MAX_EXPIRES_IN_SECONDS).contains(&s) => {
                Err(DomainError::Validation(ValueError::OutOfRange {
                    what: "expires_in_seconds",
                    range: "1 to 2592000, on a pending transfer",
                })
                .into())
            }
            _ => Ok(()),
        }
    }

    /// The domain's order for it (once [`Self::check`]ed), as transfer `transfer_id`
    /// decided at `now`: a pending transfer's life runs from the time it is recorded.
    pub(crate) fn order(&self, transfer_id: TransferId, now: DateTime<Utc>) -> TransferOrder {
        TransferOrder {
            transfer_id,
            from: self.from.clone(),
            to: self.to.clone(),
            amount: self.amount,
            description: self.description.clone(),
            pending: self.pending,
            expires_at: self
                .expires_in_seconds
                .map(|s| now + Duration::seconds(i64::from(s))),
        }
    }
}

/// A transfer and both accounts right after the command that answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReply {
    /// The transfer.
    #[serde(flatten)]
    pub transfer: TransferView,
    /// The debited account.
    pub from: AccountReply,
    /// The credited account.
    pub to: AccountReply,
}

/// The stream of a transfer. `/` cannot occur in an account id, so the two never collide.
pub fn transfer_stream(id: &TransferId) -> String {
    transfer_stream_of(id.as_str())
}

/// The stream of the transfer with this id, given as text (as a read model keeps it).
pub(crate) fn transfer_stream_of(id: &str) -> String {
    format!("{TRANSFER_STREAM_PREFIX}{id}")
}

/// The transfer id a stream is the stream of, if it is a transfer's.
pub fn transfer_id_of_stream(stream_id: &str) -> Option<&str> {
    stream_id.strip_prefix(TRANSFER_STREAM_PREFIX)
}

const TRANSFER_STREAM_PREFIX: &str = "transfer/";

impl CommandService {
    /// Runs a transfer: either both legs (and the transfer record) exist, or neither.
    pub async fn transfer(
        &self,
        req: TransferRequest,
        ctx: &CommandContext,
    ) -> Result<TransferReply, CommandError> {
        admit(ctx)?;
        let chosen = req.transfer_id.as_ref().map_or("\u{0}", |t| t.as_str());
        let if_match = ctx
            .if_match
            .as_ref()
            .map(crate::IfMatch::canonical)
            .unwrap_or_default();
        let amount = req.amount.canonical();
        let mut parts = vec![
            "transfer",
            chosen,
            req.from.as_str(),
            req.to.as_str(),
            &amount,
            text(&req.description),
            &if_match,
        ];
        // Posted at once, the parts are what they always were, so stored keys match.
        let pending = req
            .pending
            .then(|| format!("pending:{:?}", req.expires_in_seconds));
        parts.extend(pending.as_deref());
        let fp = keyed_fingerprint(ctx, &parts);
        if let Some(stored) = self.stored_outcome(ctx, &fp).await? {
            return stored;
        }
        let transfer_id = match req.transfer_id.clone() {
            Some(t) => t,
            None => TransferId::parse(self.pipeline.ids.new_id().to_string())
                .map_err(|e| CommandError::Internal(e.to_string()))?,
        };
        req.check()?;
        let (from, to) = (req.from.clone(), req.to.clone());
        self.run_transfer(What::New(req, transfer_id), from, to, ctx, &fp)
            .await
    }

    /// Posts part (`amount`) or all of a pending transfer.
    pub async fn post_transfer(
        &self,
        id: TransferId,
        amount: Option<Decimal>,
        ctx: &CommandContext,
    ) -> Result<TransferReply, CommandError> {
        admit(ctx)?;
        let canonical = amount.map(|a| a.canonical());
        let fp = keyed_fingerprint(
            ctx,
            &["post", id.as_str(), canonical.as_deref().unwrap_or("\u{0}")],
        );
        self.settle(id, Settlement::Post(amount), ctx, fp).await
    }

    /// Voids what remains of a pending transfer.
    pub async fn void_transfer(
        &self,
        id: TransferId,
        reason: Option<Note>,
        ctx: &CommandContext,
    ) -> Result<TransferReply, CommandError> {
        admit(ctx)?;
        let fp = keyed_fingerprint(ctx, &["void", id.as_str(), text(&reason)]);
        self.settle(id, Settlement::Void(reason), ctx, fp).await
    }

    /// Records the expiry of a pending transfer between `parties` (its payer and payee,
    /// as [`Self::parties`] gives them) whose `expires_at` is at or before `now` (the
    /// expirer's command): written once, however many instances ask.
    pub(crate) async fn expire_transfer(
        &self,
        id: TransferId,
        (from, to): (AccountId, AccountId),
        now: DateTime<Utc>,
        ctx: &CommandContext,
    ) -> Result<TransferReply, CommandError> {
        self.run_transfer(
            What::Settle(id, Settlement::Expire, Some(now)),
            from,
            to,
            ctx,
            "",
        )
        .await
    }

    async fn settle(
        &self,
        id: TransferId,
        settlement: Settlement,
        ctx: &CommandContext,
        fp: String,
    ) -> Result<TransferReply, CommandError> {
        if let Some(stored) = self.stored_outcome(ctx, &fp).await? {
            return stored;
        }
        let (from, to) = match self.parties(&id).await {
            Ok(parties) => parties,
            Err(e) => return self.unsettled(ctx, &fp, e).await,
        };
        // Out of an owner key's scope, the transfer does not exist: answered as for one
        // that does not (`unsettled`), before anything is decided.
        // An account's owner never changes, so this check cannot go stale.
        if ctx.principal.scope().is_some() {
            let repo = &self.pipeline.repo;
            // From the store if the cache holds "no such account" (opened elsewhere).
            let payer = repo
                .load_existing::<ledger_domain::Account>(from.as_str())
                .await?;
            let payee = repo
                .load_existing::<ledger_domain::Account>(to.as_str())
                .await?;
            let posting = matches!(settlement, Settlement::Post(_));
            if !ctx
                .principal
                .may_settle(posting, &payer.state, &payee.state)
            {
                return self
                    .unsettled(ctx, &fp, DomainError::TransferNotFound.into())
                    .await;
            }
        }
        self.run_transfer(What::Settle(id, settlement, None), from, to, ctx, &fp)
            .await
    }

    /// A post or void refused before it is decided (no such transfer, or none in an
    /// owner key's scope). Not stored under a client's key, which may be used again
    /// once the transfer exists; stored under a non-atomic batch operation's key, since
    /// a retried batch gets its whole first answer (a transfer made meanwhile must not
    /// be posted by the retry). A concurrent retry's stored outcome wins.
    async fn unsettled(
        &self,
        ctx: &CommandContext,
        fp: &str,
        err: CommandError,
    ) -> Result<TransferReply, CommandError> {
        let batched = ctx.idempotency_key.as_ref().filter(|k| is_operation_key(k));
        let Some(key) = batched.filter(|k| err.is_recorded_under(k)) else {
            return Err(err);
        };
        let record = record_refusal(scoped_key(&ctx.principal.actor, key), fp.into(), &err);
        let request = AppendRequest {
            streams: vec![],
            idempotency: vec![record],
        };
        match self.pipeline.store.append(request).await {
            Ok(()) => Err(err),
            Err(AppendError::IdempotencyKeyExists(_)) => {
                self.stored_outcome(ctx, fp).await?.unwrap_or(Err(err))
            }
            // Only the key's record was at stake: sent again, the request is decided again.
            Err(AppendError::Unavailable(m) | AppendError::OutcomeUnknown(m)) => {
                Err(CommandError::Unavailable(m))
            }
            Err(e) => Err(CommandError::Internal(e.to_string())),
        }
    }

    /// The two accounts of an existing transfer (they never change).
    pub(crate) async fn parties(
        &self,
        id: &TransferId,
    ) -> Result<(AccountId, AccountId), CommandError> {
        let stream = transfer_stream(id);
        let repo = &self.pipeline.repo;
        // Only the store can say a transfer does not exist.
        let t = repo.load_existing::<Transfer>(&stream).await?;
        match t.state.recorded() {
            Some(r) => Ok((r.from.clone(), r.to.clone())),
            None => Err(DomainError::TransferNotFound.into()),
        }
    }

    /// Runs a transfer unit under both accounts' locks.
    async fn run_transfer(
        &self,
        what: What,
        from: AccountId,
        to: AccountId,
        ctx: &CommandContext,
        fp: &str,
    ) -> Result<TransferReply, CommandError> {
        let unit = TransferUnit::new(what, from, to, ctx, fp, self.pipeline.ids.new_id());
        let _serialized = self
            .pipeline
            .locks
            .lock(&[unit.from.as_str(), unit.to.as_str()])
            .await;
        match self.pipeline.write(&unit).await {
            Written::Done(outcome) => outcome,
            Written::KeyTaken(stored) => replay(&stored, fp),
            Written::Failed(e) => Err(e),
        }
    }
}
