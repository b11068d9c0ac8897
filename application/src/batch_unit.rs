//! An atomic batch as a unit of the write loop: every stream its operations touch is
//! loaded, the operations are decided in order (each against the state the earlier
//! ones left), and all their events, with the batch's idempotency record, are one
//! append (each stream at the version it was loaded at).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ledger_domain::{
    plan_settlement, plan_transfer, AccountCommand, AccountId, Aggregate, DomainError, Settlement,
    TransferId,
};

use crate::batch::{unknown_transfer, AtomicOutcome, BatchOperation, BatchRefusal, BatchReply};
use crate::batch_state::{Finished, Loaded, Streams, Working};
use crate::commands::{metadata, CommandContext, CommandError};
use crate::idempotency::{record_ok, scoped_key};
use crate::pipeline::Pipeline;
use crate::ports::store::{AppendRequest, EventMetadata};
use crate::repository::Repository;
use crate::transfers::transfer_stream;
use crate::write::{Decision, Unit};

type Parties = HashMap<TransferId, (AccountId, AccountId)>;

pub(crate) struct BatchUnit<'a> {
    ops: &'a [BatchOperation],
    parties: &'a Parties,
    ctx: &'a CommandContext,
    fp: &'a str,
    streams: Streams,
}

impl<'a> BatchUnit<'a> {
    pub(crate) fn new(
        ops: &'a [BatchOperation],
        parties: &'a Parties,
        ctx: &'a CommandContext,
        fp: &'a str,
    ) -> Self {
        let mut s = Streams::default();
        let (accounts, transfers) = (&mut s.accounts, &mut s.transfers);
        for op in ops {
            match op {
                BatchOperation::Open(o) => {
                    accounts.extend(o.account_id.iter().map(|a| a.to_string()))
                }
                BatchOperation::Act(a, _) => accounts.push(a.to_string()),
                BatchOperation::Transfer(t) => {
                    accounts.extend([t.from.to_string(), t.to.to_string()]);
                    transfers.extend(t.transfer_id.iter().map(transfer_stream));
                    s.made.extend(t.transfer_id.iter().map(transfer_stream));
                }
                BatchOperation::Rejected(..) => {}
                BatchOperation::Post(id, _) | BatchOperation::Void(id, _) => {
                    if let Some((f, t)) = parties.get(id) {
                        accounts.extend([f.to_string(), t.to_string()]);
                    }
                    transfers.push(transfer_stream(id));
                }
            }
        }
        Self {
            ops,
            parties,
            ctx,
            fp,
            streams: s.sorted(),
        }
    }

    fn record(&self, outcome: &AtomicOutcome) -> Vec<crate::ports::store::IdempotencyRecord> {
        self.ctx
            .idempotency_key
            .as_ref()
            .map(|k| {
                record_ok(
                    scoped_key(&self.ctx.principal.actor, k),
                    self.fp.to_owned(),
                    outcome,
                )
            })
            .into_iter()
            .collect()
    }

