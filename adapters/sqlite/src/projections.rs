//! The projection-store port on SQLite: batches and checkpoints in one write
//! transaction, optimistic on the checkpoint; rebuild tables swapped in at once.

use async_trait::async_trait;
use ledger_application::decode::LedgerEvent;
use ledger_application::ports::readmodel::{
    Generation, ProjectedEvent, ProjectionState, ProjectionStatus, ProjectionStore, ReadModelError,
};
use ledger_application::ports::store::FeedCursor;
use ledger_application::views::{project_account, AnalyticsDelta, AuditEntry};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::queries::{account_row, micros, status_str};

pub(crate) fn rm_error(e: sqlx::Error) -> ReadModelError {
    match &e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            ReadModelError::Unavailable(e.to_string())
        }
        _ => ReadModelError::Failed(e.to_string()),
    }
}

fn failed(e: impl std::fmt::Display) -> ReadModelError {
    ReadModelError::Failed(e.to_string())
}

fn tables(projection: &str) -> Result<&'static [&'static str], ReadModelError> {
    Ok(match projection {
        "current_state" => &["current_state"],
        "analytics" => &["analytics_currency", "analytics_daily"],
        "audit_log" => &["audit_log"],
        other => return Err(failed(format!("unknown projection {other}"))),
    })
}

