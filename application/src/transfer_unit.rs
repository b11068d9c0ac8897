//! A transfer command as a unit of the write loop: the two accounts and the
//! transfer's own stream, loaded, decided and written together.

use chrono::{DateTime, Utc};
use ledger_domain::{
    plan_settlement, plan_transfer, Account, AccountId, DomainError, Settlement, Transfer,
    TransferId, TransferPlan, Versioned,
};

use crate::commands::{metadata, precondition_failed, AccountReply, CommandContext, CommandError};
use crate::idempotency::{record_ok, record_refusal, scoped_key};
use crate::pipeline::Pipeline;
use crate::ports::store::AppendRequest;
use crate::repository::Repository;
use crate::transfer_views::TransferView;
use crate::transfers::{transfer_stream, TransferReply, TransferRequest};
use crate::write::{Decision, Unit};

/// What the unit does.
pub(crate) enum What {
    /// A new transfer, posted at once or pending, with its id (its order is made when
    /// it is decided: a pending one's `expires_at` counts from its `recorded_at`).
    New(TransferRequest, TransferId),
    /// A post, void or expiry of a pending transfer, at the clock's time when the
    /// command is decided (or at the given time: the expirer's).
    Settle(TransferId, Settlement, Option<DateTime<Utc>>),
}

pub(crate) struct TransferUnit<'a> {
    what: What,
    pub(crate) from: AccountId,
    pub(crate) to: AccountId,
    record_stream: String,
    ctx: &'a CommandContext,
    fp: &'a str,
    causation: String,
}

/// The debited account, the credited one and the transfer's record, as loaded.
type Loaded = (Versioned<Account>, Versioned<Account>, Versioned<Transfer>);

impl<'a> TransferUnit<'a> {
    pub(crate) fn new(
        what: What,
        from: AccountId,
        to: AccountId,
        ctx: &'a CommandContext,
        fp: &'a str,
        causation: uuid::Uuid,
    ) -> Self {
        let id = match &what {
            What::New(_, id) => id,
            What::Settle(id, ..) => id,
        };
        Self {
            record_stream: transfer_stream(id),
            what,
            from,
            to,
            ctx,
            fp,
            causation: causation.to_string(),
        }
    }

    fn transfer_id(&self) -> &TransferId {
        match &self.what {
            What::New(_, id) => id,
            What::Settle(id, ..) => id,
        }
    }

    /// A refusal: nothing written but its idempotency record (when the caller gave a key
    /// and the refusal is final).
    fn refused(&self, err: CommandError) -> Decision<Result<TransferReply, CommandError>> {
        let record = self
            .ctx
            .idempotency_key
            .as_ref()
            .filter(|k| err.is_recorded_under(k))
            .map(|k| {
                record_refusal(
                    scoped_key(&self.ctx.principal.actor, k),
                    self.fp.to_owned(),
                    &err,
                )
            });
        Decision {
            request: AppendRequest {
                streams: vec![],
                idempotency: record.into_iter().collect(),
            },
            accounts: vec![],
            transfers: vec![],
            refused: err.is_final(),
            outcome: Err(err),
        }
    }

    /// A post or void refused because the transfer's time ran out records the expiry
    /// it found, with the refusal, in one write: the refusal is then final, on every
    /// instance, whatever their clocks say later (a clock stepped back, or another
    /// instance's clock behind this one's, would otherwise let the transfer be posted
    /// after a client was told it expired). An expiry already recorded is refused alone.
    fn expired(
        &self,
        p: &Pipeline,
        loaded: &Loaded,
        (now, at): (DateTime<Utc>, DateTime<Utc>),
        refusal: CommandError,
    ) -> Decision<Result<TransferReply, CommandError>> {
        let settling = matches!(
            self.what,
            What::Settle(_, Settlement::Post(_) | Settlement::Void(_), _)
        );
        let (from, to, record) = loaded;
        let expiry = plan_settlement(
            &Settlement::Expire,
            now,
            &record.state,
            &from.state,
            &to.state,
        );
        let (true, Ok(expiry)) = (settling, expiry) else {
            return self.refused(refusal);
        };
        let refused = self.refused(refusal);
        let mut decision = self.written(p, loaded, &expiry, at);
        decision.request.idempotency = refused.request.idempotency;
        decision.answering(refused.outcome, refused.refused)
    }

