//! In-memory read models (current state, analytics, audit log) with checkpoints,
//! rebuild generations and the queries the API answers.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::NaiveDate;
use ledger_application::decode::LedgerEvent;
use ledger_application::ports::readmodel::{
    interrupted_if_unclaimed, Generation, ProjectedEvent, Projection, ProjectionState,
    ProjectionStatus, ProjectionStore, ReadModelError, RebuildClaim, PROJECTIONS,
};
use ledger_application::ports::store::FeedCursor;
use ledger_application::transfer_views::{project_transfer, TransferRow};
use ledger_application::views::{
    project_account, AccountView, AnalyticsDelta, AuditEntry, CurrencyTotals, DayTotals,
};
use ledger_domain::Currency;

#[derive(Default, Clone)]
pub(crate) struct Tables {
    checkpoint: FeedCursor,
    pub(crate) accounts: BTreeMap<String, AccountView>,
    pub(crate) transfers: BTreeMap<String, TransferRow>,
    pub(crate) currencies: BTreeMap<Currency, CurrencyTotals>,
    pub(crate) days: BTreeMap<(NaiveDate, Currency), DayTotals>,
    pub(crate) audit: BTreeMap<u64, AuditEntry>,
}

struct Slot {
    live: Tables,
    rebuild: Option<Tables>,
    state: ProjectionState,
    error: Option<String>,
}

/// Read models in maps; a batch is applied to staged copies and swapped in whole.
pub struct MemoryReadModels {
    inner: Mutex<HashMap<Projection, Slot>>,
    /// True while a [`RebuildClaim`] is held.
    rebuild_claimed: Arc<AtomicBool>,
    /// The relay's checkpoint and last error.
    relay: std::sync::Mutex<Option<ProjectionStatus>>,
}

/// Releases the memory store's rebuild claim when dropped.
struct ClaimFlag(Arc<AtomicBool>);

impl ledger_application::ports::readmodel::ClaimGuard for ClaimFlag {}

impl Drop for ClaimFlag {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Default for MemoryReadModels {
    fn default() -> Self {
        let map = PROJECTIONS
            .iter()
            .map(|name| {
                let p = Slot {
                    live: Tables::default(),
                    rebuild: None,
                    state: ProjectionState::Live,
                    error: None,
                };
                (*name, p)
            })
            .collect();
        Self {
            rebuild_claimed: Arc::new(AtomicBool::new(false)),
            inner: Mutex::new(map),
            relay: std::sync::Mutex::new(None),
        }
    }
}

fn unknown(name: Projection) -> ReadModelError {
    ReadModelError::Failed(format!("projection {name} is not kept"))
}

fn apply(
    name: Projection,
    tables: &mut Tables,
    batch: &[ProjectedEvent],
) -> Result<(), ReadModelError> {
    let failed = |e: &dyn std::fmt::Display| ReadModelError::cannot_apply(e);
    match name {
        Projection::CurrentState => {
            for p in batch {
                let id = &p.recorded.stream_id;
                let at = p.recorded.recorded_at;
                match &p.event {
                    LedgerEvent::Account(event) => {
                        let row = tables.accounts.remove(id);
                        if let Some(row) = project_account(row, event, p.recorded.version, at)
                            .map_err(|e| failed(&e))?
                        {
                            tables.accounts.insert(id.clone(), row);
                        }
                    }
                    LedgerEvent::Transfer(event) => {
                        let row = tables.transfers.remove(id);
                        let position = p.recorded.cursor.position;
                        if let Some(row) = project_transfer(row, event, position, at) {
                            tables.transfers.insert(id.clone(), row);
                        }
                    }
                    LedgerEvent::Sealed(_) => {}
                }
            }
        }
        Projection::Analytics => {
            let delta = AnalyticsDelta::of(batch).map_err(|e| failed(&e))?;
            for (currency, d) in delta.currencies {
                let t = tables.currencies.entry(currency).or_default();
                t.merge(&d).map_err(|e| failed(&e))?;
            }
            for (key, d) in delta.days {
                let t = tables.days.entry(key).or_default();
                t.merge(&d).map_err(|e| failed(&e))?;
            }
        }
        Projection::AuditLog => {
            for p in batch {
                let entry = AuditEntry::of(p);
                tables.audit.insert(entry.position, entry);
            }
        }
    }
    Ok(())
}

impl MemoryReadModels {
    /// Empty read models.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Projection, Slot>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn live<T>(
        &self,
        name: Projection,
        read: impl FnOnce(&Tables) -> T,
    ) -> Result<T, ReadModelError> {
        let inner = self.lock();
        let p = inner.get(&name).ok_or_else(|| unknown(name))?;
        Ok(read(&p.live))
    }
}

