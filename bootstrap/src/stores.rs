//! Picks and opens the adapters named by the settings.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ledger_application::ports::keys::KeyStore;
use ledger_application::ports::readmodel::{ProjectionStore, ReadModels};
use ledger_application::ports::snapshot::SnapshotStore;
use ledger_application::ports::store::EventStore;
use ledger_memory::MemorySnapshotStore;
use ledger_redis::{RedisSnapshotConfig, RedisSnapshotStore};
use sqlx::SqlitePool;

use crate::settings::{redacted, Settings};

/// The opened stores.
pub struct Stores {
    /// Events.
    pub events: Arc<dyn EventStore>,
    /// Read-model writes.
    pub projections: Arc<dyn ProjectionStore>,
    /// Read-model reads.
    pub read: Arc<dyn ReadModels>,
    /// Snapshots.
    pub snapshots: Arc<dyn SnapshotStore>,
    /// API keys.
    pub keys: Arc<dyn KeyStore>,
    /// For PostgreSQL: the pool, whose NOTIFYs wake projectors of other instances.
    pub pg_pool: Option<sqlx::PgPool>,
    /// For SQLite: each file's writer and readers (the events', the read models').
    pub sqlite_files: Vec<(SqlitePool, SqlitePool)>,
}

impl Stores {
    /// What closes the stores at the end of a clean stop ([`Closer::close`]).
    pub fn closer(&self) -> Closer {
        Closer {
            sqlite_files: self.sqlite_files.clone(),
        }
    }
}

/// The SQLite files' pools, to close at the end of a clean stop. (PostgreSQL's pool
/// needs no closing: its connections end with the process, and nothing is left to
/// fold.)
pub struct Closer {
    sqlite_files: Vec<(SqlitePool, SqlitePool)>,
}

impl Closer {
    /// Closes each SQLite file's pools, its write-ahead log folded into it first, so
    /// that the events' file alone is a whole backup.
    pub async fn close(self) {
        for (writer, reader) in &self.sqlite_files {
            match ledger_sqlite::close_file(writer, reader).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    "another process reads the SQLite file: its write-ahead log stays beside it \
                     until the last one stops"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "the SQLite write-ahead log stays beside its file")
                }
            }
        }
    }
}

type StoreSet = (
    Arc<dyn EventStore>,
    Arc<dyn ProjectionStore>,
    Arc<dyn ReadModels>,
    Arc<dyn KeyStore>,
    Option<sqlx::PgPool>,
    Vec<(SqlitePool, SqlitePool)>,
);

/// Refuses a storage URL that holds no ledger yet, for the commands that only read or
/// rebuild what is there: opening would make a mistyped path a new, empty ledger.
pub async fn require_ledger(settings: &Settings) -> anyhow::Result<()> {
    let shown = redacted(settings.storage.url.expose());
    if !holds_ledger(settings).await? {
        anyhow::bail!("no ledger at {shown}: `ledger migrate` (or `ledger serve`) makes one");
    }
    Ok(())
}

/// Whether the storage URL holds a ledger already (true for a URL it cannot take: the
/// opening names what is wrong with it).
async fn holds_ledger(settings: &Settings) -> anyhow::Result<bool> {
    let url = settings.storage.url.expose();
    let shown = redacted(url);
    if url.starts_with("sqlite:") {
        ledger_sqlite::holds_ledger(url)
            .await
            .with_context(|| format!("cannot read the SQLite file at {shown}"))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = ledger_postgres::pool(url, 2)
            .with_context(|| format!("invalid storage.url {shown}"))?;
        let found = ledger_postgres::holds_ledger(&pool).await;
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                let timed_out = matches!(e, sqlx::Error::PoolTimedOut);
                let cause = with_cause(&pool, e, timed_out).await;
                anyhow::bail!("cannot reach the event store at {shown}: {cause}");
            }
        };
        pool.close().await;
        Ok(found)
    } else {
        Ok(true)
    }
}

