//! An atomic batch's working state: each stream as the operations so far leave it, and
//! the events they decided, per stream (`batch_unit.rs` drives it).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt, TryStreamExt};
use ledger_domain::{Account, Aggregate, Transfer, TransferId, TransferPlan, Versioned};

use crate::commands::{AccountReply, CommandError};
use crate::pipeline::Pipeline;
use crate::ports::store::{EventMetadata, NewEvent, StreamWrite};
use crate::repository::Repository;
use crate::transfer_views::TransferView;
use crate::transfers::{transfer_stream, TransferReply};

/// How many streams a unit of many streams reads from the store at once (a few: the
/// pool, 16 connections by default, serves every other request meanwhile).
const CONCURRENT_LOADS: usize = 4;

/// Every stream of a unit of many as loaded: accounts by id, transfers by stream.
pub(crate) struct Loaded {
    pub(crate) accounts: HashMap<String, Versioned<Account>>,
    pub(crate) transfers: HashMap<String, Versioned<Transfer>>,
}

impl Loaded {
    /// When each stream's last event was recorded (for `Pipeline::times`).
    pub(crate) fn heads_at(&self) -> impl Iterator<Item = Option<DateTime<Utc>>> + '_ {
        let accounts = self.accounts.values().map(|a| a.head_at);
        accounts.chain(self.transfers.values().map(|t| t.head_at))
    }
}

/// The streams a unit of many decides on: accounts by id and transfer streams, and the
/// transfer streams it makes (almost always new, so not read unless the loop asks for
/// fresh state, after a conflict).
#[derive(Default)]
pub(crate) struct Streams {
    pub(crate) accounts: Vec<String>,
    pub(crate) transfers: Vec<String>,
    pub(crate) made: HashSet<String>,
}

impl Streams {
    /// Each stream once, in order.
    pub(crate) fn sorted(mut self) -> Self {
        self.accounts.sort();
        self.accounts.dedup();
        self.transfers.sort();
        self.transfers.dedup();
        self
    }

    /// Loads them, several at a time: from the store, past the cache, when `fresh`.
    pub(crate) async fn load(
        &self,
        repo: &Repository,
        fresh: bool,
    ) -> Result<Loaded, CommandError> {
        let made = &self.made;
        // Owned ids: a closure over borrowed ones is not `Send` for every lifetime.
        let accounts = stream::iter(self.accounts.iter().cloned())
            .map(|id| async move {
                let v = match fresh {
                    true => repo.load_fresh::<Account>(&id).await?,
                    false => repo.load::<Account>(&id).await?,
                };
                Ok::<_, CommandError>((id, v))
            })
            .buffer_unordered(CONCURRENT_LOADS)
            .try_collect()
            .await?;
        let transfers = stream::iter(self.transfers.iter().cloned())
            .map(|s| async move {
                let v = if fresh {
                    repo.load_fresh::<Transfer>(&s).await?
                } else if made.contains(&s) {
                    Versioned::default()
                } else {
                    repo.load::<Transfer>(&s).await?
                };
                Ok::<_, CommandError>((s, v))
            })
            .buffer_unordered(CONCURRENT_LOADS)
            .try_collect()
            .await?;
        Ok(Loaded {
            accounts,
            transfers,
        })
    }

    /// Drops their cached states (after a conflict).
    pub(crate) fn forget(&self, repo: &Repository) {
        for id in &self.accounts {
            repo.forget::<Account>(id);
        }
        for stream in &self.transfers {
            repo.forget::<Transfer>(stream);
        }
    }
}

/// What a unit of many streams writes once decided: every stream's events, and the
/// `(stream, version before, state after)` of each account and each transfer written.
#[derive(Default)]
pub(crate) struct Finished {
    pub(crate) streams: Vec<StreamWrite>,
    pub(crate) accounts: Vec<(String, u64, Versioned<Account>)>,
    pub(crate) transfers: Vec<(String, u64, Versioned<Transfer>)>,
}

/// The states as the operations leave them, and the events so far, per stream.
pub(crate) struct Working<'p> {
    pub(crate) p: &'p Pipeline,
    pub(crate) loaded: &'p Loaded,
    pub(crate) accounts: HashMap<String, Versioned<Account>>,
    pub(crate) transfers: HashMap<String, Versioned<Transfer>>,
    pub(crate) writes: BTreeMap<String, StreamWrite>,
    /// When the write was decided: every event of its one append carries it.
    pub(crate) at: DateTime<Utc>,
}

impl<'p> Working<'p> {
    /// Nothing decided yet: the states as loaded.
    pub(crate) fn new(p: &'p Pipeline, loaded: &'p Loaded, at: DateTime<Utc>) -> Self {
        Self {
            p,
            loaded,
            accounts: loaded.accounts.clone(),
            transfers: loaded.transfers.clone(),
            writes: BTreeMap::new(),
            at,
        }
    }

    /// The events decided, with the states they leave.
    pub(crate) fn finish(self) -> Finished {
        let loaded = self.loaded;
        let accounts = self
            .writes
            .keys()
            .filter_map(|s| {
                let before = loaded.accounts.get(s)?.version;
                Some((s.clone(), before, self.accounts.get(s)?.clone()))
            })
            .collect();
        let transfers = self
            .writes
            .keys()
            .filter_map(|s| {
                let before = loaded.transfers.get(s)?.version;
                Some((s.clone(), before, self.transfers.get(s)?.clone()))
            })
            .collect();
        Finished {
            streams: self.writes.into_values().collect(),
            accounts,
            transfers,
        }
    }

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
        let (next, new) = self.p.advance(id, self.account(id)?, events, meta, self.at);
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
        let (next, new) = self.p.advance(
            &stream,
            self.transfer(&stream)?,
            &plan.record,
            meta,
            self.at,
        );
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
