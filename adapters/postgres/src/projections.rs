//! The projection-store port on PostgreSQL: batches and checkpoints in one transaction,
//! optimistic on the checkpoint; rebuild tables swapped in by one transaction; one
//! runner per projection among instances through a session advisory lock.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use ledger_application::decode::LedgerEvent;
use ledger_application::ports::readmodel::{
    Generation, ProjectedEvent, ProjectionState, ProjectionStatus, ProjectionStore, ReadModelError,
};
use ledger_application::ports::store::FeedCursor;
use ledger_application::views::{project_account, AccountView, AnalyticsDelta, AuditEntry};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};
use tokio::sync::Mutex;

use crate::errors::is_unavailable;
use crate::queries::account_row;

/// Tables of each projection.
fn tables(projection: &str) -> Result<&'static [&'static str], ReadModelError> {
    Ok(match projection {
        "current_state" => &["current_state"],
        "analytics" => &["analytics_currency", "analytics_daily"],
        "audit_log" => &["audit_log"],
        other => {
            return Err(ReadModelError::Failed(format!(
                "unknown projection {other}"
            )))
        }
    })
}

fn suffix(g: Generation) -> &'static str {
    match g {
        Generation::Live => "",
        Generation::Rebuild => "__rebuild",
    }
}

pub(crate) fn rm_error(e: sqlx::Error) -> ReadModelError {
    if is_unavailable(&e) {
        ReadModelError::Unavailable(e.to_string())
    } else {
        ReadModelError::Failed(e.to_string())
    }
}