/// Opens (and migrates) the stores for `serve`, `migrate` and `relay`, saying which
/// ledger it is, and warning when the storage URL held none and a new, empty one was
/// made: a mistyped path otherwise took deposits into a ledger no one expected.
pub async fn open_announced(settings: &Settings) -> anyhow::Result<Stores> {
    let existed = holds_ledger(settings).await?;
    let stores = open(settings).await?;
    let shown = redacted(settings.storage.url.expose());
    if existed {
        tracing::info!(storage = %shown, "ledger opened");
    } else {
        tracing::warn!(
            storage = %shown,
            "no ledger was there: a new, empty one was made (if one was expected, check storage.url)"
        );
    }
    Ok(stores)
}

/// Opens the event store and read models (migrating them) and the snapshot store.
pub async fn open(settings: &Settings) -> anyhow::Result<Stores> {
    open_with(settings, true).await
}

/// Opens them as they are, changing nothing (no migration, no hash backfill): for
/// `ledger verify`, which must not write what it checks.
pub async fn open_unchanged(settings: &Settings) -> anyhow::Result<Stores> {
    open_with(settings, false).await
}

async fn open_with(settings: &Settings, migrate: bool) -> anyhow::Result<Stores> {
    // First: a snapshots.url it cannot take is said before a ledger file is made.
    let snapshot_url = settings.snapshots.url.expose();
    let snapshots: Arc<dyn SnapshotStore> = if snapshot_url == "memory" {
        Arc::new(MemorySnapshotStore::new(
            settings.snapshots.cache_capacity.max(1),
        ))
    } else if snapshot_url.starts_with("redis://") || snapshot_url.starts_with("rediss://") {
        let config = RedisSnapshotConfig {
            prefix: settings.snapshots.prefix.clone(),
            ttl: (settings.snapshots.ttl_seconds > 0)
                .then(|| Duration::from_secs(settings.snapshots.ttl_seconds)),
            ..Default::default()
        };
        Arc::new(RedisSnapshotStore::new(snapshot_url, config).map_err(|e| {
            anyhow::anyhow!("invalid snapshots.url {}: {e}", redacted(snapshot_url))
        })?)
    } else {
        anyhow::bail!(
            "snapshots.url must be `memory` or redis://..., not {}",
            redacted(snapshot_url)
        );
    };
    let url = settings.storage.url.expose();
    let shown = redacted(url);
    let (events, projections, read, keys, pg_pool, sqlite_files): StoreSet = if url
        .starts_with("sqlite:")
    {
        let store = match migrate {
            true => ledger_sqlite::open(url).await,
            false => ledger_sqlite::open_existing(url).await,
        }
        .map_err(|e| {
            let advice = match &e {
                sqlx::Error::Migrate(m) => migration_advice(m),
                _ => None,
            };
            anyhow::Error::new(e).context(format!(
                "cannot open the SQLite event store at {shown}{}",
                advice.map_or(String::new(), |a| format!(" ({a})"))
            ))
        })?;
        let read_models = match migrate {
            true => ledger_sqlite::open_read_models(&store).await,
            false => ledger_sqlite::open_read_models_existing(&store).await,
        }
        .with_context(|| {
            let file =
                ledger_sqlite::read_models_path(store.writer().connect_options().get_filename());
            format!(
                "cannot open the SQLite read models in {} (beside {shown}; that file, \
                 removed, is made anew from the events)",
                file.display()
            )
        })?;
        let projections = ledger_sqlite::SqliteProjectionStore::new(&read_models, &store);
        let read = ledger_sqlite::SqliteReadModels::new(&read_models);
        let keys =
            ledger_sqlite::SqliteKeyStore::new(store.writer().clone(), store.reader().clone());
        let files = vec![
            (store.writer().clone(), store.reader().clone()),
            (read_models.writer().clone(), read_models.reader().clone()),
        ];
        let store = Arc::new(store);
        (
            store,
            Arc::new(projections),
            Arc::new(read),
            Arc::new(keys),
            None,
            files,
        )
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = ledger_postgres::pool(url, settings.storage.max_connections)
            .with_context(|| format!("invalid storage.url {shown}"))?;
        if migrate {
            if let Err(e) = ledger_postgres::migrate(&pool).await {
                // The pool says only that it timed out: a direct try says why.
                let timed_out = matches!(
                    e,
                    sqlx::migrate::MigrateError::Execute(sqlx::Error::PoolTimedOut)
                );
                let advice = migration_advice(&e).map_or(String::new(), |a| format!(" ({a})"));
                let cause = with_cause(&pool, e, timed_out).await;
                anyhow::bail!(
                    "cannot reach or migrate the event store at {shown}: {cause}{advice}"
                );
            }
            let ahead = ledger_postgres::ids_ahead_of_cluster(&pool)
                .await
                .with_context(|| format!("cannot read the event store at {shown}"))?;
            if let Some((highest, next)) = ahead {
                anyhow::bail!(
                    "the events at {shown} were written by transaction ids up to {highest}, \
                     and this PostgreSQL cluster has reached only {next}: they come from \
                     another cluster (a pg_dump restored here?), and the event feed would \
                     hide them and miss what is written meanwhile. Restore a physical backup \
                     (pg_basebackup, point-in-time) instead, or advance this cluster's \
                     transaction ids past {highest} first (docs/API.md, Backups and restores)"
                );
            }
        }
        (
            Arc::new(ledger_postgres::PgEventStore::with_group_commit(
                pool.clone(),
                ledger_postgres::GroupCommitConfig {
                    writers: settings.storage.group_commit_writers.max(1),
                    ..Default::default()
                },
            )),
            Arc::new(ledger_postgres::PgProjectionStore::new(pool.clone())),
            Arc::new(ledger_postgres::PgReadModels::new(pool.clone())),
            Arc::new(ledger_postgres::PgKeyStore::new(pool.clone())),
            Some(pool),
            Vec::new(),
        )
    } else {
        // Not echoed: a value of another form (a libpq key=value string) may hold a
        // password that `redacted` does not know where to find.
        anyhow::bail!("storage.url must start with sqlite:// or postgres://");
    };
    Ok(Stores {
        events,
        projections,
        read,
        snapshots,
        keys,
        pg_pool,
        sqlite_files,
    })
}

