//! The query side: current view, state at a version or instant, history and feed pages.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::{Account, Versioned};

use crate::access::{Capability, Forbidden, Principal};
use crate::decode::{FeedDecodeError, FeedDecoder, LedgerEvent};
use crate::ports::readmodel::TransferFilter;
use crate::ports::readmodel::{
    AccountFilter, AuditFilter, DailyFilter, ReadModelError, ReadModels,
};
use crate::ports::store::{
    EventStore, FeedCursor, RecordedEvent, StoreError, StreamBound, StreamQuery,
};
use crate::repository::{LoadError, Repository};
use crate::transfer_views::{TransferRow, TransferView};
use crate::views::{AccountView, AuditEntry, CurrencySummary, DailyVolume};

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The read model failed.
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    /// A stored event is unreadable.
    #[error("{0}")]
    Decode(String),
    /// The caller's role does not allow it.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// No such account, or not one the caller may see.
    #[error("no such account")]
    AccountNotFound,
}

impl From<LoadError> for QueryError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Store(s) => Self::Store(s),
            other => Self::Decode(other.to_string()),
        }
    }
}

impl From<FeedDecodeError> for QueryError {
    fn from(e: FeedDecodeError) -> Self {
        match e {
            FeedDecodeError::Store(s) => Self::Store(s),
            other => Self::Decode(other.to_string()),
        }
    }
}

/// An account rebuilt from its events up to a bound.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoricAccount {
    /// The state and its version.
    pub account: Versioned<Account>,
    /// When its last event was recorded.
    pub as_of: DateTime<Utc>,
}

/// Events with their decoded (upcast) form.
pub type DecodedEvents = Vec<(RecordedEvent, LedgerEvent)>;

/// Answers queries.
pub struct QueryService {
    store: Arc<dyn EventStore>,
    repo: Arc<Repository>,
    views: Arc<dyn ReadModels>,
}

impl QueryService {
    /// A query service.
    pub fn new(
        store: Arc<dyn EventStore>,
        repo: Arc<Repository>,
        views: Arc<dyn ReadModels>,
    ) -> Self {
        Self { store, repo, views }
    }

    /// A transfer from its own events (strongly consistent); `None` if it does not exist.
    /// (An owner key sees only transfers touching one of its accounts.)
    pub async fn transfer(
        &self,
        who: &Principal,
        id: &ledger_domain::TransferId,
    ) -> Result<Option<TransferView>, QueryError> {
        who.require(Capability::Query)?;
        let t = self
            .repo
            .load_fresh::<ledger_domain::Transfer>(&crate::transfers::transfer_stream(id))
            .await?;
        let Some(view) = t.state.details().map(TransferView::of) else {
            return Ok(None);
        };
        let seen = self.in_scope(who, &view.from_account_id).await?
            || self.in_scope(who, &view.to_account_id).await?;
        Ok(seen.then_some(view))
    }

    /// Transfers from the transfers view, newest first (an owner key's: those touching
    /// its accounts).
    pub async fn transfers(
        &self,
        who: &Principal,
        mut filter: TransferFilter,
    ) -> Result<Vec<TransferRow>, QueryError> {
        who.require(Capability::Query)?;
        filter.owner = who.scope().map(|o| o.to_string());
        Ok(self.views.transfers(filter).await?)
    }

    /// Whether the caller sees this account: any principal without a scope does; an
    /// owner key only its owner's, by the account's own events (an owner never changes).
    async fn in_scope(&self, who: &Principal, account_id: &str) -> Result<bool, QueryError> {
        if who.scope().is_none() {
            return Ok(true);
        }
        let account = self.repo.load_existing::<Account>(account_id).await?;
        Ok(who.sees(&account.state))
    }

    /// The current-state view of an account (eventually consistent). An account the
    /// projection has not reached yet is folded from its events with the same fold, so
    /// a client that just opened one can read it at once.
    ///
    /// A view behind the stream version this instance knows (its cache, else the store)
    /// is brought forward with the newer events by the same fold, so a client reads its
    /// own writes and gets an ETag its next `If-Match` can use.
    pub async fn current(
        &self,
        who: &Principal,
        account_id: &str,
    ) -> Result<Option<AccountView>, QueryError> {
        who.require(Capability::Query)?;
        let row = self.fresh_view(account_id).await?;
        Ok(row.filter(|v| who.sees_owner(&v.owner)))
    }

    async fn fresh_view(&self, account_id: &str) -> Result<Option<AccountView>, QueryError> {
        let view = self.views.account(account_id).await?;
        let known = self.repo.load::<Account>(account_id).await?.version;
        if let Some(view) = &view {
            if view.version >= known {
                return Ok(Some(view.clone()));
            }
        }
        let mut after = view.as_ref().map_or(0, |v| v.version);
        let mut row = view;
        loop {
            let page = self.history(account_id, after, 1000).await?;
            let n = page.len();
            for (recorded, event) in page {
                if let LedgerEvent::Account(e) = event {
                    row = crate::views::project_account(
                        row,
                        &e,
                        recorded.version,
                        recorded.recorded_at,
                    )
                    .map_err(|e| QueryError::Decode(e.to_string()))?;
                }
                after = recorded.version;
            }
            if n < 1000 {
                return Ok(row);
            }
        }
    }

