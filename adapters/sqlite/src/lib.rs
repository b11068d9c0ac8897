//! The embedded default store: the event-store port on one SQLite file (WAL, busy
//! timeout, one writer connection), so the service runs with no server installed.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![warn(missing_docs)]

mod apply;
mod claim;
mod projections;
mod queries;
mod store;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::ConnectOptions;

pub use projections::SqliteProjectionStore;
pub use queries::SqliteReadModels;
pub use store::SqliteEventStore;

/// Starts a write transaction holding SQLite's write lock from the start.
///
/// When a task holding a transaction was cancelled, sqlx may hand the connection back
/// with a rollback still pending and refuse a new `BEGIN`; that connection is closed and
/// a fresh one used (the pending transaction was never committed).
pub(crate) async fn begin_immediate(
    pool: &sqlx::SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    match pool.begin_with("BEGIN IMMEDIATE").await {
        Err(sqlx::Error::InvalidSavePointStatement) => {
            pool.acquire().await?.close().await?;
            pool.begin_with("BEGIN IMMEDIATE").await
        }
        other => other,
    }
}

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens (creating if needed) the file behind a `sqlite://path` URL, migrates it, and
/// returns the store. Parent directories are created.
pub async fn open(url: &str) -> Result<SqliteEventStore, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an answer is only sent once its events are durable.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        // Expected work (a rebuild's statements) is not a warning.
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    if let Some(parent) = options.get_filename().parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await?;
    MIGRATOR.run(&writer).await?;
    let reader = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.read_only(true))
        .await?;
    Ok(SqliteEventStore::new(writer, reader))
}