fn failed(e: impl std::fmt::Display) -> ReadModelError {
    ReadModelError::Failed(e.to_string())
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Read models in PostgreSQL.
pub struct PgProjectionStore {
    pool: PgPool,
    leases: Mutex<HashMap<String, PgConnection>>,
}

impl PgProjectionStore {
    /// A store on a migrated database.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            leases: Mutex::new(HashMap::new()),
        }
    }

    /// Reads a checkpoint; inside a transaction, `FOR UPDATE` holds the projection's row
    /// until it ends (batches and the rebuild swap serialize on it).
    async fn read_checkpoint<'c>(
        exec: impl sqlx::PgExecutor<'c>,
        name: &str,
        g: Generation,
        for_update: bool,
    ) -> Result<Option<FeedCursor>, ReadModelError> {
        let (t, p) = match g {
            Generation::Live => ("tx", "position"),
            Generation::Rebuild => ("rebuild_tx", "rebuild_position"),
        };
        let lock = if for_update { " FOR UPDATE" } else { "" };
        let row = sqlx::query(&format!(
            "SELECT {t} AS t, {p} AS p FROM projections WHERE name = $1{lock}"
        ))
        .bind(name)
        .fetch_optional(exec)
        .await
        .map_err(rm_error)?
        .ok_or_else(|| failed(format!("unknown projection {name}")))?;
        let t: Option<i64> = row.try_get("t").map_err(rm_error)?;
        let p: Option<i64> = row.try_get("p").map_err(rm_error)?;
        Ok(t.zip(p).map(|(t, p)| FeedCursor {
            tx: u64::try_from(t).unwrap_or(0),
            position: u64::try_from(p).unwrap_or(0),
        }))
    }

    /// Inside `tx`: applies the batch and moves the checkpoint, if it is at `from`.
    async fn apply_in(
        tx: &mut Transaction<'_, Postgres>,
        name: &str,
        g: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        tables(name)?;
        let current = Self::read_checkpoint(&mut **tx, name, g, true).await?;
        if current.unwrap_or_default() != from || (g == Generation::Rebuild && current.is_none()) {
            return Ok(false);
        }
        let sfx = suffix(g);
        match name {
            "current_state" => Self::apply_current_state(tx, sfx, batch).await?,
            "analytics" => Self::apply_analytics(tx, sfx, batch).await?,
            _ => Self::apply_audit(tx, sfx, batch).await?,
        }
        let (t, p) = match g {
            Generation::Live => ("tx", "position"),
            Generation::Rebuild => ("rebuild_tx", "rebuild_position"),
        };
        sqlx::query(&format!(
            "UPDATE projections SET {t} = $2, {p} = $3 WHERE name = $1"
        ))
        .bind(name)
        .bind(i64_of(next.tx))
        .bind(i64_of(next.position))
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
        Ok(true)
    }

    async fn apply_current_state(
        tx: &mut Transaction<'_, Postgres>,
        sfx: &str,
        batch: &[ProjectedEvent],
    ) -> Result<(), ReadModelError> {
        let ids: Vec<&str> = batch
            .iter()
            .filter(|p| matches!(p.event, LedgerEvent::Account(_)))
            .map(|p| p.recorded.stream_id.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let rows = sqlx::query(&format!(
            // A join on the key, not `= ANY($1)`: on a small table the planner picks a
            // scan that tests every row against the whole array (quadratic in the batch).
            "SELECT c.* FROM UNNEST($1::text[]) AS k(id) \
             JOIN current_state{sfx} c ON c.account_id = k.id"
        ))
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(rm_error)?;
        let mut views: HashMap<String, AccountView> = HashMap::new();
        for r in &rows {
            let v = account_row(r).map_err(rm_error)?;
            views.insert(v.account_id.clone(), v);
        }
        for p in batch {
            let LedgerEvent::Account(e) = &p.event else {
                continue;
            };
            let id = &p.recorded.stream_id;
            let row = views.remove(id);
            if let Some(v) = project_account(row, e, p.recorded.version, p.recorded.recorded_at)
                .map_err(failed)?
            {
                views.insert(id.clone(), v);
            }
        }
        let v: Vec<&AccountView> = views.values().collect();
        sqlx::query(&format!(
            "INSERT INTO current_state{sfx} (account_id, owner, currency, balance, status, version, \
                total_deposits, total_withdrawals, transaction_count, opened_at, updated_at, closed_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], \
                $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::timestamptz[], \
                $11::timestamptz[], $12::timestamptz[]) \
             ON CONFLICT (account_id) DO UPDATE SET owner = EXCLUDED.owner, \
                currency = EXCLUDED.currency, balance = EXCLUDED.balance, status = EXCLUDED.status, \
                version = EXCLUDED.version, total_deposits = EXCLUDED.total_deposits, \
                total_withdrawals = EXCLUDED.total_withdrawals, \
                transaction_count = EXCLUDED.transaction_count, opened_at = EXCLUDED.opened_at, \
                updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at"
        ))
        .bind(v.iter().map(|a| a.account_id.as_str()).collect::<Vec<_>>())
        .bind(v.iter().map(|a| a.owner.as_str()).collect::<Vec<_>>())
        .bind(v.iter().map(|a| a.currency.code()).collect::<Vec<_>>())
        .bind(v.iter().map(|a| a.balance.minor_units()).collect::<Vec<_>>())
        .bind(v.iter().map(|a| status_str(a)).collect::<Vec<_>>())
        .bind(v.iter().map(|a| i64_of(a.version)).collect::<Vec<_>>())
        .bind(v.iter().map(|a| a.total_deposits.minor_units()).collect::<Vec<_>>())
        .bind(v.iter().map(|a| a.total_withdrawals.minor_units()).collect::<Vec<_>>())
        .bind(v.iter().map(|a| i64_of(a.transaction_count)).collect::<Vec<_>>())
        .bind(v.iter().map(|a| a.opened_at).collect::<Vec<_>>())
        .bind(v.iter().map(|a| a.updated_at).collect::<Vec<_>>())
        .bind(v.iter().map(|a| a.closed_at).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
        Ok(())
    }

    async fn apply_analytics(
        tx: &mut Transaction<'_, Postgres>,
        sfx: &str,
        batch: &[ProjectedEvent],
    ) -> Result<(), ReadModelError> {
        let delta = AnalyticsDelta::of(batch).map_err(failed)?;
        for (c, d) in &delta.currencies {
            sqlx::query(&format!(
                "INSERT INTO analytics_currency{sfx} AS t (currency, open_accounts, closed_accounts, \
                    total_balance, total_deposited, total_withdrawn, transfer_volume, event_count) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (currency) DO UPDATE SET \
                    open_accounts = t.open_accounts + EXCLUDED.open_accounts, \
                    closed_accounts = t.closed_accounts + EXCLUDED.closed_accounts, \
                    total_balance = t.total_balance + EXCLUDED.total_balance, \
                    total_deposited = t.total_deposited + EXCLUDED.total_deposited, \
                    total_withdrawn = t.total_withdrawn + EXCLUDED.total_withdrawn, \
                    transfer_volume = t.transfer_volume + EXCLUDED.transfer_volume, \
                    event_count = t.event_count + EXCLUDED.event_count"
            ))
            .bind(c.code())
            .bind(d.open_accounts)
            .bind(d.closed_accounts)
            .bind(d.total_balance)
            .bind(d.total_deposited)
            .bind(d.total_withdrawn)
            .bind(d.transfer_volume)
            .bind(d.event_count)
            .execute(&mut **tx)
            .await
            .map_err(rm_error)?;
        }
        for ((day, c), d) in &delta.days {
            sqlx::query(&format!(
                "INSERT INTO analytics_daily{sfx} AS t (day, currency, deposit_count, deposit_volume, \
                    withdrawal_count, withdrawal_volume, transfer_count, transfer_volume) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (day, currency) DO UPDATE SET \
                    deposit_count = t.deposit_count + EXCLUDED.deposit_count, \
                    deposit_volume = t.deposit_volume + EXCLUDED.deposit_volume, \
                    withdrawal_count = t.withdrawal_count + EXCLUDED.withdrawal_count, \
                    withdrawal_volume = t.withdrawal_volume + EXCLUDED.withdrawal_volume, \
                    transfer_count = t.transfer_count + EXCLUDED.transfer_count, \
                    transfer_volume = t.transfer_volume + EXCLUDED.transfer_volume"
            ))
            .bind(day)
            .bind(c.code())
            .bind(d.deposit_count)
            .bind(d.deposit_volume)
            .bind(d.withdrawal_count)
            .bind(d.withdrawal_volume)
            .bind(d.transfer_count)
            .bind(d.transfer_volume)
            .execute(&mut **tx)
            .await
            .map_err(rm_error)?;
        }
        Ok(())
    }

    async fn apply_audit(
        tx: &mut Transaction<'_, Postgres>,
        sfx: &str,
        batch: &[ProjectedEvent],
    ) -> Result<(), ReadModelError> {
        let entries: Vec<AuditEntry> = batch.iter().map(AuditEntry::of).collect();
        sqlx::query(&format!(
            "INSERT INTO audit_log{sfx} (position, event_id, event_type, stream_id, version, actor, \
                request_id, recorded_at, amount, currency) \
             SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], \
                $6::text[], $7::text[], $8::timestamptz[], $9::bigint[], $10::text[]) \
             ON CONFLICT (position) DO NOTHING"
        ))
        .bind(entries.iter().map(|e| i64_of(e.position)).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.event_id).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.stream_id.as_str()).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| i64_of(e.version)).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.actor.as_str()).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.request_id.as_deref()).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.recorded_at).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.amount.map(|m| m.minor_units())).collect::<Vec<_>>())
        .bind(entries.iter().map(|e| e.amount.map(|m| m.currency().code())).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
        Ok(())
    }
}

