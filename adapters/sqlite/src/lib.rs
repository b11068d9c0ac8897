//! The embedded default store: the event-store port on one SQLite file and the read
//! models on a second one beside it (WAL, busy timeout, one writer connection each), so
//! the service runs with no server installed.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![warn(missing_docs)]

mod apply;
mod apply_transfers;
mod backfill;
mod claim;
mod errors;
mod group_commit;
mod group_rows;
mod keys;
mod projections;
mod queries;
mod read_model_file;
mod relay;
mod store;
pub mod view_sql;
mod write_turn;

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Sqlite, SqlitePool, Transaction};

pub use backfill::backfill_hashes;
pub use keys::SqliteKeyStore;
pub use projections::SqliteProjectionStore;
pub use queries::SqliteReadModels;
pub use read_model_file::{
    open_read_models, open_read_models_existing, read_models_path, ReadModelFile,
};
pub use store::SqliteEventStore;

/// The connection of one write transaction, taken from the one-connection writer pool.
///
/// Closed, not returned to the pool, unless its transaction ended cleanly
/// ([`Self::clean`]): a writer cut off midway (its future dropped by a timeout or a
/// shutdown) can leave sqlx's SQLite connection with a statement or a rollback still in
/// flight, and handed back it kept the next writer waiting past the pool's timeout (the
/// cut-off conformance test failed so, 1 run in 10 to 20 under load).
///
/// It holds the process's turn at writing the file ([`write_turn`]) from when it is
/// taken until it is dropped.
pub(crate) struct WriterConnection {
    conn: PoolConnection<Sqlite>,
    clean: bool,
    _turn: std::sync::Arc<write_turn::WriteTurn>,
}

impl WriterConnection {
    /// The writer connection; one sqlx hands back still in a transaction is closed and
    /// another taken.
    pub(crate) async fn acquire(pool: &SqlitePool) -> Result<Self, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        if conn.is_in_transaction() {
            conn.close().await?;
            conn = pool.acquire().await?;
        }
        // The connection first, then the turn. A command holding the process's turn
        // (`hold_appends`) does wait for this connection, which is safe because a turn
        // is the process's: the writer then shares the held one instead of waiting.
        let turn = write_turn::take(pool.connect_options().get_filename())
            .await
            .map_err(sqlx::Error::Io)?;
        Ok(Self {
            conn,
            clean: false,
            _turn: turn,
        })
    }

    /// The connection, for a write outside a transaction (one statement); call
    /// [`Self::clean`] once it has completed.
    pub(crate) fn connection(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.conn
    }

    /// A write transaction holding SQLite's write lock from the start.
    pub(crate) async fn begin(&mut self) -> Result<Transaction<'_, Sqlite>, sqlx::Error> {
        self.conn.begin_with("BEGIN IMMEDIATE").await
    }

    /// Its transaction was committed or rolled back: it may go back to the pool.
    pub(crate) fn clean(&mut self) {
        self.clean = true;
    }
}

impl Drop for WriterConnection {
    fn drop(&mut self) {
        if !self.clean {
            self.conn.close_on_drop();
        }
    }
}

/// One write statement outside a transaction, in the process's turn at writing the file
/// (see [`write_turn`]).
pub(crate) async fn execute_in_turn<'q>(
    pool: &SqlitePool,
    statement: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) -> Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error> {
    let mut conn = WriterConnection::acquire(pool).await?;
    let done = statement.execute(conn.connection()).await;
    // Completed, refused or not: no transaction is left open on it.
    conn.clean();
    done
}

/// The migrations of the events' file.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The migrations of the read models' file.
pub static READ_MODEL_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./read_models");

/// Opens (creating if needed) the events' file behind a `sqlite://path` URL, migrates
/// it, and returns the store. Parent directories are created.
pub async fn open(url: &str) -> Result<SqliteEventStore, sqlx::Error> {
    let (writer, reader) = pools(options(url, true)?, Some(&MIGRATOR)).await?;
    backfill_hashes(&writer).await?;
    Ok(SqliteEventStore::new(writer, reader))
}

/// Opens an existing, migrated events' file without changing it (no migration, no hash
/// backfill): for `ledger verify`, which must not write what it checks.
pub async fn open_existing(url: &str) -> Result<SqliteEventStore, sqlx::Error> {
    let (writer, reader) = pools(options(url, false)?, None).await?;
    Ok(SqliteEventStore::new(writer, reader))
}

/// Whether the file behind a `sqlite://path` URL holds a ledger (its events table),
/// read without changing it: a missing file, an empty one or another program's
/// database does not.
pub async fn holds_ledger(url: &str) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    let file = options(url, false)?.get_filename().to_owned();
    if !file.is_file() {
        return Ok(false);
    }
    // Only read: none of the pragmas a store sets (WAL would be a write).
    let read = SqliteConnectOptions::new().filename(file).read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&read).await?;
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(tables > 0)
}

