//! How each projection applies a batch inside its SQLite transaction: the
//! current-state rows (read, folded by the shared `views` code, written back), the
//! analytics totals and the audit log; and the checkpoint guard around them.

use ledger_application::decode::LedgerEvent;
use ledger_application::ports::readmodel::{
    Generation, ProjectedEvent, Projection, ReadModelError,
};
use ledger_application::ports::store::FeedCursor;
use ledger_application::views::{project_account, AnalyticsDelta, AuditEntry};

use sqlx::{QueryBuilder, Sqlite};

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

/// Rows per multi-row statement (15 values a row at most: well under SQLite's 32,766
/// variables). Each statement is a round trip to the connection's worker thread that
/// holds the one writer, so a batch takes a few of them, not a few per event.
const ROWS_PER_STATEMENT: usize = 200;

async fn apply_current_state(
    tx: &mut Tx<'_>,
    sfx: &str,
    batch: &[ProjectedEvent],
) -> Result<(), ReadModelError> {
    let mut ids: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for p in batch {
        if matches!(p.event, LedgerEvent::Account(_)) && seen.insert(p.recorded.stream_id.as_str())
        {
            ids.push(p.recorded.stream_id.as_str());
        }
    }
    // Every row the batch touches, read in a few statements.
    let mut touched = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT * FROM current_state{sfx} WHERE account_id IN ("
        ));
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        for row in q.build().fetch_all(&mut **tx).await.map_err(rm_error)? {
            if let Some(v) = one(Some(&row), account_view)? {
                touched.insert(v.account_id.clone(), Some(v));
            }
        }
    }
    for p in batch {
        let LedgerEvent::Account(e) = &p.event else {
            continue;
        };
        let id = p.recorded.stream_id.as_str();
        let row = touched.remove(id).flatten();
        let next = project_account(row, e, p.recorded.version, p.recorded.recorded_at)
            .map_err(ReadModelError::cannot_apply)?;
        touched.insert(id.to_owned(), next);
    }
    let rows: Vec<_> = ids
        .iter()
        .filter_map(|id| touched.get(*id).and_then(Option::as_ref))
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "INSERT OR REPLACE INTO current_state{sfx} (account_id, owner, currency, balance, status, \
                version, total_deposits, total_withdrawals, transaction_count, opened_at, updated_at, \
                closed_at, pending_out, pending_in, overdraft_limit) "
        ));
        q.push_values(chunk, |mut b, v| {
            b.push_bind(&v.account_id)
                .push_bind(&v.owner)
                .push_bind(v.currency.code())
                .push_bind(v.balance.minor_units())
                .push_bind(v.status.as_str())
                .push_bind(i64_of(v.version))
                .push_bind(v.total_deposits.minor_units().to_string())
                .push_bind(v.total_withdrawals.minor_units().to_string())
                .push_bind(i64_of(v.transaction_count))
                .push_bind(micros(v.opened_at))
                .push_bind(micros(v.updated_at))
                .push_bind(v.closed_at.map(micros))
                .push_bind(v.pending_out.minor_units())
                .push_bind(v.pending_in.minor_units())
                .push_bind(v.overdraft_limit.minor_units());
        });
        q.build().execute(&mut **tx).await.map_err(rm_error)?;
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
    let entries: Vec<AuditEntry> = batch.iter().map(AuditEntry::of).collect();
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "INSERT INTO audit_log{sfx} (position, event_id, event_type, stream_id, version, \
                actor, request_id, recorded_at, amount, currency) "
        ));
        q.push_values(chunk, |mut b, e| {
            b.push_bind(i64_of(e.position))
                .push_bind(e.event_id.to_string())
                .push_bind(&e.event_type)
                .push_bind(&e.stream_id)
                .push_bind(i64_of(e.version))
                .push_bind(&e.actor)
                .push_bind(&e.request_id)
                .push_bind(micros(e.recorded_at))
                .push_bind(e.amount.map(|m| m.minor_units()))
                .push_bind(e.currency.map(|c| c.code()));
        });
        q.build().execute(&mut **tx).await.map_err(rm_error)?;
    }
    Ok(())
}
