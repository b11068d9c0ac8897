//! An atomic batch's working state: each stream as the operations so far leave it, and
//! the events they decided, per stream (`batch_unit.rs` drives it).

use std::collections::{BTreeMap, HashMap};

use ledger_domain::{Account, Aggregate, Transfer, TransferId, TransferPlan, Versioned};

use crate::batch_unit::Loaded;
use crate::commands::{AccountReply, CommandError};
use crate::pipeline::Pipeline;
use crate::ports::store::{EventMetadata, NewEvent, StreamWrite};
use crate::transfer_views::TransferView;
use crate::transfers::{transfer_stream, TransferReply};

/// The states as the operations leave them, and the events so far, per stream.
pub(crate) struct Working<'p> {
    pub(crate) p: &'p Pipeline,
    pub(crate) loaded: &'p Loaded,
    pub(crate) accounts: HashMap<String, Versioned<Account>>,
    pub(crate) transfers: HashMap<String, Versioned<Transfer>>,
    pub(crate) writes: BTreeMap<String, StreamWrite>,
}

impl Working<'_> {
    pub(crate) fn account(&self, id: &str) -> Result<&Versioned<Account>, CommandError> {
        self.accounts
            .get(id)
            .ok_or_else(|| CommandError::Internal(format!("account {id} was not loaded")))
    }

    pub(crate) fn transfer(&self, stream: &str) -> Result<&Versioned<Transfer>, CommandError> {
        self.transfers
            .get(stream)
            .ok_or_else(|| CommandError::Internal(format!("{stream} was not loaded")))
    }

    fn write<A: Aggregate>(&mut self, stream: &str, before: u64, events: Vec<NewEvent>) {
        self.writes
            .entry(stream.to_owned())
            .or_insert_with(|| Pipeline::stream_write::<A>(stream, before, Vec::new()))
            .events
            .extend(events);
    }

    pub(crate) fn apply_account(
        &mut self,
        id: &str,
        events: &[ledger_domain::AccountEvent],
        meta: &EventMetadata,
    ) -> Result<AccountReply, CommandError> {
        let (next, new) = self.p.advance(id, self.account(id)?, events, meta);
        let before = self.loaded.accounts.get(id).map_or(0, |v| v.version);
        self.write::<Account>(id, before, new);
        let reply = AccountReply::from_state(&next)
            .ok_or_else(|| CommandError::Internal("decided on no account".into()))?;
        self.accounts.insert(id.to_owned(), next);
        Ok(reply)
    }

    pub(crate) fn apply_plan(
        &mut self,
        id: &TransferId,
        from: &str,
        to: &str,
        plan: &TransferPlan,
        meta: &EventMetadata,
    ) -> Result<TransferReply, CommandError> {
        let from_reply = self.apply_account(from, &plan.debit, meta)?;
        let to_reply = self.apply_account(to, &plan.credit, meta)?;
        let stream = transfer_stream(id);
        let (next, new) = self
            .p
            .advance(&stream, self.transfer(&stream)?, &plan.record, meta);
        let before = self.loaded.transfers.get(&stream).map_or(0, |v| v.version);
        self.write::<Transfer>(&stream, before, new);
        let view = next
            .state
            .details()
            .map(TransferView::of)
            .ok_or_else(|| CommandError::Internal("decided on no transfer".into()))?;
        self.transfers.insert(stream, next);
        Ok(TransferReply {
            transfer: view,
            from: from_reply,
            to: to_reply,
        })
    }
}