    /// A post or void refused because the transfer's time ran out writes the expiry it
    /// found with the batch's refusal, as a lone post or void does
    /// (`TransferUnit::expired`): the refusal is then final on every instance, whatever
    /// their clocks say later. The expiry is planned on the states as loaded, since
    /// nothing else of the batch is written. Any other refusal writes no event.
    fn expiry_found(
        &self,
        p: &Pipeline,
        loaded: &Loaded,
        op: &BatchOperation,
        refusal: &CommandError,
        (now, at): (DateTime<Utc>, DateTime<Utc>),
        meta: &EventMetadata,
    ) -> Finished {
        let (
            BatchOperation::Post(id, _) | BatchOperation::Void(id, _),
            CommandError::Refused(DomainError::TransferExpired(_)),
        ) = (op, refusal)
        else {
            return Finished::default();
        };
        let Some((from, to)) = self.parties.get(id) else {
            return Finished::default();
        };
        let mut w = Working::new(p, loaded, at);
        let expire = |w: &mut Working<'_>| -> Result<(), CommandError> {
            let plan = plan_settlement(
                &Settlement::Expire,
                now,
                &w.transfer(&transfer_stream(id))?.state,
                &w.account(from.as_str())?.state,
                &w.account(to.as_str())?.state,
            )?;
            w.apply_plan(id, from.as_str(), to.as_str(), &plan, meta)
                .map(drop)
        };
        match expire(&mut w) {
            Ok(()) => w.finish(),
            // Already recorded (or no longer pending): the refusal alone.
            Err(_) => Finished::default(),
        }
    }

    /// The accounts a post or void of `id` moves: those planned before the locks, if
    /// the transfer as loaded names them. A transfer the batch was to make, or that did
    /// not exist, may have been made meanwhile by another request between other
    /// accounts: a conflict, so the batch plans again (`atomic_batch`), since deciding it
    /// on the planned accounts would move the wrong holds.
    fn settled_parties(
        &self,
        w: &mut Working<'_>,
        id: &TransferId,
    ) -> Result<(&'a AccountId, &'a AccountId), CommandError> {
        let planned = self.parties.get(id);
        let loaded = w.transfer(&transfer_stream(id))?.state.recorded();
        match (planned, loaded) {
            (Some((f, t)), Some(r)) if (f, t) != (&r.from, &r.to) => Err(CommandError::Conflict),
            (None, Some(_)) => Err(CommandError::Conflict),
            (Some((f, t)), _) => Ok((f, t)),
            (None, None) => Err(unknown_transfer()),
        }
    }

    fn decide_op(
        &self,
        w: &mut Working<'_>,
        op: &BatchOperation,
        meta: &EventMetadata,
        now: DateTime<Utc>,
    ) -> Result<BatchReply, CommandError> {
        Ok(match op {
            BatchOperation::Rejected(code, detail) => {
                return Err(CommandError::Rejected {
                    code: *code,
                    detail: detail.clone(),
                })
            }
            BatchOperation::Open(o) => {
                // A final refusal of this operation (the batch names it), as any other.
                if let Err(f) = self.ctx.principal.may_open_for(&o.owner) {
                    return Err(CommandError::Rejected {
                        code: ledger_domain::ErrorCode::Forbidden,
                        detail: f.to_string(),
                    });
                }
                let id = o
                    .account_id
                    .clone()
                    .ok_or_else(|| CommandError::Internal("no account id".into()))?;
                let events = w
                    .account(id.as_str())?
                    .state
                    .decide(&AccountCommand::Open {
                        id: id.clone(),
                        owner: o.owner.clone(),
                        currency: o.currency,
                        overdraft_limit: o.overdraft_limit,
                    })?;
                BatchReply::Account {
                    opened: true,
                    account: w.apply_account(id.as_str(), &events, meta)?,
                }
            }
            BatchOperation::Act(id, action) => {
                let account = &w.account(id.as_str())?.state;
                if !self.ctx.principal.sees(account) {
                    return Err(DomainError::AccountNotFound.into());
                }
                let events = account.decide(&action.command())?;
                BatchReply::Account {
                    opened: false,
                    account: w.apply_account(id.as_str(), &events, meta)?,
                }
            }
            BatchOperation::Transfer(t) => {
                let id = t
                    .transfer_id
                    .clone()
                    .ok_or_else(|| CommandError::Internal("no transfer id".into()))?;
                t.check()?;
                let order = t.order(id.clone(), now);
                if order.from == order.to {
                    return Err(DomainError::SameAccount.into());
                }
                let from = &w.account(t.from.as_str())?.state;
                if !self.ctx.principal.sees(from) {
                    return Err(DomainError::AccountNotFound.into());
                }
                let plan = plan_transfer(
                    &order,
                    from,
                    &w.account(t.to.as_str())?.state,
                    &w.transfer(&transfer_stream(&id))?.state,
                )?;
                BatchReply::Transfer {
                    created: true,
                    transfer: Box::new(w.apply_plan(
                        &id,
                        t.from.as_str(),
                        t.to.as_str(),
                        &plan,
                        meta,
                    )?),
                }
            }
            BatchOperation::Post(id, _) | BatchOperation::Void(id, _) => {
                let (from, to) = self.settled_parties(w, id)?;
                let settlement = match op {
                    BatchOperation::Post(_, amount) => Settlement::Post(*amount),
                    BatchOperation::Void(_, reason) => Settlement::Void(reason.clone()),
                    _ => return Err(CommandError::Internal("not a settlement".into())),
                };
                let (payer, payee) = (w.account(from.as_str())?, w.account(to.as_str())?);
                let posting = matches!(settlement, Settlement::Post(_));
                if !self
                    .ctx
                    .principal
                    .may_settle(posting, &payer.state, &payee.state)
                {
                    return Err(unknown_transfer());
                }
                let plan = plan_settlement(
                    &settlement,
                    now,
                    &w.transfer(&transfer_stream(id))?.state,
                    &payer.state,
                    &payee.state,
                )?;
                BatchReply::Transfer {
                    created: false,
                    transfer: Box::new(w.apply_plan(
                        id,
                        from.as_str(),
                        to.as_str(),
                        &plan,
                        meta,
                    )?),
                }
            }
        })
    }
}

