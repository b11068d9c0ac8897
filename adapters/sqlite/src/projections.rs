//! The projection-store port on SQLite: batches and checkpoints in one write
//! transaction, optimistic on the checkpoint; rebuild tables swapped in at once.

use async_trait::async_trait;
use ledger_application::ports::readmodel::{
    Generation, Lease, ProjectedEvent, Projection, ProjectionStatus, ProjectionStore,
    ReadModelError, RebuildClaim,
};
use ledger_application::ports::store::FeedCursor;
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use ledger_sql::{i64_of, suffix, tables};

use crate::apply::apply_in;
use crate::{ReadModelFile, SqliteEventStore, WriterConnection};

pub(crate) fn rm_error(e: sqlx::Error) -> ReadModelError {
    ledger_sql::read_model_error(e, crate::errors::unavailable)
}

pub(crate) fn failed(e: impl std::fmt::Display) -> ReadModelError {
    ReadModelError::Failed(e.to_string())
}

/// A generation's checkpoint columns and table suffix.
pub(crate) fn cols(g: Generation) -> (&'static str, &'static str, &'static str) {
    let (t, p) = ledger_sql::checkpoint_columns(g);
    (t, p, suffix(g))
}

/// Read models on their own SQLite file (its own writer connection); the relay's
/// checkpoint on the events' file.
#[derive(Clone)]
pub struct SqliteProjectionStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The events' writer: the relay's checkpoint is kept with the events.
    events: SqlitePool,
    /// The relay's, the expirer's and the sealer's leases on the events' file.
    role_leases: crate::claim::RoleLeases,
}

pub(crate) type Tx<'a> = Transaction<'a, Sqlite>;

pub(crate) async fn checkpoint_in(
    tx: &mut Tx<'_>,
    name: Projection,
    g: Generation,
) -> Result<Option<FeedCursor>, ReadModelError> {
    let (t, p, _) = cols(g);
    let row = sqlx::query(&format!(
        "SELECT {t} AS t, {p} AS p FROM projections WHERE name = ?1"
    ))
    .bind(name.as_str())
    .fetch_optional(&mut **tx)
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

/// `CREATE ...` text with the object named `name` on `table` (for copying stored DDL).
fn renamed(sql: &str, head: &str) -> Option<String> {
    sql.find('(').map(|i| format!("{head} {}", &sql[i..]))
}

impl SqliteProjectionStore {
    /// Read models on `read_models` (migrated), the relay's checkpoint on `events`.
    pub fn new(read_models: &ReadModelFile, events: &SqliteEventStore) -> Self {
        Self {
            writer: read_models.writer().clone(),
            reader: read_models.reader().clone(),
            events: events.writer().clone(),
            role_leases: crate::claim::RoleLeases::default(),
        }
    }

    async fn writer(&self) -> Result<WriterConnection, ReadModelError> {
        WriterConnection::acquire(&self.writer)
            .await
            .map_err(rm_error)
    }
}

#[async_trait]
impl ProjectionStore for SqliteProjectionStore {
    async fn checkpoint(
        &self,
        name: Projection,
        g: Generation,
    ) -> Result<FeedCursor, ReadModelError> {
        let mut tx = self.reader.begin().await.map_err(rm_error)?;
        match checkpoint_in(&mut tx, name, g).await? {
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
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await.map_err(rm_error)?;
        let applied = apply_in(&mut tx, name, g, from, batch, next).await?;
        if applied {
            tx.commit().await.map_err(rm_error)?;
        } else {
            tx.rollback().await.map_err(rm_error)?;
        }
        conn.clean();
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
        // One transaction: one fsync for all of them instead of one each.
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await.map_err(rm_error)?;
        let mut applied = Vec::with_capacity(names.len());
        for name in names {
            applied.push(apply_in(&mut tx, *name, g, from, batch, next).await?);
        }
        tx.commit().await.map_err(rm_error)?;
        conn.clean();
        Ok(applied)
    }

    async fn start_rebuild(&self, name: Projection) -> Result<(), ReadModelError> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await.map_err(rm_error)?;
        let tag = uuid::Uuid::new_v4().simple().to_string();
        for table in tables(name) {
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
        .bind(name.as_str())
        .execute(&mut *tx)
        .await
        .map_err(rm_error)?;
        tx.commit().await.map_err(rm_error)?;
        conn.clean();
        Ok(())
    }

    async fn finish_rebuild(
        &self,
        name: Projection,
        from: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await.map_err(rm_error)?;
        // Still at `from`, and not behind the live tables: readers never see a view go
        // back (the runner catches the rebuild up and tries again).
        let live =
            ledger_sql::replaced_anyway(checkpoint_in(&mut tx, name, Generation::Live).await)?
                .unwrap_or_default();
        if checkpoint_in(&mut tx, name, Generation::Rebuild).await? != Some(from) || live > from {
            tx.rollback().await.map_err(rm_error)?;
            conn.clean();
            return Ok(false);
        }
        for table in tables(name) {
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
        .bind(name.as_str())
        .execute(&mut *tx)
        .await
        .map_err(rm_error)?;
        tx.commit().await.map_err(rm_error)?;
        conn.clean();
        Ok(true)
    }

    /// The relay, the expirer and the sealer are each led by one process per file (a
    /// lock file). The projections run in every process, guarded by their checkpoints:
    /// SQLite has nothing like PostgreSQL's NOTIFY to wake a leader in another process,
    /// so a standby's own commands would wait for the leader's poll to be projected.
    async fn try_lead(&self, lease: Lease) -> Result<bool, ReadModelError> {
        match lease {
            Lease::Relay | Lease::Expirer | Lease::Sealer => {
                self.role_leases.try_hold(&self.events, lease.name())
            }
            Lease::Projection(_) => Ok(true),
        }
    }

    async fn relay_status(&self) -> Result<Option<ProjectionStatus>, ReadModelError> {
        crate::relay::status(&self.events).await
    }

    async fn move_relay(
        &self,
        from: FeedCursor,
        to: FeedCursor,
        error: Option<String>,
    ) -> Result<bool, ReadModelError> {
        crate::relay::move_to(&self.events, from, to, error).await
    }

    async fn set_failed(
        &self,
        name: Projection,
        g: Generation,
        at: FeedCursor,
        error: &str,
    ) -> Result<(), ReadModelError> {
        let (t, p, _) = cols(g);
        let sql = format!(
            "UPDATE projections SET state = 'failed', last_error = ?2 \
             WHERE name = ?1 AND {t} = ?3 AND {p} = ?4"
        );
        crate::execute_in_turn(
            &self.writer,
            sqlx::query(&sql)
                .bind(name.as_str())
                .bind(error)
                .bind(i64_of(at.tx))
                .bind(i64_of(at.position)),
        )
        .await
        .map_err(rm_error)?;
        Ok(())
    }

    async fn claim_rebuild(&self) -> Result<Option<RebuildClaim>, ReadModelError> {
        crate::claim::claim(&self.writer).await
    }

    async fn statuses(&self) -> Result<Vec<ProjectionStatus>, ReadModelError> {
        // A stored `rebuilding` reads as interrupted only if no claim was held either
        // before the rows were read or after: a rebuild takes its claim just before
        // those rows show it.
        let before = crate::claim::is_claimed(&self.writer)?;
        let rows = sqlx::query(
            "SELECT name, state, tx, position, last_error FROM projections ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(rm_error)?;
        let claimed = before || crate::claim::is_claimed(&self.writer)?;
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
}
