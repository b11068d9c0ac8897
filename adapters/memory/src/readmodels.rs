//! In-memory read models with checkpoints: the current-state view.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use ledger_application::decode::LedgerEvent;
use ledger_application::ports::readmodel::{
    AccountViews, ProjectedEvent, ProjectionStore, ReadModelError,
};
use ledger_application::ports::store::FeedCursor;
use ledger_application::views::{project_account, AccountView};

/// The name of the current-state projection.
pub const CURRENT_STATE: &str = "current_state";

#[derive(Default)]
struct Inner {
    checkpoints: HashMap<String, FeedCursor>,
    accounts: HashMap<String, AccountView>,
}

/// Read models in a map; a batch is applied to a copy and swapped in whole.
#[derive(Default)]
pub struct MemoryReadModels {
    inner: Mutex<Inner>,
}

impl MemoryReadModels {
    /// Empty read models.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ProjectionStore for MemoryReadModels {
    async fn checkpoint(&self, projection: &str) -> Result<FeedCursor, ReadModelError> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Ok(inner
            .checkpoints
            .get(projection)
            .copied()
            .unwrap_or_default())
    }

    async fn apply_batch(
        &self,
        projection: &str,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<(), ReadModelError> {
        if projection != CURRENT_STATE {
            return Err(ReadModelError::Failed(format!(
                "unknown projection {projection}"
            )));
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Rows touched by this batch; merged only when the whole batch applied.
        let mut staged: HashMap<String, AccountView> = HashMap::new();
        for p in batch {
            let LedgerEvent::Account(event) = &p.event else {
                continue;
            };
            let id = &p.recorded.stream_id;
            let row = staged
                .remove(id)
                .or_else(|| inner.accounts.get(id).cloned());
            let at = p.recorded.recorded_at;
            let updated = project_account(row, event, p.recorded.version, at)
                .map_err(|e| ReadModelError::Failed(format!("{id}: {e}")))?;
            if let Some(row) = updated {
                staged.insert(id.clone(), row);
            }
        }
        inner.accounts.extend(staged);
        inner.checkpoints.insert(projection.to_owned(), next);
        Ok(())
    }
}

#[async_trait]
impl AccountViews for MemoryReadModels {
    async fn account(&self, account_id: &str) -> Result<Option<AccountView>, ReadModelError> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Ok(inner.accounts.get(account_id).cloned())
    }
}
