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

/// Takes the lock, or `None` when another holds it.
fn try_take(pool: &SqlitePool) -> Result<Option<File>, ReadModelError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(pool))
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Claims the right to rebuild, for as long as the claim lives.
pub(crate) fn claim(pool: &SqlitePool) -> Result<Option<RebuildClaim>, ReadModelError> {
    Ok(try_take(pool)?.map(RebuildClaim::new))
}

/// Whether a claim is held (by this process or another): the lock cannot be taken.
pub(crate) fn is_claimed(pool: &SqlitePool) -> Result<bool, ReadModelError> {
    // Taken for a moment and released at once (the file is closed) when free.
    Ok(try_take(pool)?.is_none())
}
