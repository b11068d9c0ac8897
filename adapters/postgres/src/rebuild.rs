//! Rebuild tables on PostgreSQL: fresh copies filled without their secondary indexes
//! (the audit log's without its primary key too), which are built once at the end; one
//! transaction then drops the live tables, renames the copies and their indexes, and
//! moves the checkpoint.

use ledger_application::ports::readmodel::{Generation, Projection, ReadModelError};
use ledger_application::ports::store::FeedCursor;

use ledger_sql::tables;
use sqlx::Connection;

use crate::guarded::{Guarded, GuardedConnection};
use crate::projections::{failed, rm_error, PgProjectionStore};

impl PgProjectionStore {
    /// Fresh `<table>__rebuild` copies with only their primary key (the audit log's
    /// with no index at all); state `rebuilding`.
    pub(crate) async fn start_rebuild_tables(
        &self,
        name: Projection,
    ) -> Result<(), ReadModelError> {
        // Guarded: a BEGIN dropped in flight (the admin route's deadline) is not
        // rolled back by sqlx (`guarded.rs`).
        let mut conn = GuardedConnection::acquire(&self.pool)
            .await
            .map_err(rm_error)?;
        let mut tx = conn.conn.begin().await.map_err(rm_error)?;
        ledger_sql::replaced_anyway(
            Self::read_checkpoint(&mut *tx, name, Generation::Live, true).await,
        )?;
        for table in tables(name) {
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
            // Only the primary key while filling, where the upserts need it; the other
            // indexes are built once, sorted, at the end: far cheaper than keeping
            // them up to date row by row. A table the rebuild only appends to gets its
            // primary key at the end too (the checkpoint guard already keeps a
            // position from arriving twice; the key then checks it once).
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
            if appended_only(table) {
                sqlx::query(&format!(
                    "ALTER TABLE {table}__rebuild DROP CONSTRAINT IF EXISTS {table}__rebuild_pkey"
                ))
                .execute(&mut *tx)
                .await
                .map_err(rm_error)?;
            }
        }
        sqlx::query(
            "UPDATE projections SET state = 'rebuilding', rebuild_tx = 0, rebuild_position = 0 \
             WHERE name = $1",
        )
        .bind(name.as_str())
        .execute(&mut *tx)
        .await
        .map_err(rm_error)?;
        tx.commit().await.map_err(rm_error)?;
        conn.done();
        Ok(())
    }

