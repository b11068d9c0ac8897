//! The PostgreSQL adapter: event store, idempotency records and the global feed.
//!
//! Schema by embedded sqlx migrations ([`migrate`]). Events are immutable in the
//! database itself (triggers refuse UPDATE, DELETE and TRUNCATE). Queries are checked
//! at run time, so building never needs a database.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![warn(missing_docs)]

mod apply;
mod apply_transfers;
mod backfill;
mod claim;
mod copy;
mod errors;
mod guarded;
mod keys;
mod leases;
pub mod notify;
mod projections;
mod queries;
mod rebuild;
mod relay;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod view_sql;
mod write;

use crate::guarded::Guarded;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::ConnectOptions;
use sqlx::PgPool;

pub use backfill::backfill_hashes;
pub use errors::{is_unavailable, STREAM_VERSION_KEY};
pub use keys::PgKeyStore;
pub use projections::PgProjectionStore;
pub use queries::PgReadModels;
pub use store::{PgEventStore, NOTIFY_CHANNEL};
pub use write::GroupCommitConfig;

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A lazily connecting pool: the service starts (and recovers) while the database is down.
pub fn pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    Ok(pool_with(options, max_connections))
}

/// A lazily connecting pool from options.
///
/// A connection that was idle for a while is pinged before it is handed out (so one
/// the server dropped, for instance across a restart, is replaced instead of failing a
/// request); one in use within the last second is not. sqlx's default pings on every
/// acquire: one more round trip, and one more wake-up of a server process, in front of
/// every group commit, projection batch and query (BENCHMARKS.md).
///
/// Expected work is not a warning: a statement slower than a second (an index build of
/// a rebuild, a large catch-up batch) and a wait for a connection longer than sqlx's
/// 2 s (load: at warning level a crowd of clients flooded the log; a wait that runs out
/// is an error, logged as such) are logged at debug level, and the server's notices
/// below warnings ("relation ... does not exist, skipping") are not sent.
///
/// A session that waits inside a transaction for more than [`IDLE_IN_TRANSACTION`]
/// is ended by the server (`idle_in_transaction_session_timeout`), its transaction
/// rolled back. The service never waits so between two statements of its own
/// transactions; a process that is stopped or cut off mid-transaction does (a paused
/// VM, SIGSTOP), and its locks and transaction id otherwise held every other
/// instance's writes to those rows, and every feed reader, for as long as it stayed
/// stopped (found by black-box testing). Its own answer is then "may yet take effect",
/// as for any connection lost before a commit.
pub fn pool_with(options: PgConnectOptions, max_connections: u32) -> PgPool {
    let options = options
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1))
        .options([
            ("client_min_messages", "warning".to_owned()),
            (
                "idle_in_transaction_session_timeout",
                format!("{}ms", IDLE_IN_TRANSACTION.as_millis()),
            ),
        ]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .acquire_slow_level(log::LevelFilter::Debug)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                // Bounded: a connection whose answers stopped coming (a black-holed
                // network path) would otherwise hold the acquire until its deadline
                // every time it is handed out. Past the bound it is closed.
                if meta.idle_for >= PING_AFTER_IDLE {
                    tokio::time::timeout(PING_DEADLINE, sqlx::Connection::ping(conn))
                        .await
                        .map_err(|_| {
                            sqlx::Error::Io(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                "no answer to a ping of an idle connection",
                            ))
                        })??;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options)
}

/// Why the pool cannot open a connection now (refused, unreachable, a login the server
/// turns down), asked directly with its options and for at most 5 s; `None` when one
/// opens. The pool tries a refused connection again until its wait runs out and then
/// says only that it timed out.
pub async fn connect_error(pool: &PgPool) -> Option<String> {
    let options = pool.connect_options();
    let tried = tokio::time::timeout(Duration::from_secs(5), options.connect()).await;
    match tried {
        Ok(Ok(connection)) => {
            let _ = sqlx::Connection::close(connection).await;
            None
        }
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer within 5 s".to_owned()),
    }
}

/// How long a pooled connection may sit idle before it is checked again.
pub(crate) const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How long that check waits for its answer.
pub(crate) const PING_DEADLINE: Duration = Duration::from_secs(2);

/// How long a pooled session may wait inside a transaction before the server ends it
/// (see [`pool_with`]).
pub const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(5);

/// Applies the embedded migrations, then gives events written before the hash chain
/// their hashes ([`backfill_hashes`]).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    if let Some(table) = something_else(pool).await? {
        return Err(sqlx::migrate::MigrateError::Source(
            format!(
                "the database holds tables of something else (`{table}`) and no ledger's \
                 migrations: it is not made into one; give the ledger a database of its own \
                 (CREATE DATABASE ledger), or a schema of its own through the URL's \
                 search_path (a ledger restored without its `_sqlx_migrations` table is \
                 refused so too: restore that table)"
            )
            .into(),
        ));
    }
    MIGRATOR.run(pool).await?;
    backfill_hashes(pool).await?;
    Ok(())
}

/// Events written by transaction ids this cluster has not reached yet: the highest such
/// id and this cluster's next one. A logical dump (`pg_dump`) restored into another
/// cluster brings them; the feed shows an event only once every transaction older than
/// its own has ended, so until this cluster's ids pass them, they stay out of the feed,
/// and the events written meanwhile come before them in it (read models, live streams
/// and the relay would miss those for good).
pub async fn ids_ahead_of_cluster(pool: &PgPool) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let (highest, next): (Option<i64>, i64) = sqlx::query_as(
        "SELECT (SELECT max(tx_id) FROM events), \
                pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
    )
    .fetch_one(Guarded(pool))
    .await?;
    Ok(highest.filter(|h| *h >= next).map(|h| (h, next)))
}

/// A table in the schema the ledger would be made in, when that schema holds no ledger
/// (no migrations of its own): another application's, which migrating would mix the
/// ledger's tables with (or, owning an `events` table, leave half made). SQLite refuses
/// such a file too. Tables an extension owns (PostGIS's `spatial_ref_sys`) are the
/// database's, not an application's.
async fn something_else(pool: &PgPool) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c \
         WHERE c.relnamespace = to_regnamespace(quote_ident(current_schema())) \
         AND c.relkind IN ('r', 'p') \
         AND to_regclass(quote_ident(current_schema()) || '._sqlx_migrations') IS NULL \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                         AND d.objid = c.oid AND d.deptype = 'e') \
         ORDER BY c.relname LIMIT 1",
    )
    .fetch_optional(Guarded(pool))
    .await
}

/// Whether the database holds a ledger (an `events` table on its search path), read
/// without writing: what read-only commands check before they open a store.
pub async fn holds_ledger(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT to_regclass('events') IS NOT NULL")
        .fetch_one(Guarded(pool))
        .await
}