/// Connections the first requests would otherwise open: a few pooled event-store
/// connections (each preparing the stream read every aggregate load runs), and the
/// snapshot store's. Failures are ignored: the stores connect again on demand.
pub async fn warm_up(stores: &Stores) {
    let probe = || {
        stores
            .events
            .read_stream(ledger_application::ports::store::StreamQuery {
                stream_id: "__warm_up__",
                after_version: 0,
                until: None,
                limit: 1,
            })
    };
    let probes: Vec<_> = (0..WARM_CONNECTIONS).map(|_| probe()).collect();
    let _ = futures_util::future::join_all(probes).await;
    let _ = stores.snapshots.load("__warm_up__").await;
}

/// Event-store connections opened before the first request.
const WARM_CONNECTIONS: usize = 4;

/// A failed use of `pool`, with why it could not connect when the pool only says it
/// timed out (a direct try says why).
/// What to do about migrations this version cannot run, in the operator's words (sqlx
/// says "migration 19 was previously applied but is missing in the resolved
/// migrations", or to "remove row from _sqlx_migrations table").
fn migration_advice(e: &sqlx::migrate::MigrateError) -> Option<String> {
    use sqlx::migrate::MigrateError as M;
    match e {
        M::VersionMissing(v) => Some(format!(
            "its migration {v} is unknown to this version: a newer version of ledger \
             migrated it (run that version or a later one, or restore a backup this one \
             made), or storage.url names another application's database"
        )),
        M::VersionMismatch(v) => Some(format!(
            "its migration {v} is not this ledger's: storage.url names another database \
             or file (the read models' `-read-models` file, another application's)?"
        )),
        M::Dirty(v) => Some(format!(
            "migration {v} was left unfinished: restore a backup rather than edit \
             _sqlx_migrations by hand"
        )),
        _ => None,
    }
}

async fn with_cause(pool: &sqlx::PgPool, e: impl std::fmt::Display, timed_out: bool) -> String {
    let why = if timed_out {
        ledger_postgres::connect_error(pool).await
    } else {
        None
    };
    match why {
        Some(why) => format!("{e} (connecting: {why})"),
        None => e.to_string(),
    }
}