    /// Builds the copies' other indexes (and primary key, where a copy has none), then
    /// swaps them in if the rebuild checkpoint is still `from`.
    pub(crate) async fn swap_rebuilt_tables(
        &self,
        name: Projection,
        from: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        // The live tables' secondary indexes, built on the copies before the swap (and
        // outside its lock), named `<index>__rebuild` until then.
        let mut renames = Vec::new();
        for table in tables(name) {
            let copy: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
                .bind(format!("{table}__rebuild"))
                .fetch_one(Guarded(&self.pool))
                .await
                .map_err(rm_error)?;
            if copy.is_none() {
                return Err(failed(format!(
                    "no rebuild of {name} in progress (finished or abandoned elsewhere)"
                )));
            }
            // The primary key too where the copy has none (read from the catalog, not
            // assumed from the table: a copy started by another version is swapped
            // correctly either way).
            let copy_keyed: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_index \
                 WHERE indrelid = $1::text::regclass AND indisprimary)",
            )
            .bind(format!("{table}__rebuild"))
            .fetch_one(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
            let indexes: Vec<(String, bool, bool, String)> = sqlx::query_as(
                "SELECT c.relname::text, i.indisunique, i.indisprimary, \
                        substring(pg_get_indexdef(i.indexrelid) from ' USING .*$') \
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE i.indrelid = $1::text::regclass AND (NOT i.indisprimary OR NOT $2)",
            )
            .bind(table)
            .bind(copy_keyed)
            .fetch_all(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
            for (index, unique, _, using) in &indexes {
                self.build_index(table, index, *unique, using).await?;
            }
            // Statistics before it serves: a swapped-in table would otherwise wait for
            // autovacuum's first analyze with the planner guessing. Once: a swap
            // refused (the live view got ahead) is tried again at once.
            let analyzed: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_user_tables \
                 WHERE relid = $1::text::regclass AND last_analyze IS NOT NULL)",
            )
            .bind(format!("{table}__rebuild"))
            .fetch_one(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
            if !analyzed {
                sqlx::query(&format!("ANALYZE {table}__rebuild"))
                    .execute(Guarded(&self.pool))
                    .await
                    .map_err(rm_error)?;
            }
            for (index, _, primary, _) in &indexes {
                renames.push(if *primary {
                    // Run after the copy took the table's name: takes the unique index
                    // built above as the key (no second build) and gives it the key's name.
                    format!(
                        "ALTER TABLE {table} ADD CONSTRAINT \"{index}\" \
                         PRIMARY KEY USING INDEX \"{index}__rebuild\""
                    )
                } else {
                    format!("ALTER INDEX \"{index}__rebuild\" RENAME TO \"{index}\"")
                });
            }
            renames.push(format!(
                "ALTER INDEX IF EXISTS \"{table}__rebuild_pkey\" RENAME TO \"{table}_pkey\""
            ));
        }
        let mut conn = GuardedConnection::acquire(&self.pool)
            .await
            .map_err(rm_error)?;
        let mut tx = conn.conn.begin().await.map_err(rm_error)?;
        // Locks the projection row: the live runner's next batch waits, then finds the
        // checkpoint moved and continues from the rebuilt one.
        let live = ledger_sql::replaced_anyway(
            Self::read_checkpoint(&mut *tx, name, Generation::Live, true).await,
        )?
        .unwrap_or_default();
        // Still at `from`, and not behind the live tables: readers never see a view go
        // back (the runner catches the rebuild up and tries again).
        if Self::read_checkpoint(&mut *tx, name, Generation::Rebuild, true).await? != Some(from)
            || live > from
        {
            tx.rollback().await.map_err(rm_error)?;
            conn.done();
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
        for sql in &renames {
            sqlx::query(sql).execute(&mut *tx).await.map_err(rm_error)?;
        }
        sqlx::query(
            "UPDATE projections SET state = 'live', last_error = NULL, tx = rebuild_tx, \
                position = rebuild_position, rebuild_tx = NULL, rebuild_position = NULL \
             WHERE name = $1",
        )
        .bind(name.as_str())
        .execute(&mut *tx)
        .await
        .map_err(rm_error)?;
        tx.commit().await.map_err(rm_error)?;
        conn.done();
        Ok(true)
    }

    /// Builds `<index>__rebuild` on `<table>__rebuild` as `using` says, unless a valid
    /// one of that definition is there (a swap tried again; one left by an older
    /// version, whose migrations since may have changed the live index, is rebuilt). `CONCURRENTLY`: a plain build holds a
    /// transaction id for as long as it runs, and the feed shows no event committed
    /// after the oldest running transaction began (`PgEventStore::read_feed`), so the
    /// live projections, the live streams and the relay would stand still for the whole
    /// build (about a second per million events stored; BENCHMARKS.md). A
    /// concurrent build holds none. Builds on one table take turns (each holds a lock
    /// the next one waits for), and one that failed leaves an invalid index, dropped
    /// here before it is built again.
    async fn build_index(
        &self,
        table: &str,
        index: &str,
        unique: bool,
        using: &str,
    ) -> Result<(), ReadModelError> {
        let name = format!("{index}__rebuild");
        let found: Option<(bool, bool, Option<String>)> = sqlx::query_as(
            "SELECT indisvalid, indisunique, \
                    substring(pg_get_indexdef(indexrelid) from ' USING .*$') \
             FROM pg_index WHERE indexrelid = to_regclass($1)",
        )
        .bind(format!("\"{name}\""))
        .fetch_optional(Guarded(&self.pool))
        .await
        .map_err(rm_error)?;
        match found {
            Some((true, is_unique, Some(def))) if is_unique == unique && def == using => {
                return Ok(())
            }
            Some(_) => {
                sqlx::raw_sql(&format!("DROP INDEX \"{name}\""))
                    .execute(Guarded(&self.pool))
                    .await
                    .map_err(rm_error)?;
            }
            None => {}
        }
        let unique = if unique { "UNIQUE " } else { "" };
        // The simple protocol: no implicit transaction block around it.
        sqlx::raw_sql(&format!(
            "CREATE {unique}INDEX CONCURRENTLY \"{name}\" ON {table}__rebuild{using}"
        ))
        .execute(Guarded(&self.pool))
        .await
        .map_err(rm_error)?;
        Ok(())
    }
}

/// Tables a rebuild only appends to (plain `COPY`, no upsert): filled without even
/// their primary key.
fn appended_only(table: &str) -> bool {
    table == "audit_log"
}
