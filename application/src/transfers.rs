//! Transfers: both legs and the transfer's own record in one atomic multi-stream write.

use ledger_domain::{
    fold, plan_transfer, Account, AccountId, Aggregate, Decimal, DomainError, Note, Transfer,
    TransferId, TransferOrder, Versioned,
};
use serde::{Deserialize, Serialize};

use crate::commands::{AccountReply, CommandContext, CommandError, CommandService};
use crate::idempotency::{record_ok, scoped_key};
use crate::ports::store::{AppendError, AppendRequest};

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
        if req.from == req.to {
            return self.refuse(DomainError::SameAccount.into(), ctx, &fp).await;
        }
        let transfer_id = match req.transfer_id {
            Some(t) => t,
            None => TransferId::parse(self.pipeline.ids.new_id().to_string())
                .map_err(|e| CommandError::Internal(e.to_string()))?,
        };
        let order = TransferOrder {
            transfer_id: transfer_id.clone(),
            from: req.from,
            to: req.to,
            amount: req.amount,
            description: req.description,
        };
        let record_stream = transfer_stream(&transfer_id);
        let causation = self.pipeline.ids.new_id().to_string();
        let _serialized = self
            .pipeline
            .locks
            .lock(&[order.from.as_str(), order.to.as_str()])
            .await;
        for _ in 0..self.pipeline.max_attempts {
            let from = match ctx.if_match {
                Some(_) => {
                    self.pipeline
                        .repo
                        .load_fresh::<Account>(order.from.as_str())
                        .await?
                }
                None => {
                    self.pipeline
                        .repo
                        .load::<Account>(order.from.as_str())
                        .await?
                }
            };
            let to = self
                .pipeline
                .repo
                .load::<Account>(order.to.as_str())
                .await?;
            let record = self.pipeline.repo.load::<Transfer>(&record_stream).await?;
            if ctx
                .if_match
                .as_ref()
                .is_some_and(|p| !p.holds_at(from.version))
            {
                let err = if from.version == 0 {
                    DomainError::AccountNotFound.into()
                } else {
                    CommandError::VersionMismatch {
                        actual: from.version,
                    }
                };
                return self.refuse(err, ctx, &fp).await;
            }
            let plan = match plan_transfer(&order, &from.state, &to.state, &record.state) {
                Ok(plan) => plan,
                Err(e) => return self.refuse(e.into(), ctx, &fp).await,
            };
            let after =
                |v: &Versioned<Account>, events: &[<Account as Aggregate>::Event]| Versioned {
                    state: fold(v.state.clone(), events),
                    version: v.version + events.len() as u64,
                };
            let (from_after, to_after) = (after(&from, &plan.debit), after(&to, &plan.credit));
            let reply = match (
                AccountReply::from_state(&from_after),
                AccountReply::from_state(&to_after),
            ) {
                (Some(f), Some(t)) => TransferReply {
                    transfer_id: transfer_id.to_string(),
                    from: f,
                    to: t,
                },
                _ => return Err(CommandError::Internal("transfer on no account".into())),
            };
            let meta = self.metadata(ctx, &causation, Some(transfer_id.as_str()));
            let request = AppendRequest {
                streams: vec![
                    self.stream_write::<Account>(
                        order.from.as_str(),
                        from.version,
                        &plan.debit,
                        &meta,
                    ),
                    self.stream_write::<Account>(
                        order.to.as_str(),
                        to.version,
                        &plan.credit,
                        &meta,
                    ),
                    self.stream_write::<Transfer>(
                        &record_stream,
                        record.version,
                        &plan.record,
                        &meta,
                    ),
                ],
                idempotency: ctx
                    .idempotency_key
                    .as_ref()
                    .map(|k| record_ok(scoped_key(&ctx.actor, k), fp.clone(), &reply))
                    .into_iter()
                    .collect(),
            };
            let last_ids: Vec<_> = request
                .streams
                .iter()
                .map(|w| w.events.last().map(|e| e.event_id).unwrap_or_default())
                .collect();
            match self.pipeline.store.append(request).await {
                Ok(()) => {
                    self.pipeline
                        .repo
                        .after_commit(order.from.as_str(), from.version, &from_after, last_ids[0])
                        .await;
                    self.pipeline
                        .repo
                        .after_commit(order.to.as_str(), to.version, &to_after, last_ids[1])
                        .await;
                    return Ok(reply);
                }
                Err(AppendError::Conflict { stream_id, .. })
                    if matches!(ctx.if_match, Some(crate::IfMatch::Versions(_)))
                        && stream_id == order.from.as_str() =>
                {
                    let now = self
                        .pipeline
                        .repo
                        .load_fresh::<Account>(order.from.as_str())
                        .await?;
                    let err = CommandError::VersionMismatch {
                        actual: now.version,
                    };
                    return self.refuse(err, ctx, &fp).await;
                }
                Err(AppendError::Conflict { .. }) => {
                    self.pipeline.repo.forget::<Account>(order.from.as_str());
                    self.pipeline.repo.forget::<Account>(order.to.as_str());
                    self.pipeline.repo.forget::<Transfer>(&record_stream);
                    continue;
                }
                Err(e) => return self.append_failed(e, &fp),
            }
        }
        Err(CommandError::Conflict)
    }
}
