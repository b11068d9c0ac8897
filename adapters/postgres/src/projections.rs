//! The projection-store port on PostgreSQL: batches and checkpoints in one transaction,
//! optimistic on the checkpoint; rebuild tables swapped in by one transaction; one
//! runner per projection among instances through a session advisory lock.

use async_trait::async_trait;
use ledger_application::ports::readmodel::{
    Generation, Lease, ProjectedEvent, Projection, ProjectionStatus, ProjectionStore,
    ReadModelError, RebuildClaim,
};
use ledger_application::ports::store::FeedCursor;
use sqlx::{Connection, PgPool, Postgres, Row, Transaction};

use ledger_sql::{i64_of, suffix, tables};

use crate::errors::is_unavailable;
use crate::guarded::{Guarded, GuardedConnection};
use crate::leases::Leases;

pub(crate) fn rm_error(e: sqlx::Error) -> ReadModelError {
    let hint = crate::errors::pool_hint(&e);
    match ledger_sql::read_model_error(e, is_unavailable) {
        ReadModelError::Unavailable(m) => ReadModelError::Unavailable(m + hint),
        failed => failed,
    }
}

pub(crate) fn failed(e: impl std::fmt::Display) -> ReadModelError {
    ReadModelError::Failed(e.to_string())
}

/// Read models in PostgreSQL.
pub struct PgProjectionStore {
    pub(crate) pool: PgPool,
    leases: Leases,
}

impl PgProjectionStore {
    /// A store on a migrated database.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            leases: Leases::new(),
        }
    }

    /// Reads a checkpoint; inside a transaction, `FOR UPDATE` holds the projection's row
    /// until it ends (batches and the rebuild swap serialize on it).
    pub(crate) async fn read_checkpoint<'c>(
        exec: impl sqlx::PgExecutor<'c>,
        name: Projection,
        g: Generation,
        for_update: bool,
    ) -> Result<Option<FeedCursor>, ReadModelError> {
        let (t, p) = ledger_sql::checkpoint_columns(g);
        let lock = if for_update { " FOR UPDATE" } else { "" };
        let row = sqlx::query(&format!(
            "SELECT {t} AS t, {p} AS p FROM projections WHERE name = $1{lock}"
        ))
        .bind(name.as_str())
        .fetch_optional(exec)
        .await
        .map_err(rm_error)?
        .ok_or_else(|| failed(format!("unknown projection {name}")))?;
        let t: Option<i64> = row.try_get("t").map_err(rm_error)?;
        let p: Option<i64> = row.try_get("p").map_err(rm_error)?;
        t.zip(p)
            .map(|(t, p)| ledger_sql::checkpoint(t, p))
            .transpose()
            .map_err(rm_error)
    }

    /// Inside `tx`: moves the checkpoint from `from` to `next` and applies the batch, if
    /// the checkpoint is at `from`. One conditional UPDATE both checks and moves it (and
    /// holds the projection's row until the transaction ends: batches and the rebuild
    /// swap serialize on it); it matches no row if another runner moved the checkpoint,
    /// or, for a rebuild, if none is in progress.
    async fn apply_in(
        tx: &mut Transaction<'_, Postgres>,
        name: Projection,
        g: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        tables(name);
        let (t, p) = ledger_sql::checkpoint_columns(g);
        let moved = sqlx::query(&format!(
            "UPDATE projections SET {t} = $2, {p} = $3 WHERE name = $1 AND {t} = $4 AND {p} = $5"
        ))
        .bind(name.as_str())
        .bind(i64_of(next.tx))
        .bind(i64_of(next.position))
        .bind(i64_of(from.tx))
        .bind(i64_of(from.position))
        .execute(&mut **tx)
        .await
        .map_err(rm_error)?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        let sfx = suffix(g);
        match name {
            Projection::CurrentState => Self::apply_current_state(tx, sfx, batch).await?,
            Projection::Analytics => Self::apply_analytics(tx, sfx, batch).await?,
            Projection::AuditLog => Self::apply_audit(tx, sfx, batch).await?,
        }
        Ok(true)
    }
}

