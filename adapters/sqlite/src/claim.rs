//! The rebuild claim on SQLite: an exclusive lock (`flock`) on a file beside the
//! database, so that every process on the file sees it; the operating system releases
//! it when its holder closes it or dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use ledger_application::ports::readmodel::{ReadModelError, RebuildClaim};
use sqlx::SqlitePool;

/// `<database file>-rebuild.lock`.
fn lock_path(pool: &SqlitePool) -> PathBuf {
    let mut name = pool.connect_options().get_filename().as_os_str().to_owned();
    name.push("-rebuild.lock");
    PathBuf::from(name)
}

fn io(e: std::io::Error) -> ReadModelError {
    ReadModelError::Unavailable(format!("the rebuild lock file: {e}"))
}

fn open(pool: &SqlitePool) -> Result<File, ReadModelError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(pool))
        .map_err(io)
}

/// The lock file, locked: closing it (dropping it) releases the lock at once.
struct ClaimFile(#[allow(dead_code)] File);

impl ledger_application::ports::readmodel::ClaimGuard for ClaimFile {}

/// Claims the right to rebuild, for as long as the claim lives: the exclusive lock, or
/// `None` when a claim holds it. A status probe holds a shared lock for an instant, so
/// a refusal is retried for a moment before it is believed.
pub(crate) async fn claim(pool: &SqlitePool) -> Result<Option<RebuildClaim>, ReadModelError> {
    let file = open(pool)?;
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
    let file = open(pool)?;
    match file.try_lock_shared() {
        // Released when the file is closed, at the end of this call.
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}
