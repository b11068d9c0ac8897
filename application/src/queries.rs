//! The query side: current view, state at a version or instant, history and feed pages.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_domain::{Account, Versioned};

use crate::decode::{FeedDecodeError, FeedDecoder, LedgerEvent};
use crate::ports::readmodel::TransferFilter;
use crate::ports::readmodel::{AccountFilter, AuditFilter, ReadModelError, ReadModels};
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
    pub async fn transfer(
        &self,
        id: &ledger_domain::TransferId,
    ) -> Result<Option<TransferView>, QueryError> {
        let t = self
            .repo
            .load_fresh::<ledger_domain::Transfer>(&crate::transfers::transfer_stream(id))
            .await?;
        Ok(t.state.details().map(TransferView::of))
    }

    /// Transfers from the transfers view, newest first.
    pub async fn transfers(&self, filter: TransferFilter) -> Result<Vec<TransferRow>, QueryError> {
        Ok(self.views.transfers(filter).await?)
    }

    /// The current-state view of an account (eventually consistent). An account the
    /// projection has not reached yet is folded from its events with the same fold, so
    /// a client that just opened one can read it at once.
    ///
    /// A view behind the stream version this instance knows (its cache, else the store)
    /// is brought forward with the newer events by the same fold, so a client reads its
    /// own writes and gets an ETag its next `If-Match` can use.
    pub async fn current(&self, account_id: &str) -> Result<Option<AccountView>, QueryError> {
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
    pub async fn accounts(&self, filter: AccountFilter) -> Result<Vec<AccountView>, QueryError> {
        Ok(self.views.accounts(filter).await?)
    }

    /// Audit entries, newest first.
    pub async fn audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, QueryError> {
        Ok(self.views.audit(filter).await?)
    }

    /// Per-currency analytics.
    pub async fn summary(&self) -> Result<Vec<CurrencySummary>, QueryError> {
        Ok(self.views.summary().await?)
    }

    /// Per-day analytics.
    pub async fn daily(
        &self,
        currency: Option<ledger_domain::Currency>,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> Result<Vec<DailyVolume>, QueryError> {
        Ok(self.views.daily(currency, from, to).await?)
    }

    /// The account as of a version or instant; `None` if it did not exist yet.
    pub async fn state_at(
        &self,
        account_id: &str,
        bound: StreamBound,
    ) -> Result<Option<HistoricAccount>, QueryError> {
        let historic = self.repo.load_until::<Account>(account_id, bound).await?;
        Ok(
            match (historic.state.state.details(), historic.last_recorded_at) {
                (Some(_), Some(as_of)) => Some(HistoricAccount {
                    account: historic.state,
                    as_of,
                }),
                _ => None,
            },
        )
    }

    /// A page of one stream's events after a version, oldest first.
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
        after: FeedCursor,
        limit: usize,
    ) -> Result<(DecodedEvents, FeedCursor), QueryError> {
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