    /// Accounts of the current-state view, keyset-paginated by id.
    /// (An owner key's own only: asking for another owner's is an empty list.)
    pub async fn accounts(
        &self,
        who: &Principal,
        mut filter: AccountFilter,
    ) -> Result<Vec<AccountView>, QueryError> {
        who.require(Capability::Query)?;
        if let Some(own) = who.scope() {
            if filter.owner.as_ref().is_some_and(|o| o != own.as_str()) {
                return Ok(Vec::new());
            }
            filter.owner = Some(own.to_string());
        }
        Ok(self.views.accounts(filter).await?)
    }

    /// Audit entries, newest first (an owner key's: its own accounts' streams).
    pub async fn audit(
        &self,
        who: &Principal,
        mut filter: AuditFilter,
    ) -> Result<Vec<AuditEntry>, QueryError> {
        who.require(Capability::Query)?;
        filter.owner = who.scope().map(|o| o.to_string());
        Ok(self.views.audit(filter).await?)
    }

    /// Per-currency analytics.
    pub async fn summary(&self, who: &Principal) -> Result<Vec<CurrencySummary>, QueryError> {
        who.require(Capability::Ledger)?;
        Ok(self.views.summary().await?)
    }

    /// Per-day analytics.
    pub async fn daily(
        &self,
        who: &Principal,
        filter: DailyFilter,
    ) -> Result<Vec<DailyVolume>, QueryError> {
        who.require(Capability::Ledger)?;
        Ok(self.views.daily(filter).await?)
    }

    /// The account as of a version or instant; `None` if it did not exist yet.
    pub async fn state_at(
        &self,
        who: &Principal,
        account_id: &str,
        bound: StreamBound,
    ) -> Result<Option<HistoricAccount>, QueryError> {
        who.require(Capability::Query)?;
        let historic = self.repo.load_until::<Account>(account_id, bound).await?;
        Ok(match (historic.state.details(), historic.head_at) {
            (Some(d), Some(as_of)) if who.sees_owner(d.owner.as_str()) => Some(HistoricAccount {
                account: historic,
                as_of,
            }),
            _ => None,
        })
    }

    /// A page of an account's events after a version, oldest first; 404 for an account
    /// that does not exist (or that the caller may not see).
    pub async fn account_events(
        &self,
        who: &Principal,
        account_id: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<DecodedEvents, QueryError> {
        self.readable(who, account_id).await?;
        let page = self.history(account_id, after_version, limit).await?;
        if page.is_empty() && self.history(account_id, 0, 1).await?.is_empty() {
            return Err(QueryError::AccountNotFound);
        }
        Ok(page)
    }

    /// `Ok` when the account exists (as far as the caller may know) and the caller may
    /// read it: what following an account's events live needs.
    pub async fn visible_account(
        &self,
        who: &Principal,
        account_id: &str,
    ) -> Result<(), QueryError> {
        self.readable(who, account_id).await?;
        if self.history(account_id, 0, 1).await?.is_empty() {
            return Err(QueryError::AccountNotFound);
        }
        Ok(())
    }

    /// `Ok` when the caller may read this account's events (404 otherwise).
    async fn readable(&self, who: &Principal, account_id: &str) -> Result<(), QueryError> {
        who.require(Capability::Query)?;
        match self.in_scope(who, account_id).await? {
            true => Ok(()),
            false => Err(QueryError::AccountNotFound),
        }
    }

    /// Whether the caller may read the whole ledger's feed.
    pub fn may_follow_feed(&self, who: &Principal) -> Result<(), QueryError> {
        Ok(who.require(Capability::Ledger)?)
    }

    /// A page of one stream's events after a version, oldest first (no access check:
    /// for the use cases above and for tests).
    pub async fn history(
        &self,
        stream_id: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<DecodedEvents, QueryError> {
        let page = self
            .store
            .read_stream(StreamQuery {
                stream_id,
                after_version,
                until: None,
                limit,
            })
            .await?;
        self.decode(page).await
    }

    /// A page of the global feed after a cursor, and the cursor to continue from.
    pub async fn feed(
        &self,
        who: &Principal,
        after: FeedCursor,
        limit: usize,
    ) -> Result<(DecodedEvents, FeedCursor), QueryError> {
        who.require(Capability::Ledger)?;
        let page = self.store.read_feed(after, limit).await?;
        Ok((self.decode(page.events).await?, page.next))
    }

    async fn decode(&self, events: Vec<RecordedEvent>) -> Result<DecodedEvents, QueryError> {
        let mut decoder = FeedDecoder::default();
        let mut out = Vec::with_capacity(events.len());
        for recorded in events {
            let event = decoder.decode(self.store.as_ref(), &recorded).await?;
            out.push((recorded, event));
        }
        Ok(out)
    }
}
