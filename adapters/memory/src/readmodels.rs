//! In-memory read models (current state, analytics, audit log) with checkpoints,
//! rebuild generations and the queries the API answers.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::NaiveDate;
use ledger_application::decode::LedgerEvent;
use ledger_application::ports::readmodel::{
    interrupted_if_unclaimed, AccountFilter, AuditFilter, Generation, ProjectedEvent, Projection,
    ProjectionState, ProjectionStatus, ProjectionStore, ReadModelError, ReadModels, RebuildClaim,
    PROJECTIONS,
};
use ledger_application::ports::store::FeedCursor;
use ledger_application::views::{
    project_account, AccountView, AnalyticsDelta, AuditEntry, CurrencySummary, CurrencyTotals,
    DailyVolume, DayTotals,
};
use ledger_domain::Currency;

#[derive(Default, Clone)]
struct Tables {
    checkpoint: FeedCursor,
    accounts: BTreeMap<String, AccountView>,
    currencies: BTreeMap<Currency, CurrencyTotals>,
    days: BTreeMap<(NaiveDate, Currency), DayTotals>,
    audit: BTreeMap<u64, AuditEntry>,
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
}

/// Releases the memory store's rebuild claim when dropped.
struct ClaimFlag(Arc<AtomicBool>);

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
                let LedgerEvent::Account(event) = &p.event else {
                    continue;
                };
                let id = &p.recorded.stream_id;
                let row = tables.accounts.remove(id);
                let at = p.recorded.recorded_at;
                if let Some(row) =
                    project_account(row, event, p.recorded.version, at).map_err(|e| failed(&e))?
                {
                    tables.accounts.insert(id.clone(), row);
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

    fn live<T>(
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

    async fn set_failed(&self, name: Projection, error: &str) -> Result<(), ReadModelError> {
        let mut inner = self.lock();
        let p = inner.get_mut(&name).ok_or_else(|| unknown(name))?;
        p.state = ProjectionState::Failed;
        p.error = Some(error.to_owned());
        Ok(())
    }

    async fn statuses(&self) -> Result<Vec<ProjectionStatus>, ReadModelError> {
        let claimed = self.rebuild_claimed.load(Ordering::SeqCst);
        let inner = self.lock();
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
}

#[async_trait]
impl ReadModels for MemoryReadModels {
    async fn account(&self, account_id: &str) -> Result<Option<AccountView>, ReadModelError> {
        self.live(Projection::CurrentState, |t| {
            t.accounts.get(account_id).cloned()
        })
    }

    async fn accounts(&self, f: AccountFilter) -> Result<Vec<AccountView>, ReadModelError> {
        self.live(Projection::CurrentState, |t| {
            t.accounts
                .values()
                .filter(|a| f.after.as_ref().is_none_or(|after| a.account_id > *after))
                .filter(|a| f.owner.as_ref().is_none_or(|o| a.owner == *o))
                .filter(|a| f.status.is_none_or(|s| a.status == s))
                .take(f.limit)
                .cloned()
                .collect()
        })
    }

    async fn audit(&self, f: AuditFilter) -> Result<Vec<AuditEntry>, ReadModelError> {
        self.live(Projection::AuditLog, |t| {
            t.audit
                .values()
                .rev()
                .filter(|e| f.before.is_none_or(|b| e.position < b))
                .filter(|e| f.account_id.as_ref().is_none_or(|a| e.stream_id == *a))
                .filter(|e| f.event_type.as_ref().is_none_or(|x| e.event_type == *x))
                .filter(|e| {
                    f.request_id
                        .as_ref()
                        .is_none_or(|r| e.request_id.as_ref() == Some(r))
                })
                .filter(|e| f.from.is_none_or(|from| e.recorded_at >= from))
                .filter(|e| f.to.is_none_or(|to| e.recorded_at <= to))
                .take(f.limit)
                .cloned()
                .collect()
        })
    }

    async fn summary(&self) -> Result<Vec<CurrencySummary>, ReadModelError> {
        self.live(Projection::Analytics, |t| {
            t.currencies
                .iter()
                .map(|(c, totals)| CurrencySummary {
                    currency: *c,
                    totals: *totals,
                })
                .collect()
        })
    }

    async fn daily(
        &self,
        currency: Option<Currency>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<DailyVolume>, ReadModelError> {
        self.live(Projection::Analytics, |t| {
            t.days
                .iter()
                .filter(|((d, c), _)| {
                    currency.is_none_or(|x| x == *c)
                        && from.is_none_or(|f| *d >= f)
                        && to.is_none_or(|x| *d <= x)
                })
                .map(|((d, c), totals)| DailyVolume {
                    date: *d,
                    currency: *c,
                    totals: *totals,
                })
                .collect()
        })
    }
}
