//! The queries the API answers, on the in-memory read models.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledger_application::ports::readmodel::{
    AccountFilter, AuditFilter, DailyFilter, DueTransfer, Projection, ReadModelError, ReadModels,
    TransferFilter,
};
use ledger_application::transfer_views::TransferRow;
use ledger_application::views::{AccountView, AuditEntry, CurrencySummary, DailyVolume};
use ledger_domain::TransferStatus;

use crate::readmodels::MemoryReadModels;

/// Whether the current-state view has this account under this owner.
fn owned(t: &crate::readmodels::Tables, account_id: &str, owner: &str) -> bool {
    t.accounts.get(account_id).is_some_and(|a| a.owner == owner)
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
        // The owners of accounts are in the current-state view's tables.
        let mine: Option<std::collections::HashSet<String>> = match &f.owner {
            Some(o) => Some(self.live(Projection::CurrentState, |t| {
                t.accounts
                    .values()
                    .filter(|a| a.owner == *o)
                    .map(|a| a.account_id.clone())
                    .collect()
            })?),
            None => None,
        };
        self.live(Projection::AuditLog, |t| {
            t.audit
                .values()
                .rev()
                .filter(|e| f.before.is_none_or(|b| e.position < b))
                .filter(|e| f.account_id.as_ref().is_none_or(|a| e.stream_id == *a))
                .filter(|e| mine.as_ref().is_none_or(|m| m.contains(&e.stream_id)))
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

    async fn audit_between(
        &self,
        first: u64,
        last: u64,
    ) -> Result<Vec<AuditEntry>, ReadModelError> {
        if first > last {
            return Ok(Vec::new());
        }
        self.live(Projection::AuditLog, |t| {
            t.audit
                .range(first..=last)
                .map(|(_, e)| e.clone())
                .collect()
        })
    }

    async fn audit_count(&self) -> Result<u64, ReadModelError> {
        self.live(Projection::AuditLog, |t| t.audit.len() as u64)
    }

    async fn transfers(&self, f: TransferFilter) -> Result<Vec<TransferRow>, ReadModelError> {
        self.live(Projection::CurrentState, |t| {
            let mut rows: Vec<&TransferRow> = t
                .transfers
                .values()
                .filter(|r| f.before.is_none_or(|b| r.created_position < b))
                .filter(|r| f.status.is_none_or(|s| r.view.status == s))
                .filter(|r| {
                    f.owner.as_ref().is_none_or(|o| {
                        owned(t, &r.view.from_account_id, o) || owned(t, &r.view.to_account_id, o)
                    })
                })
                .filter(|r| {
                    f.account_id
                        .as_ref()
                        .is_none_or(|a| r.view.from_account_id == *a || r.view.to_account_id == *a)
                })
                .collect();
            rows.sort_by_key(|r| std::cmp::Reverse(r.created_position));
            rows.into_iter().take(f.limit).cloned().collect()
        })
    }

    async fn due_transfers<'a>(
        &self,
        now: DateTime<Utc>,
        after: Option<&'a DueTransfer>,
        limit: usize,
    ) -> Result<Vec<DueTransfer>, ReadModelError> {
        self.live(Projection::CurrentState, |t| {
            let mut due: Vec<DueTransfer> = t
                .transfers
                .values()
                .filter(|r| r.view.status == TransferStatus::Pending)
                .filter_map(|r| {
                    r.view
                        .expires_at
                        .filter(|at| *at <= now)
                        .map(|expires_at| DueTransfer {
                            expires_at,
                            transfer_id: r.view.transfer_id.clone(),
                        })
                })
                .filter(|d| after.is_none_or(|a| d > a))
                .collect();
            due.sort();
            due.truncate(limit);
            due
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

    async fn daily(&self, f: DailyFilter) -> Result<Vec<DailyVolume>, ReadModelError> {
        self.live(Projection::Analytics, |t| {
            t.days
                .iter()
                .filter(|((d, c), _)| {
                    f.currency.is_none_or(|x| x == *c)
                        && f.from.is_none_or(|x| *d >= x)
                        && f.to.is_none_or(|x| *d <= x)
                        && f.after.is_none_or(|x| (*d, *c) > x)
                })
                .take(f.limit)
                .map(|((d, c), totals)| DailyVolume {
                    date: *d,
                    currency: *c,
                    totals: *totals,
                })
                .collect()
        })
    }
}