#[async_trait]
impl ProjectionStore for MemoryReadModels {
    async fn checkpoint(
        &self,
        name: Projection,
        generation: Generation,
    ) -> Result<FeedCursor, ReadModelError> {
        let inner = self.lock();
        let p = inner.get(&name).ok_or_else(|| unknown(name))?;
        match generation {
            Generation::Live => Ok(p.live.checkpoint),
            Generation::Rebuild => {
                p.rebuild.as_ref().map(|t| t.checkpoint).ok_or_else(|| {
                    ReadModelError::Failed(format!("no rebuild of {name} in progress"))
                })
            }
        }
    }

    async fn apply_batch(
        &self,
        name: Projection,
        generation: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        let mut inner = self.lock();
        let p = inner.get_mut(&name).ok_or_else(|| unknown(name))?;
        let tables = match generation {
            Generation::Live => &mut p.live,
            Generation::Rebuild => p
                .rebuild
                .as_mut()
                .ok_or_else(|| ReadModelError::Failed("no rebuild running".into()))?,
        };
        if tables.checkpoint != from {
            return Ok(false);
        }
        let mut staged = tables.clone();
        apply(name, &mut staged, batch)?;
        staged.checkpoint = next;
        *tables = staged;
        Ok(true)
    }

    async fn claim_rebuild(&self) -> Result<Option<RebuildClaim>, ReadModelError> {
        let free = self
            .rebuild_claimed
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        Ok(free.then(|| RebuildClaim::new(ClaimFlag(self.rebuild_claimed.clone()))))
    }

    async fn start_rebuild(&self, name: Projection) -> Result<(), ReadModelError> {
        let mut inner = self.lock();
        let p = inner.get_mut(&name).ok_or_else(|| unknown(name))?;
        p.rebuild = Some(Tables::default());
        p.state = ProjectionState::Rebuilding;
        Ok(())
    }

    async fn finish_rebuild(
        &self,
        name: Projection,
        from: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        let mut inner = self.lock();
        let p = inner.get_mut(&name).ok_or_else(|| unknown(name))?;
        match p.rebuild.take() {
            // Not behind the live tables: readers never see a view go back.
            Some(t) if t.checkpoint == from && t.checkpoint >= p.live.checkpoint => {
                p.live = t;
                p.state = ProjectionState::Live;
                p.error = None;
                Ok(true)
            }
            other => {
                p.rebuild = other;
                Ok(false)
            }
        }
    }

    async fn set_failed(
        &self,
        name: Projection,
        generation: Generation,
        at: FeedCursor,
        error: &str,
    ) -> Result<(), ReadModelError> {
        let mut inner = self.lock();
        let p = inner.get_mut(&name).ok_or_else(|| unknown(name))?;
        let now = match generation {
            Generation::Live => Some(p.live.checkpoint),
            Generation::Rebuild => p.rebuild.as_ref().map(|t| t.checkpoint),
        };
        if now != Some(at) {
            return Ok(());
        }
        p.state = ProjectionState::Failed;
        p.error = Some(error.to_owned());
        Ok(())
    }

    async fn statuses(&self) -> Result<Vec<ProjectionStatus>, ReadModelError> {
        // The claim before and after the states: a rebuild takes it just before its
        // state shows it (as the SQL adapters read it).
        let before = self.rebuild_claimed.load(Ordering::SeqCst);
        let inner = self.lock();
        let claimed = before || self.rebuild_claimed.load(Ordering::SeqCst);
        Ok(PROJECTIONS
            .iter()
            .filter_map(|name| {
                inner.get(name).map(|p| {
                    interrupted_if_unclaimed(
                        ProjectionStatus {
                            name: name.to_string(),
                            state: p.state,
                            position: p.live.checkpoint,
                            last_error: p.error.clone(),
                        },
                        claimed,
                    )
                })
            })
            .collect())
    }

    async fn relay_status(&self) -> Result<Option<ProjectionStatus>, ReadModelError> {
        Ok(self.relay.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    async fn move_relay(
        &self,
        from: FeedCursor,
        to: FeedCursor,
        error: Option<String>,
    ) -> Result<bool, ReadModelError> {
        let mut relay = self.relay.lock().unwrap_or_else(|p| p.into_inner());
        let at = relay.as_ref().map_or(FeedCursor::START, |r| r.position);
        if at != from {
            return Ok(false);
        }
        *relay = Some(ProjectionStatus {
            name: "relay".into(),
            state: ProjectionState::Live,
            position: to,
            last_error: error,
        });
        Ok(true)
    }
}
