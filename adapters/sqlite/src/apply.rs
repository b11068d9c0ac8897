//! How each projection applies a batch inside its SQLite transaction: the
//! current-state rows (read, folded by the shared `views` code, written back), the
//! analytics totals and the audit log; and the checkpoint guard around them.

use ledger_application::decode::LedgerEvent;
use ledger_application::ports::readmodel::{
    Generation, ProjectedEvent, Projection, ReadModelError,
};
use ledger_application::ports::store::FeedCursor;
use ledger_application::views::{project_account, AnalyticsDelta, AuditEntry};

use crate::projections::{checkpoint_in, cols, rm_error, Tx};
use ledger_sql::{account_view, currency_totals, day_totals, i64_of};

use crate::apply_transfers::apply_transfers;
use crate::queries::{day, micros, one};

/// Inside `tx`: applies the batch and moves the checkpoint, if it is at `from`.
pub(crate) async fn apply_in(
    tx: &mut Tx<'_>,
    name: Projection,
    g: Generation,
    from: FeedCursor,
    batch: &[ProjectedEvent],
    next: FeedCursor,
) -> Result<bool, ReadModelError> {
    let current = checkpoint_in(tx, name, g).await?;
    if current.unwrap_or_default() != from || (g == Generation::Rebuild && current.is_none()) {
        return Ok(false);
    }
    let (t, p, sfx) = cols(g);
    match name {
        Projection::CurrentState => apply_current_state(tx, sfx, batch).await?,
        Projection::Analytics => apply_analytics(tx, sfx, batch).await?,
        Projection::AuditLog => apply_audit(tx, sfx, batch).await?,
    }
    sqlx::query(&format!(
        "UPDATE projections SET {t} = ?2, {p} = ?3 WHERE name = ?1"
    ))
    .bind(name.as_str())
    .bind(i64_of(next.tx))
    .bind(i64_of(next.position))
    .execute(&mut **tx)
    .await
    .map_err(rm_error)?;
    Ok(true)
}

async fn apply_current_state(
    tx: &mut Tx<'_>,
    sfx: &str,
    batch: &[ProjectedEvent],
) -> Result<(), ReadModelError> {
    let mut touched = std::collections::HashMap::new();
    for p in batch {
        let LedgerEvent::Account(e) = &p.event else {
            continue;
        };
        let id = p.recorded.stream_id.as_str();
        let row = match touched.remove(id) {
            Some(row) => row,
            None => {
                let row = sqlx::query(&format!(
                    "SELECT * FROM current_state{sfx} WHERE account_id = ?1"
                ))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(rm_error)?;
                one(row.as_ref(), account_view)?
            }
        };
        let next = project_account(row, e, p.recorded.version, p.recorded.recorded_at)
            .map_err(ReadModelError::cannot_apply)?;
        touched.insert(id, next);
    }
    for v in touched.into_values().flatten() {
        sqlx::query(&format!(
            "INSERT OR REPLACE INTO current_state{sfx} (account_id, owner, currency, balance, status, \
                version, total_deposits, total_withdrawals, transaction_count, opened_at, updated_at, \
                closed_at, pending_out, pending_in, overdraft_limit) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ))
        .bind(&v.account_id)
        .bind(&v.owner)
        .bind(v.currency.code())
        .bind(v.balance.minor_units())
        .bind(v.status.as_str())
        .bind(i64_of(v.version))
        .bind(v.total_deposits.minor_units().to_string())
        .bind(v.total_withdrawals.minor_units().to_string())
        .bind(i64_of(v.transaction_count))
        .bind(micros(v.opened_at))
        .bind(micros(v.updated_at))
        .bind(v.closed_at.map(micros))
        .bind(v.pending_out.minor_units())
        .bind(v.pending_in.minor_units())
        .bind(v.overdraft_limit.minor_units())
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
    }
    apply_transfers(tx, sfx, batch).await
}

/// SQLite cannot add the wide sums (decimal text) itself: each touched row is read,
/// the batch's delta added in Rust, and the row written back, all in the projection's
/// transaction (the one writer: nothing moves the row in between).
async fn apply_analytics(
    tx: &mut Tx<'_>,
    sfx: &str,
    batch: &[ProjectedEvent],
) -> Result<(), ReadModelError> {
    let delta = AnalyticsDelta::of(batch).map_err(ReadModelError::cannot_apply)?;
    for (c, d) in &delta.currencies {
        let row = sqlx::query(&format!(
            "SELECT * FROM analytics_currency{sfx} WHERE currency = ?1"
        ))
        .bind(c.code())
        .fetch_optional(&mut **tx)
        .await
        .map_err(rm_error)?;
        let mut t = one(row.as_ref(), currency_totals)?.unwrap_or_default();
        t.merge(d).map_err(ReadModelError::cannot_apply)?;
        sqlx::query(&format!(
            "INSERT OR REPLACE INTO analytics_currency{sfx} (currency, open_accounts, \
                closed_accounts, total_balance, total_deposited, total_withdrawn, \
                transfer_volume, event_count, pending_volume) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ))
        .bind(c.code())
        .bind(t.open_accounts)
        .bind(t.closed_accounts)
        .bind(t.total_balance.to_string())
        .bind(t.total_deposited.to_string())
        .bind(t.total_withdrawn.to_string())
        .bind(t.transfer_volume.to_string())
        .bind(t.event_count)
        .bind(t.pending_volume.to_string())
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
    }
    for ((date, c), d) in &delta.days {
        let day = day(*date);
        let row = sqlx::query(&format!(
            "SELECT * FROM analytics_daily{sfx} WHERE day = ?1 AND currency = ?2"
        ))
        .bind(&day)
        .bind(c.code())
        .fetch_optional(&mut **tx)
        .await
        .map_err(rm_error)?;
        let mut t = one(row.as_ref(), day_totals)?.unwrap_or_default();
        t.merge(d).map_err(ReadModelError::cannot_apply)?;
        sqlx::query(&format!(
            "INSERT OR REPLACE INTO analytics_daily{sfx} (day, currency, deposit_count, \
                deposit_volume, withdrawal_count, withdrawal_volume, transfer_count, \
                transfer_volume) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))
        .bind(&day)
        .bind(c.code())
        .bind(t.deposit_count)
        .bind(t.deposit_volume.to_string())
        .bind(t.withdrawal_count)
        .bind(t.withdrawal_volume.to_string())
        .bind(t.transfer_count)
        .bind(t.transfer_volume.to_string())
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
    }
    Ok(())
}

async fn apply_audit(
    tx: &mut Tx<'_>,
    sfx: &str,
    batch: &[ProjectedEvent],
) -> Result<(), ReadModelError> {
    for e in batch.iter().map(AuditEntry::of) {
        sqlx::query(&format!(
            "INSERT INTO audit_log{sfx} (position, event_id, event_type, stream_id, version, \
                actor, request_id, recorded_at, amount, currency) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))
        .bind(i64_of(e.position))
        .bind(e.event_id.to_string())
        .bind(&e.event_type)
        .bind(&e.stream_id)
        .bind(i64_of(e.version))
        .bind(&e.actor)
        .bind(&e.request_id)
        .bind(micros(e.recorded_at))
        .bind(e.amount.map(|m| m.minor_units()))
        .bind(e.currency.map(|c| c.code()))
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
    }
    Ok(())
}