/// The most bytes a write-ahead log keeps on disk once reset (64 MiB, above the
/// 10,000 pages after which it is folded into the file).
const JOURNAL_SIZE_LIMIT: &str = "67108864";

pub(crate) fn options(url: &str, create: bool) -> Result<SqliteConnectOptions, sqlx::Error> {
    let refused = |why: &str| sqlx::Error::Configuration(format!("{url}: {why}").into());
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(refused(
            "an in-memory database loses every event when the process ends; name a file",
        ));
    }
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an answer is only sent once its events are durable.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        // Statement journals and sorts in memory: a temporary file created, written and
        // deleted per statement cost more than its work.
        .pragma("temp_store", "memory")
        // A checkpoint (run by the committing writer, fsync of the database file) once
        // the WAL holds 10,000 pages (about 40 MB) rather than 1,000: a commit of a group
        // changes pages all over the indexes, and each checkpoint held the writer.
        .pragma("wal_autocheckpoint", "10000")
        // A log that grew past this while a long read held checkpoints back (a
        // rebuild, `ledger verify`, a backup) is cut back to it at its next reset,
        // instead of keeping its peak size on disk until a clean stop.
        .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT)
        // Expected work (a rebuild's statements) is not a warning.
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    let file = options.get_filename();
    if file.as_os_str().is_empty() || url.trim_end_matches('/') == "sqlite:" {
        return Err(refused(
            "names no file: give its path, as in sqlite://data/ledger.db",
        ));
    }
    if url.ends_with('/') || file.is_dir() {
        return Err(refused("names a directory, not a database file"));
    }
    if let Some(parent) = file.parent().filter(|_| create) {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    Ok(options)
}

/// Closes a file's pools, its readers first, after folding its write-ahead log into
/// it: after a clean stop the file alone holds everything (a copy of it is a whole
/// backup). `false`: another process's readers kept part of the log from being folded
/// (the last process to close the file folds the rest). A failed fold leaves the log
/// beside the file, as a crash would.
pub async fn close_file(writer: &SqlitePool, reader: &SqlitePool) -> Result<bool, sqlx::Error> {
    reader.close().await;
    let folded = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(writer)
        .await
        .map(|(busy, _, _)| busy == 0);
    writer.close().await;
    folded
}

/// Whether an existing file holds tables but none this service's migrations made (an
/// application's database given by mistake), read without changing it.
async fn holds_something_else(file: &std::path::Path) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if !file.is_file() || std::fs::metadata(file)?.len() == 0 {
        return Ok(false);
    }
    let read = SqliteConnectOptions::new().filename(file).read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&read).await?;
    let (tables, migrated): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE name = '_sqlx_migrations') FROM sqlite_master \
         WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(tables > 0 && migrated == 0)
}

/// A one-connection writer pool (migrated by `migrator` when given) and a reader pool.
pub(crate) async fn pools(
    options: SqliteConnectOptions,
    migrator: Option<&sqlx::migrate::Migrator>,
) -> Result<(SqlitePool, SqlitePool), sqlx::Error> {
    // One process at a time opens and migrates: two starting together on a new file
    // would both create its tables (one stopping at the other's), and its first
    // connection's switch to WAL can answer "database is locked" to another's at once.
    if migrator.is_some() && holds_something_else(options.get_filename()).await? {
        return Err(sqlx::Error::Configuration(
            "the file holds tables of something else and no ledger: it is not made into one".into(),
        ));
    }
    let held = match migrator {
        Some(_) => Some(claim::migration_lock(&options).await?),
        None => None,
    };
    // A wait for a connection longer than sqlx's 2 s is load, logged at debug level as
    // slow statements are: at warning level a crowd of clients flooded the log.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_slow_level(log::LevelFilter::Debug)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await?;
    if let Some(migrator) = migrator {
        migrator.run(&writer).await?;
    }
    drop(held);
    let reader = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_slow_level(log::LevelFilter::Debug)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.read_only(true))
        .await?;
    Ok((writer, reader))
}

#[cfg(test)]
mod tests {
    use sqlx::ConnectOptions;

    /// Every connection of a store cuts its write-ahead log back to the limit.
    #[tokio::test]
    async fn connections_limit_the_logs_size() {
        let dir = std::env::temp_dir().join(format!("ledger-sqlite-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}/ledger.db", dir.display());
        let mut conn = super::options(&url, true)
            .expect("options")
            .connect()
            .await
            .expect("connect");
        let limit: i64 = sqlx::query_scalar("PRAGMA journal_size_limit")
            .fetch_one(&mut conn)
            .await
            .expect("pragma");
        assert_eq!(limit.to_string(), super::JOURNAL_SIZE_LIMIT);
        drop(conn);
        std::fs::remove_dir_all(dir).expect("remove");
    }
}