#[async_trait::async_trait]
impl Unit for BatchUnit<'_> {
    type Loaded = Loaded;
    type Outcome = Result<AtomicOutcome, CommandError>;

    async fn load(&self, repo: &Repository, fresh: bool) -> Result<Loaded, CommandError> {
        self.streams.load(repo, fresh).await
    }

    fn decide(&self, p: &Pipeline, loaded: &Loaded) -> Decision<Self::Outcome> {
        // The clock is read when the batch is decided (after its locks), for each
        // attempt: the operations are decided at that time, and their events carry it.
        let (now, at) = p.times(loaded.heads_at());
        let mut w = Working::new(p, loaded, at);
        let batch_id = p.ids.new_id().to_string();
        let mut replies = Vec::with_capacity(self.ops.len());
        for (i, op) in self.ops.iter().enumerate() {
            let meta = metadata(self.ctx, &p.ids.new_id().to_string(), Some(&batch_id));
            match self.decide_op(&mut w, op, &meta, now) {
                Ok(reply) => replies.push(reply),
                Err(e) if e.is_final() => {
                    // A value refused on its own is not stored, as a single request's.
                    let recorded = !matches!(op, BatchOperation::Rejected(..))
                        && self
                            .ctx
                            .idempotency_key
                            .as_ref()
                            .is_some_and(|k| e.is_recorded_under(k));
                    let expiry = self.expiry_found(p, loaded, op, &e, (now, at), &meta);
                    let outcome: AtomicOutcome = Err(BatchRefusal::from((i, e)));
                    return Decision {
                        request: AppendRequest {
                            streams: expiry.streams,
                            idempotency: match recorded {
                                true => self.record(&outcome),
                                false => vec![],
                            },
                        },
                        accounts: expiry.accounts,
                        transfers: expiry.transfers,
                        refused: true,
                        outcome: Ok(outcome),
                    };
                }
                Err(e) => {
                    return Decision {
                        request: AppendRequest::default(),
                        accounts: vec![],
                        transfers: vec![],
                        // A settlement whose transfer names other accounts than planned
                        // may have been decided on cached state (a transfer this batch
                        // makes is not read at first): decided again on the store's
                        // first, where an earlier operation may be refused instead.
                        refused: matches!(e, CommandError::Conflict),
                        outcome: Err(e),
                    };
                }
            }
        }
        let outcome: AtomicOutcome = Ok(replies);
        let Finished {
            streams,
            accounts,
            transfers,
        } = w.finish();
        Decision {
            request: AppendRequest {
                streams,
                idempotency: self.record(&outcome),
            },
            accounts,
            transfers,
            refused: false,
            outcome: Ok(outcome),
        }
    }

    fn forget(&self, repo: &Repository) {
        self.streams.forget(repo);
    }
}