fn status_str(a: &AccountView) -> &'static str {
    match a.status {
        ledger_domain::AccountStatus::Open => "open",
        ledger_domain::AccountStatus::Closed => "closed",
    }
}

#[async_trait]
impl ProjectionStore for PgProjectionStore {
    async fn checkpoint(&self, name: &str, g: Generation) -> Result<FeedCursor, ReadModelError> {
        let cp = Self::read_checkpoint(&self.pool, name, g, false).await?;
        Ok(cp.unwrap_or_default())
    }

    async fn apply_batch(
        &self,
        name: &str,
        g: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        let mut tx = self.pool.begin().await.map_err(rm_error)?;
        let applied = Self::apply_in(&mut tx, name, g, from, batch, next).await?;
        if applied {
            tx.commit().await.map_err(rm_error)?;
        }
        Ok(applied)
    }

    async fn apply_batches(
        &self,
        names: &[&'static str],
        g: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<Vec<bool>, ReadModelError> {
        // One transaction, one commit; checkpoint rows locked in name order (no
        // deadlock with another runner doing the same).
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by_key(|&i| names[i]);
        let mut tx = self.pool.begin().await.map_err(rm_error)?;
        let mut applied = vec![false; names.len()];
        for i in order {
            applied[i] = Self::apply_in(&mut tx, names[i], g, from, batch, next).await?;
        }
        tx.commit().await.map_err(rm_error)?;
        Ok(applied)
    }

    async fn start_rebuild(&self, name: &str) -> Result<(), ReadModelError> {
        let mut tx = self.pool.begin().await.map_err(rm_error)?;
        Self::read_checkpoint(&mut *tx, name, Generation::Live, true).await?;
        for table in tables(name)? {
            sqlx::query(&format!("DROP TABLE IF EXISTS {table}__rebuild"))
                .execute(&mut *tx)
                .await
                .map_err(rm_error)?;
            sqlx::query(&format!(
                "CREATE TABLE {table}__rebuild (LIKE {table} INCLUDING ALL)"
            ))
            .execute(&mut *tx)
            .await
            .map_err(rm_error)?;
            // Only the primary key while filling (the upserts need it); the other
            // indexes are built once, sorted, at the end: far cheaper than keeping
            // them up to date row by row.
            let secondary: Vec<String> = sqlx::query_scalar(
                "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE i.indrelid = $1::text::regclass AND NOT i.indisprimary",
            )
            .bind(format!("{table}__rebuild"))
            .fetch_all(&mut *tx)
            .await
            .map_err(rm_error)?;
            for index in secondary {
                sqlx::query(&format!("DROP INDEX \"{index}\""))
                    .execute(&mut *tx)
                    .await
                    .map_err(rm_error)?;
            }
        }
        sqlx::query(
            "UPDATE projections SET state = 'rebuilding', rebuild_tx = 0, rebuild_position = 0 \
             WHERE name = $1",
        )
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(rm_error)?;
        tx.commit().await.map_err(rm_error)
    }

    async fn finish_rebuild(&self, name: &str, from: FeedCursor) -> Result<bool, ReadModelError> {
        // The live tables' secondary indexes, built on the copies before the swap (and
        // outside its lock), named `<index>__rebuild` until then.
        let mut renames = Vec::new();
        for table in tables(name)? {
            let copy: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
                .bind(format!("{table}__rebuild"))
                .fetch_one(&self.pool)
                .await
                .map_err(rm_error)?;
            if copy.is_none() {
                return Err(failed(format!(
                    "no rebuild of {name} in progress (finished or abandoned elsewhere)"
                )));
            }
            let indexes: Vec<(String, bool, String)> = sqlx::query_as(
                "SELECT c.relname::text, i.indisunique, \
                        substring(pg_get_indexdef(i.indexrelid) from ' USING .*$') \
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE i.indrelid = $1::text::regclass AND NOT i.indisprimary",
            )
            .bind(table)
            .fetch_all(&self.pool)
            .await
            .map_err(rm_error)?;
            for (index, unique, using) in indexes {
                let unique = if unique { "UNIQUE " } else { "" };
                sqlx::query(&format!(
                    "CREATE {unique}INDEX IF NOT EXISTS \"{index}__rebuild\" \
                     ON {table}__rebuild{using}"
                ))
                .execute(&self.pool)
                .await
                .map_err(rm_error)?;
                renames.push(format!(
                    "ALTER INDEX \"{index}__rebuild\" RENAME TO \"{index}\""
                ));
            }
            renames.push(format!(
                "ALTER INDEX IF EXISTS \"{table}__rebuild_pkey\" RENAME TO \"{table}_pkey\""
            ));
        }
        let mut tx = self.pool.begin().await.map_err(rm_error)?;
        // Locks the projection row: the live runner's next batch waits, then finds the
        // checkpoint moved and continues from the rebuilt one.
        Self::read_checkpoint(&mut *tx, name, Generation::Live, true).await?;
        if Self::read_checkpoint(&mut *tx, name, Generation::Rebuild, true).await? != Some(from) {
            return Ok(false);
        }
        for table in tables(name)? {
            for sql in [
                format!("DROP TABLE {table}"),
                format!("ALTER TABLE {table}__rebuild RENAME TO {table}"),
            ] {
                sqlx::query(&sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(rm_error)?;
            }
        }
        for sql in &renames {
            sqlx::query(sql).execute(&mut *tx).await.map_err(rm_error)?;
        }
        sqlx::query(
            "UPDATE projections SET state = 'live', last_error = NULL, tx = rebuild_tx, \
                position = rebuild_position, rebuild_tx = NULL, rebuild_position = NULL \
             WHERE name = $1",
        )
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(rm_error)?;
        tx.commit().await.map_err(rm_error)?;
        Ok(true)
    }

    async fn set_failed(&self, name: &str, error: &str) -> Result<(), ReadModelError> {
        sqlx::query("UPDATE projections SET state = 'failed', last_error = $2 WHERE name = $1")
            .bind(name)
            .bind(error)
            .execute(&self.pool)
            .await
            .map_err(rm_error)?;
        Ok(())
    }

    async fn statuses(&self) -> Result<Vec<ProjectionStatus>, ReadModelError> {
        let rows = sqlx::query(
            "SELECT name, state, tx, position, last_error FROM projections ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(rm_error)?;
        rows.iter()
            .map(|r| {
                Ok(ProjectionStatus {
                    name: r.try_get("name")?,
                    state: ProjectionState::parse(r.try_get::<String, _>("state")?.as_str()),
                    position: FeedCursor {
                        tx: u64::try_from(r.try_get::<i64, _>("tx")?).unwrap_or(0),
                        position: u64::try_from(r.try_get::<i64, _>("position")?).unwrap_or(0),
                    },
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(rm_error)
    }

    async fn try_lead(&self, name: &str) -> Result<bool, ReadModelError> {
        let mut leases = self.leases.lock().await;
        if let Some(conn) = leases.get_mut(name) {
            if conn.ping().await.is_ok() {
                return Ok(true);
            }
            leases.remove(name);
        }
        let options = self.pool.connect_options();
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(rm_error)?;
        let got: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('ledger:projection:' || $1))")
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .map_err(rm_error)?;
        if got {
            leases.insert(name.to_owned(), conn);
        }
        Ok(got)
    }
}