#[async_trait]
impl ProjectionStore for PgProjectionStore {
    async fn checkpoint(
        &self,
        name: Projection,
        g: Generation,
    ) -> Result<FeedCursor, ReadModelError> {
        match Self::read_checkpoint(Guarded(&self.pool), name, g, false).await? {
            None if g == Generation::Rebuild => {
                Err(failed(format!("no rebuild of {name} in progress")))
            }
            cp => Ok(cp.unwrap_or_default()),
        }
    }

    async fn apply_batch(
        &self,
        name: Projection,
        g: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        // Guarded: sqlx's COPY and a dropped BEGIN are not cancel-safe (`guarded.rs`).
        let mut conn = GuardedConnection::acquire(&self.pool)
            .await
            .map_err(rm_error)?;
        let mut tx = conn.conn.begin().await.map_err(rm_error)?;
        let applied = Self::apply_in(&mut tx, name, g, from, batch, next).await?;
        if applied {
            tx.commit().await.map_err(rm_error)?;
        } else {
            tx.rollback().await.map_err(rm_error)?;
        }
        conn.done();
        Ok(applied)
    }

    async fn apply_batches(
        &self,
        names: &[Projection],
        g: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<Vec<bool>, ReadModelError> {
        // One transaction, one commit; checkpoint rows locked in name order (no
        // deadlock with another runner doing the same).
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by_key(|&i| names[i].as_str());
        // Guarded: sqlx's COPY and a dropped BEGIN are not cancel-safe (`guarded.rs`).
        let mut conn = GuardedConnection::acquire(&self.pool)
            .await
            .map_err(rm_error)?;
        let mut tx = conn.conn.begin().await.map_err(rm_error)?;
        let mut applied = vec![false; names.len()];
        for i in order {
            applied[i] = Self::apply_in(&mut tx, names[i], g, from, batch, next).await?;
        }
        tx.commit().await.map_err(rm_error)?;
        conn.done();
        Ok(applied)
    }

    async fn start_rebuild(&self, name: Projection) -> Result<(), ReadModelError> {
        self.start_rebuild_tables(name).await
    }

    async fn finish_rebuild(
        &self,
        name: Projection,
        from: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        self.swap_rebuilt_tables(name, from).await
    }

    async fn relay_status(&self) -> Result<Option<ProjectionStatus>, ReadModelError> {
        crate::relay::status(&self.pool).await
    }

    async fn move_relay(
        &self,
        from: FeedCursor,
        to: FeedCursor,
        error: Option<String>,
    ) -> Result<bool, ReadModelError> {
        crate::relay::move_to(&self.pool, from, to, error).await
    }

    async fn set_failed(
        &self,
        name: Projection,
        g: Generation,
        at: FeedCursor,
        error: &str,
    ) -> Result<(), ReadModelError> {
        let (t, p) = ledger_sql::checkpoint_columns(g);
        let sql = format!(
            "UPDATE projections SET state = 'failed', last_error = $2 \
             WHERE name = $1 AND {t} = $3 AND {p} = $4"
        );
        sqlx::query(&sql)
            .bind(name.as_str())
            .bind(error)
            .bind(i64_of(at.tx))
            .bind(i64_of(at.position))
            .execute(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
        Ok(())
    }

    async fn claim_rebuild(&self) -> Result<Option<RebuildClaim>, ReadModelError> {
        crate::claim::claim(&self.pool).await
    }

    async fn statuses(&self) -> Result<Vec<ProjectionStatus>, ReadModelError> {
        // A stored `rebuilding` reads as interrupted only if no claim was held either
        // before the rows were read or after: a rebuild may take its claim just before
        // those rows show it, and end just after (one statement read the rows as it
        // began and the locks as they were later, showing a rebuild that had just
        // finished as interrupted).
        let before = crate::claim::is_claimed(&self.pool).await?;
        let rows = sqlx::query(
            "SELECT name, state, tx, position, last_error FROM projections ORDER BY name",
        )
        .fetch_all(Guarded(&self.pool))
        .await
        .map_err(rm_error)?;
        let claimed = before || crate::claim::is_claimed(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(ledger_sql::projection_status(
                    r.try_get("name")?,
                    r.try_get::<String, _>("state")?.as_str(),
                    r.try_get("tx")?,
                    r.try_get("position")?,
                    r.try_get("last_error")?,
                    claimed,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(rm_error)
    }

    async fn try_lead(&self, lease: Lease) -> Result<bool, ReadModelError> {
        self.leases.try_lead(&self.pool, lease.name()).await
    }
}
