//! Roles one process at a time plays on a SQLite file: the rebuild claim and the
//! leases of the relay, the expirer and the sealer. Each is an exclusive lock (`flock`)
//! on a file beside the database, so that every process on the file sees it; the
//! operating system releases it when its holder closes it or dies.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ledger_application::ports::readmodel::{ReadModelError, RebuildClaim};
use sqlx::SqlitePool;

/// The rebuild claim's lock file, beside the read models' file.
const REBUILD: &str = "-rebuild.lock";

/// `<database file><suffix>`.
fn path_beside(database: &Path, suffix: &str) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The lock file `<database file><suffix>`, opened (made when missing); the one way
/// every lock beside a database (roles, claims, migrations, write turns) is opened.
pub(crate) fn lock_file(database: &Path, suffix: &str) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path_beside(database, suffix))
}

fn lock_path(pool: &SqlitePool, suffix: &str) -> PathBuf {
    path_beside(pool.connect_options().get_filename(), suffix)
}

/// Waits for, and takes, the lock of migrating the database of `options`
/// (`<file>-migrate.lock`); held until the returned file is dropped.
pub(crate) async fn migration_lock(
    options: &sqlx::sqlite::SqliteConnectOptions,
) -> Result<File, sqlx::Error> {
    let database = options.get_filename().to_owned();
    tokio::task::spawn_blocking(move || {
        let file = lock_file(&database, "-migrate.lock")?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
    .map_err(sqlx::Error::Io)
}

fn io(e: std::io::Error) -> ReadModelError {
    ReadModelError::Unavailable(format!("a lock file beside the database: {e}"))
}

fn open(pool: &SqlitePool, suffix: &str) -> Result<File, ReadModelError> {
    lock_file(pool.connect_options().get_filename(), suffix).map_err(io)
}

/// The leases of the roles that write to an events' file (the relay, the expirer, the
/// sealer), each a lock on `<events file>-<role>.lock`: once taken, held for as long as
/// the store (and its clones) lives.
#[derive(Clone, Default)]
pub(crate) struct RoleLeases {
    held: Arc<Mutex<HashMap<&'static str, File>>>,
}

impl RoleLeases {
    /// Whether this store holds `role`'s lease on the file of `events` (taking it when
    /// no process does). A held lock whose file was removed or replaced at its path
    /// (another process could lock the new one) is let go and taken again.
    pub(crate) fn try_hold(
        &self,
        events: &SqlitePool,
        role: &'static str,
    ) -> Result<bool, ReadModelError> {
        let suffix = format!("-{role}.lock");
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = held.get(role) {
            if same_file(file, &lock_path(events, &suffix)) {
                return Ok(true);
            }
            held.remove(role);
        }
        let file = open(events, &suffix)?;
        match file.try_lock() {
            Ok(()) => {
                held.insert(role, file);
                Ok(true)
            }
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

/// Whether `file` is the file at `path` now.
fn same_file(file: &File, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// The lock file, locked: closing it (dropping it) releases the lock at once.
struct ClaimFile(#[allow(dead_code)] File);

impl ledger_application::ports::readmodel::ClaimGuard for ClaimFile {}

/// Claims the right to rebuild, for as long as the claim lives: the exclusive lock, or
/// `None` when a claim holds it. A status probe holds a shared lock for an instant, so
/// a refusal is retried for a moment before it is believed.
pub(crate) async fn claim(pool: &SqlitePool) -> Result<Option<RebuildClaim>, ReadModelError> {
    let file = open(pool, REBUILD)?;
    for _ in 0..20 {
        match file.try_lock() {
            Ok(()) => return Ok(Some(RebuildClaim::new(ClaimFile(file)))),
            Err(TryLockError::WouldBlock) => {
                futures_timer::Delay::new(std::time::Duration::from_millis(5)).await;
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    Ok(None)
}

/// Whether a claim is held (by this process or another): a shared lock cannot be had.
/// (Probes take it shared, so they never stand in each other's way.)
pub(crate) fn is_claimed(pool: &SqlitePool) -> Result<bool, ReadModelError> {
    let file = open(pool, REBUILD)?;
    match file.try_lock_shared() {
        // Released when the file is closed, at the end of this call.
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}
