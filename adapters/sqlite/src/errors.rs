//! Translating sqlx errors into the ports' errors at the SQLite adapter's boundary.

use ledger_application::ports::store::{AppendError, StoreError};

/// Whether an error is an outage to retry later (no connection, a full pool, the file
/// locked past the busy timeout, the disk full or failing) rather than a fault: the one
/// classification of the SQLite adapter, for events and read models alike. A full disk
/// rolls the statement back, so nothing was written and a retry after space returns
/// is safe; a projection meeting it retries instead of stopping as failed.
pub(crate) fn unavailable(e: &sqlx::Error) -> bool {
    const OUTAGES: [i32; 4] = [SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL];
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
    ) || matches!(e, sqlx::Error::Database(db)
        if db.message().contains("database is locked")
            || primary_code(e).is_some_and(|c| OUTAGES.contains(&c)))
}

/// Primary result codes (the low byte of an extended one).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;

/// The primary result code of a database error.
fn primary_code(e: &sqlx::Error) -> Option<i32> {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .map(|c| c & 0xff),
        _ => None,
    }
}

/// A read failure.
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    ledger_sql::store_error(e, unavailable)
}

pub(crate) fn append_error(e: sqlx::Error, stream_id: &str, expected: u64) -> AppendError {
    if let sqlx::Error::Database(db) = &e {
        if db.message().contains("events.stream_id, events.version") {
            return AppendError::Conflict {
                stream_id: stream_id.to_owned(),
                expected,
            };
        }
    }
    ledger_sql::append_failure(e, unavailable)
}

/// The failure of a COMMIT. An I/O error may come after the commit reached the log
/// (its sync failed: a later recovery of the log can still find it), and a writer
/// thread that died may have committed: the outcome is unknown. Any other error (a
/// full disk, a busy file) means the transaction was not committed.
pub(crate) fn commit_error(e: sqlx::Error) -> AppendError {
    let unknown = primary_code(&e) == Some(SQLITE_IOERR)
        || matches!(e, sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed);
    match unknown {
        true => AppendError::OutcomeUnknown(e.to_string()),
        false => append_error(e, "", 0),
    }
}
