//! The embedded default store: the event-store port on one SQLite file (WAL, busy
//! timeout, one writer connection), so the service runs with no server installed.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![warn(missing_docs)]

mod apply;
mod apply_transfers;
mod backfill;
mod claim;
mod group_commit;
mod group_rows;
mod keys;
mod projections;
mod queries;
mod relay;
mod store;

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Sqlite, SqlitePool, Transaction};

pub use backfill::backfill_hashes;
pub use keys::SqliteKeyStore;
pub use projections::SqliteProjectionStore;
pub use queries::SqliteReadModels;
pub use store::SqliteEventStore;

/// The connection of one write transaction, taken from the one-connection writer pool.
///
/// Closed, not returned to the pool, unless its transaction ended cleanly
/// ([`Self::clean`]): a writer cut off midway (its future dropped by a timeout or a
/// shutdown) can leave sqlx's SQLite connection with a statement or a rollback still in
/// flight, and handed back it kept the next writer waiting past the pool's timeout (the
/// cut-off conformance test failed so, 1 run in 10 to 20 under load).
pub(crate) struct WriterConnection {
    conn: PoolConnection<Sqlite>,
    clean: bool,
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
        Ok(Self { conn, clean: false })
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

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens (creating if needed) the file behind a `sqlite://path` URL, migrates it, and
/// returns the store. Parent directories are created.
pub async fn open(url: &str) -> Result<SqliteEventStore, sqlx::Error> {
    connect(url, true).await
}

/// Opens an existing, migrated file without changing it (no migration, no hash
/// backfill): for `ledger verify`, which must not write what it checks.
pub async fn open_existing(url: &str) -> Result<SqliteEventStore, sqlx::Error> {
    connect(url, false).await
}

async fn connect(url: &str, migrate: bool) -> Result<SqliteEventStore, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(migrate)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an answer is only sent once its events are durable.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        // Expected work (a rebuild's statements) is not a warning.
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    if let Some(parent) = options.get_filename().parent().filter(|_| migrate) {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await?;
    if migrate {
        MIGRATOR.run(&writer).await?;
        backfill_hashes(&writer).await?;
    }
    let reader = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.read_only(true))
        .await?;
    Ok(SqliteEventStore::new(writer, reader))
}
