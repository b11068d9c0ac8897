//! Transfers: both legs and the transfer's own record in one atomic multi-stream write.

use ledger_domain::{
    fold, plan_transfer, Account, AccountId, Aggregate, Decimal, DomainError, Note, Transfer,
    TransferId, TransferOrder, Versioned,
};
use serde::{Deserialize, Serialize};

use crate::commands::{
    metadata, precondition_failed, AccountReply, CommandContext, CommandError, CommandService,
};
use crate::idempotency::{record_ok, record_refusal, replay, scoped_key};
use crate::pipeline::Pipeline;
use crate::ports::store::AppendRequest;
use crate::repository::Repository;
use crate::write::{Decision, Unit, Written};

/// Move money between two accounts of one currency.
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
}

/// Both accounts right after the transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReply {
    /// The transfer's id.
    pub transfer_id: String,
    /// The debited account.
    pub from: AccountReply,
    /// The credited account.
    pub to: AccountReply,
}

/// The stream of a transfer. `/` cannot occur in an account id, so the two never collide.
pub fn transfer_stream(id: &TransferId) -> String {
    format!("transfer/{id}")
}

impl CommandService {
    /// Runs a transfer: either both legs (and the transfer record) exist, or neither.
    pub async fn transfer(
        &self,
        req: TransferRequest,
        ctx: &CommandContext,
    ) -> Result<TransferReply, CommandError> {
        let chosen = req.transfer_id.as_ref().map_or("\u{0}", |t| t.as_str());
        let note = crate::commands::text(&req.description);
        let if_match = ctx
            .if_match
            .as_ref()
            .map(crate::IfMatch::canonical)
            .unwrap_or_default();
        let fp = crate::commands::keyed_fingerprint(
            ctx,
            &[
                "transfer",
                chosen,
                req.from.as_str(),
                req.to.as_str(),
                &req.amount.canonical(),
                note,
                &if_match,
            ],
        );
        if let Some(stored) = self.stored_outcome(ctx, &fp).await? {
            return stored;
        }
        let transfer_id = match req.transfer_id {
            Some(t) => t,
            None => TransferId::parse(self.pipeline.ids.new_id().to_string())
                .map_err(|e| CommandError::Internal(e.to_string()))?,
        };
        let unit = TransferUnit {
            record_stream: transfer_stream(&transfer_id),
            order: TransferOrder {
                transfer_id,
                from: req.from,
                to: req.to,
                amount: req.amount,
                description: req.description,
            },
            ctx,
            fp: &fp,
            causation: self.pipeline.ids.new_id().to_string(),
        };
        let _serialized = self
            .pipeline
            .locks
            .lock(&[unit.order.from.as_str(), unit.order.to.as_str()])
            .await;
        match self.pipeline.write(&unit).await {
            Written::Done(outcome) => outcome,
            Written::KeyTaken(stored) => replay(&stored, &fp),
            Written::Failed(e) => Err(e),
        }
    }
}

/// A transfer as a unit of the write loop: both accounts and the transfer's record.
struct TransferUnit<'a> {
    order: TransferOrder,
    record_stream: String,
    ctx: &'a CommandContext,
    fp: &'a str,
    causation: String,
}

/// The debited account, the credited one and the transfer's record, as loaded.
type Loaded = (Versioned<Account>, Versioned<Account>, Versioned<Transfer>);

impl TransferUnit<'_> {
    /// A refusal: nothing written but its idempotency record (when the caller gave a key
    /// and the refusal is final).
    fn refused(&self, err: CommandError) -> Decision<Result<TransferReply, CommandError>> {
        let record = self
            .ctx
            .idempotency_key
            .as_ref()
            .filter(|_| err.is_final())
            .map(|k| record_refusal(scoped_key(&self.ctx.actor, k), self.fp.to_owned(), &err));
        Decision {
            request: AppendRequest {
                streams: vec![],
                idempotency: record.into_iter().collect(),
            },
            accounts: vec![],
            refused: err.is_final(),
            outcome: Err(err),
        }
    }
}

#[async_trait::async_trait]
impl Unit for TransferUnit<'_> {
    type Loaded = Loaded;
    type Outcome = Result<TransferReply, CommandError>;

    async fn load(&self, repo: &Repository, fresh: bool) -> Result<Loaded, CommandError> {
        let (from, to) = (self.order.from.as_str(), self.order.to.as_str());
        // A precondition is checked against the store, never a possibly stale cache.
        let from = if fresh || self.ctx.if_match.is_some() {
            repo.load_fresh::<Account>(from).await?
        } else {
            repo.load::<Account>(from).await?
        };
        if fresh {
            let to = repo.load_fresh::<Account>(to).await?;
            let record = repo.load_fresh::<Transfer>(&self.record_stream).await?;
            return Ok((from, to, record));
        }
        let to = repo.load::<Account>(to).await?;
        let record = repo.load::<Transfer>(&self.record_stream).await?;
        Ok((from, to, record))
    }

    fn decide(&self, p: &Pipeline, (from, to, record): &Loaded) -> Decision<Self::Outcome> {
        // Two different accounts is checked before any precondition, as the domain
        // checks it before anything else.
        if self.order.from == self.order.to {
            return self.refused(DomainError::SameAccount.into());
        }
        if let Some(pre) = &self.ctx.if_match {
            if !pre.holds_at(from.version) {
                return self.refused(precondition_failed(from.version, false));
            }
        }
        let plan = match plan_transfer(&self.order, &from.state, &to.state, &record.state) {
            Ok(plan) => plan,
            Err(e) => return self.refused(e.into()),
        };
        let after = |v: &Versioned<Account>, events: &[<Account as Aggregate>::Event]| Versioned {
            state: fold(v.state.clone(), events),
            version: v.version + events.len() as u64,
        };
        let (from_after, to_after) = (after(from, &plan.debit), after(to, &plan.credit));
        let reply = match (
            AccountReply::from_state(&from_after),
            AccountReply::from_state(&to_after),
        ) {
            (Some(f), Some(t)) => TransferReply {
                transfer_id: self.order.transfer_id.to_string(),
                from: f,
                to: t,
            },
            _ => return self.refused(CommandError::Internal("transfer on no account".into())),
        };
        let meta = metadata(
            self.ctx,
            &self.causation,
            Some(self.order.transfer_id.as_str()),
        );
        let (from_id, to_id) = (self.order.from.as_str(), self.order.to.as_str());
        let idempotency = self
            .ctx
            .idempotency_key
            .as_ref()
            .map(|k| record_ok(scoped_key(&self.ctx.actor, k), self.fp.to_owned(), &reply));
        Decision {
            request: AppendRequest {
                streams: vec![
                    p.stream_write::<Account>(from_id, from.version, &plan.debit, &meta),
                    p.stream_write::<Account>(to_id, to.version, &plan.credit, &meta),
                    p.stream_write::<Transfer>(
                        &self.record_stream,
                        record.version,
                        &plan.record,
                        &meta,
                    ),
                ],
                idempotency: idempotency.into_iter().collect(),
            },
            accounts: vec![
                (from_id.to_owned(), from.version, from_after),
                (to_id.to_owned(), to.version, to_after),
            ],
            refused: false,
            outcome: Ok(reply),
        }
    }

    fn forget(&self, repo: &Repository) {
        repo.forget::<Account>(self.order.from.as_str());
        repo.forget::<Account>(self.order.to.as_str());
        repo.forget::<Transfer>(&self.record_stream);
    }
}