fn cols(g: Generation) -> (&'static str, &'static str, &'static str) {
    match g {
        Generation::Live => ("tx", "position", ""),
        Generation::Rebuild => ("rebuild_tx", "rebuild_position", "__rebuild"),
    }
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Read models on the SQLite file (shares the store's single writer connection).
#[derive(Clone)]
pub struct SqliteProjectionStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

type Tx<'a> = Transaction<'a, Sqlite>;

async fn checkpoint_in(
    tx: &mut Tx<'_>,
    name: &str,
    g: Generation,
) -> Result<Option<FeedCursor>, ReadModelError> {
    let (t, p, _) = cols(g);
    let row = sqlx::query(&format!(
        "SELECT {t} AS t, {p} AS p FROM projections WHERE name = ?1"
    ))
    .bind(name)
    .fetch_optional(&mut **tx)
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
            None => sqlx::query(&format!(
                "SELECT * FROM current_state{sfx} WHERE account_id = ?1"
            ))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(rm_error)?
            .as_ref()
            .map(account_row)
            .transpose()
            .map_err(rm_error)?,
        };
        let next =
            project_account(row, e, p.recorded.version, p.recorded.recorded_at).map_err(failed)?;
        touched.insert(id, next);
    }
    for v in touched.into_values().flatten() {
        sqlx::query(&format!(
            "INSERT OR REPLACE INTO current_state{sfx} (account_id, owner, currency, balance, status, \
                version, total_deposits, total_withdrawals, transaction_count, opened_at, updated_at, \
                closed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))
        .bind(&v.account_id)
        .bind(&v.owner)
        .bind(v.currency.code())
        .bind(v.balance.minor_units())
        .bind(status_str(v.status))
        .bind(i64_of(v.version))
        .bind(v.total_deposits.minor_units())
        .bind(v.total_withdrawals.minor_units())
        .bind(i64_of(v.transaction_count))
        .bind(micros(v.opened_at))
        .bind(micros(v.updated_at))
        .bind(v.closed_at.map(micros))
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
    }
    Ok(())
}

async fn apply_analytics(
    tx: &mut Tx<'_>,
    sfx: &str,
    batch: &[ProjectedEvent],
) -> Result<(), ReadModelError> {
    let delta = AnalyticsDelta::of(batch).map_err(failed)?;
    for (c, d) in &delta.currencies {
        sqlx::query(&format!(
            "INSERT INTO analytics_currency{sfx} AS t (currency, open_accounts, closed_accounts, \
                total_balance, total_deposited, total_withdrawn, transfer_volume, event_count) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (currency) DO UPDATE SET \
                open_accounts = t.open_accounts + excluded.open_accounts, \
                closed_accounts = t.closed_accounts + excluded.closed_accounts, \
                total_balance = t.total_balance + excluded.total_balance, \
                total_deposited = t.total_deposited + excluded.total_deposited, \
                total_withdrawn = t.total_withdrawn + excluded.total_withdrawn, \
                transfer_volume = t.transfer_volume + excluded.transfer_volume, \
                event_count = t.event_count + excluded.event_count"
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (day, currency) DO UPDATE SET \
                deposit_count = t.deposit_count + excluded.deposit_count, \
                deposit_volume = t.deposit_volume + excluded.deposit_volume, \
                withdrawal_count = t.withdrawal_count + excluded.withdrawal_count, \
                withdrawal_volume = t.withdrawal_volume + excluded.withdrawal_volume, \
                transfer_count = t.transfer_count + excluded.transfer_count, \
                transfer_volume = t.transfer_volume + excluded.transfer_volume"
        ))
        .bind(day.format("%Y-%m-%d").to_string())
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
    tx: &mut Tx<'_>,
    sfx: &str,
    batch: &[ProjectedEvent],
) -> Result<(), ReadModelError> {
    for e in batch.iter().map(AuditEntry::of) {
        sqlx::query(&format!(
            "INSERT OR IGNORE INTO audit_log{sfx} (position, event_id, event_type, stream_id, version, \
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
        .bind(e.amount.map(|m| m.currency().code()))
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
    }
    Ok(())
}

/// `CREATE ...` text with the object named `name` on `table` (for copying stored DDL).
fn renamed(sql: &str, head: &str) -> Option<String> {
    sql.find('(').map(|i| format!("{head} {}", &sql[i..]))
}

impl SqliteProjectionStore {
    /// Read models on the store's pools (the file must be migrated).
    pub fn new(writer: SqlitePool, reader: SqlitePool) -> Self {
        Self { writer, reader }
    }

    async fn write_tx(&self) -> Result<Tx<'static>, ReadModelError> {
        crate::begin_immediate(&self.writer).await.map_err(rm_error)
    }
}

/// Inside `tx`: applies the batch and moves the checkpoint, if it is at `from`.
async fn apply_in(
    tx: &mut Tx<'static>,
    name: &str,
    g: Generation,
    from: FeedCursor,
    batch: &[ProjectedEvent],
    next: FeedCursor,
) -> Result<bool, ReadModelError> {
    tables(name)?;
    let current = checkpoint_in(tx, name, g).await?;
    if current.unwrap_or_default() != from || (g == Generation::Rebuild && current.is_none()) {
        return Ok(false);
    }
    let (t, p, sfx) = cols(g);
    match name {
        "current_state" => apply_current_state(tx, sfx, batch).await?,
        "analytics" => apply_analytics(tx, sfx, batch).await?,
        _ => apply_audit(tx, sfx, batch).await?,
    }
    sqlx::query(&format!(
        "UPDATE projections SET {t} = ?2, {p} = ?3 WHERE name = ?1"
    ))
    .bind(name)
    .bind(i64_of(next.tx))
    .bind(i64_of(next.position))
    .execute(&mut **tx)
    .await
    .map_err(rm_error)?;
    Ok(true)
}

#[async_trait]
impl ProjectionStore for SqliteProjectionStore {
    async fn checkpoint(&self, name: &str, g: Generation) -> Result<FeedCursor, ReadModelError> {
        let mut tx = self.reader.begin().await.map_err(rm_error)?;
        Ok(checkpoint_in(&mut tx, name, g).await?.unwrap_or_default())
    }

    async fn apply_batch(
        &self,
        name: &str,
        g: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        let mut tx = self.write_tx().await?;
        let applied = apply_in(&mut tx, name, g, from, batch, next).await?;
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
        // One transaction: one fsync for all of them instead of one each.
        let mut tx = self.write_tx().await?;
        let mut applied = Vec::with_capacity(names.len());
        for name in names {
            applied.push(apply_in(&mut tx, name, g, from, batch, next).await?);
        }
        tx.commit().await.map_err(rm_error)?;
        Ok(applied)
    }

    async fn start_rebuild(&self, name: &str) -> Result<(), ReadModelError> {
        let mut tx = self.write_tx().await?;
        let tag = uuid::Uuid::new_v4().simple().to_string();
        for table in tables(name)? {
            sqlx::query(&format!("DROP TABLE IF EXISTS {table}__rebuild"))
                .execute(&mut *tx)
                .await
                .map_err(rm_error)?;
            let ddl: Vec<(String, String)> = sqlx::query_as(
                "SELECT type, sql FROM sqlite_master WHERE tbl_name = ?1 AND sql IS NOT NULL \
                 ORDER BY type DESC",
            )
            .bind(table)
            .fetch_all(&mut *tx)
            .await
            .map_err(rm_error)?;
            for (i, (kind, sql)) in ddl.iter().enumerate() {
                let head = if kind == "table" {
                    format!("CREATE TABLE {table}__rebuild")
                } else {
                    let unique = if sql.to_uppercase().starts_with("CREATE UNIQUE") {
                        "UNIQUE "
                    } else {
                        ""
                    };
                    let cols = sql.rfind('(').map_or("", |at| &sql[at..]);
                    let stmt = format!(
                        "CREATE {unique}INDEX {table}_idx{i}_{tag} ON {table}__rebuild {cols}"
                    );
                    sqlx::query(&stmt)
                        .execute(&mut *tx)
                        .await
                        .map_err(rm_error)?;
                    continue;
                };
                let stmt = renamed(sql, &head).ok_or_else(|| failed("unreadable table DDL"))?;
                sqlx::query(&stmt)
                    .execute(&mut *tx)
                    .await
                    .map_err(rm_error)?;
            }
        }
        sqlx::query(
            "UPDATE projections SET state = 'rebuilding', rebuild_tx = 0, rebuild_position = 0 \
             WHERE name = ?1",
        )
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(rm_error)?;
        tx.commit().await.map_err(rm_error)
    }

    async fn finish_rebuild(&self, name: &str, from: FeedCursor) -> Result<bool, ReadModelError> {
        let mut tx = self.write_tx().await?;
        if checkpoint_in(&mut tx, name, Generation::Rebuild).await? != Some(from) {
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
        sqlx::query(
            "UPDATE projections SET state = 'live', last_error = NULL, tx = rebuild_tx, \
                position = rebuild_position, rebuild_tx = NULL, rebuild_position = NULL \
             WHERE name = ?1",
        )
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(rm_error)?;
        tx.commit().await.map_err(rm_error)?;
        Ok(true)
    }

    async fn set_failed(&self, name: &str, error: &str) -> Result<(), ReadModelError> {
        sqlx::query("UPDATE projections SET state = 'failed', last_error = ?2 WHERE name = ?1")
            .bind(name)
            .bind(error)
            .execute(&self.writer)
            .await
            .map_err(rm_error)?;
        Ok(())
    }

    async fn statuses(&self) -> Result<Vec<ProjectionStatus>, ReadModelError> {
        let rows = sqlx::query(
            "SELECT name, state, tx, position, last_error FROM projections ORDER BY name",
        )
        .fetch_all(&self.reader)
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
}