    /// A plan's events on the three streams recorded at `at`, as one write (no
    /// idempotency record yet), with the states after it; the caller gives the answer.
    fn written(
        &self,
        p: &Pipeline,
        (from, to, record): &Loaded,
        plan: &TransferPlan,
        at: DateTime<Utc>,
    ) -> Decision<()> {
        let meta = metadata(self.ctx, &self.causation, Some(self.transfer_id().as_str()));
        let (from_id, to_id) = (self.from.as_str(), self.to.as_str());
        let (from_after, debit) = p.advance(from_id, from, &plan.debit, &meta, at);
        let (to_after, credit) = p.advance(to_id, to, &plan.credit, &meta, at);
        let (transfer_after, recorded) =
            p.advance(&self.record_stream, record, &plan.record, &meta, at);
        Decision {
            request: AppendRequest {
                streams: vec![
                    Pipeline::stream_write::<Account>(from_id, from.version, debit),
                    Pipeline::stream_write::<Account>(to_id, to.version, credit),
                    Pipeline::stream_write::<Transfer>(
                        &self.record_stream,
                        record.version,
                        recorded,
                    ),
                ],
                idempotency: vec![],
            },
            accounts: vec![
                (from_id.to_owned(), from.version, from_after),
                (to_id.to_owned(), to.version, to_after),
            ],
            transfers: vec![(self.record_stream.clone(), record.version, transfer_after)],
            refused: false,
            outcome: (),
        }
    }

    fn plan(
        &self,
        (from, to, record): &Loaded,
        now: DateTime<Utc>,
    ) -> Result<TransferPlan, CommandError> {
        match &self.what {
            What::New(request, id) => {
                let order = request.order(id.clone(), now);
                // Two different accounts is checked before any precondition, as the
                // domain checks it before anything else.
                if order.from == order.to {
                    return Err(DomainError::SameAccount.into());
                }
                // An owner key moves money only out of its own accounts.
                if !self.ctx.principal.sees(&from.state) {
                    return Err(DomainError::AccountNotFound.into());
                }
                // A retry of a transfer that was made is told so, with or without
                // `If-Match` (the first one moved the account past it). The record is
                // read only on the reload a refusal brings.
                if record.state.details().is_some() {
                    return Err(DomainError::TransferExists.into());
                }
                if let Some(pre) = &self.ctx.if_match {
                    if !pre.holds_at(from.version) {
                        return Err(precondition_failed(from.version, false));
                    }
                }
                Ok(plan_transfer(
                    &order,
                    &from.state,
                    &to.state,
                    &record.state,
                )?)
            }
            What::Settle(_, settlement, at) => Ok(plan_settlement(
                settlement,
                at.unwrap_or(now),
                &record.state,
                &from.state,
                &to.state,
            )?),
        }
    }
}

#[async_trait::async_trait]
impl Unit for TransferUnit<'_> {
    type Loaded = Loaded;
    type Outcome = Result<TransferReply, CommandError>;

    async fn load(&self, repo: &Repository, fresh: bool) -> Result<Loaded, CommandError> {
        let (from, to) = (self.from.as_str(), self.to.as_str());
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
        let record = match &self.what {
            // A new transfer's stream is almost always new: it is not read. If it exists
            // after all, the append (expecting version 0) conflicts, and the loop loads
            // everything fresh and refuses `transfer_exists`.
            What::New(..) => Versioned::default(),
            What::Settle(..) => repo.load::<Transfer>(&self.record_stream).await?,
        };
        Ok((from, to, record))
    }

    fn decide(&self, p: &Pipeline, loaded: &Loaded) -> Decision<Self::Outcome> {
        // One time for the decision and for all three streams' events.
        let (from, to, record) = loaded;
        let (now, at) = p.times([from.head_at, to.head_at, record.head_at]);
        let plan = match self.plan(loaded, now) {
            Ok(plan) => plan,
            Err(e @ CommandError::Refused(DomainError::TransferExpired(_))) => {
                return self.expired(p, loaded, (now, at), e)
            }
            Err(e) => return self.refused(e),
        };
        let decision = self.written(p, loaded, &plan, at);
        let reply = match (
            decision.transfers[0].2.state.details(),
            AccountReply::from_state(&decision.accounts[0].2),
            AccountReply::from_state(&decision.accounts[1].2),
        ) {
            (Some(t), Some(f), Some(to)) => TransferReply {
                transfer: TransferView::of(t),
                from: f,
                to,
            },
            _ => return self.refused(CommandError::Internal("transfer on no account".into())),
        };
        let idempotency = self.ctx.idempotency_key.as_ref().map(|k| {
            record_ok(
                scoped_key(&self.ctx.principal.actor, k),
                self.fp.to_owned(),
                &reply,
            )
        });
        let mut decision = decision.answering(Ok(reply), false);
        decision.request.idempotency = idempotency.into_iter().collect();
        decision
    }

    fn forget(&self, repo: &Repository) {
        repo.forget::<Account>(self.from.as_str());
        repo.forget::<Account>(self.to.as_str());
        repo.forget::<Transfer>(&self.record_stream);
    }
}
