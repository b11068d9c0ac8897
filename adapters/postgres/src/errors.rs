//! Translating sqlx errors into the ports' errors at the adapter boundary.

use ledger_application::ports::store::{AppendError, StoreError};

/// The unique constraint that makes a stream's versions race-free.
pub const STREAM_VERSION_KEY: &str = "events_stream_version_key";

/// True when the database cannot be reached (connection, pool, shutdown), cannot now
/// (out of disk, memory or connections; an I/O error), cancelled the statement, or
/// ended the session (any FATAL error: a login refused because the
/// database does not exist or accepts no connections now, too many clients, a password
/// refused, which black-box testing found answered 500; or a session that waited in a
/// transaction past `idle_in_transaction_session_timeout`).
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            // Class 08: connection exception; 57P0x: shutdown / cannot connect now;
            // 57014: the statement was cancelled (by an operator's `pg_cancel_backend`,
            // say), which says nothing about the request (it was answered 500);
            // class 53: insufficient resources (53100: the disk is full, which was
            // answered 500 and stopped the read models for good); 58030: an I/O error.
            c.starts_with("08")
                || c.starts_with("57P")
                || c.starts_with("53")
                || c == "57014"
                || c == "58030"
                || ends_session(e)
        }),
        _ => false,
    }
}

/// The failure of the statement that commits (a lone INSERT in autocommit, a group's
/// statement, a COMMIT). An error the server answered the statement with (severity
/// ERROR) means it ended without writing: as [`append_error`]. Anything else may have
/// come after the commit (the connection lost before the answer arrived, the session
/// ended by the server as it waited to commit, an answer that could not be read): the
/// outcome is unknown, and so is said to be.
pub fn commit_error(e: sqlx::Error, stream_id: Option<&str>, expected: u64) -> AppendError {
    let refused_by_server = matches!(e, sqlx::Error::Database(_)) && !ends_session(&e);
    if refused_by_server || matches!(e, sqlx::Error::Encode(_)) {
        append_error(e, stream_id, expected)
    } else {
        AppendError::OutcomeUnknown(e.to_string())
    }
}

/// Whether the server ended the session with this error (severity FATAL or PANIC):
/// the connection it came on is gone, whatever its code.
fn ends_session(e: &sqlx::Error) -> bool {
    use sqlx::postgres::{PgDatabaseError, PgSeverity};
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<PgDatabaseError>()
            .is_some_and(|pg| matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic)),
        _ => false,
    }
}

/// What a pool timeout likely means, for the log: sqlx tries a refused or unreachable
/// server again until the pool's wait runs out and then says only that it timed out.
pub(crate) fn pool_hint(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::PoolTimedOut => {
            " (PostgreSQL is down, refuses connections or cannot be reached, or every \
             connection of storage.max_connections is busy)"
        }
        _ => "",
    }
}

/// A read failure.
pub fn store_error(e: sqlx::Error) -> StoreError {
    let hint = pool_hint(&e);
    match ledger_sql::store_error(e, is_unavailable) {
        StoreError::Unavailable(m) => StoreError::Unavailable(m + hint),
        failed => failed,
    }
}

/// A write failure; a violation of the stream-version key is a conflict, never a 500.
pub fn append_error(e: sqlx::Error, stream_id: Option<&str>, expected: u64) -> AppendError {
    if let sqlx::Error::Database(db) = &e {
        // 40P01 deadlock, 40001 serialization failure: nothing was written; the caller
        // reloads and decides again, exactly as for a version conflict.
        let retryable = matches!(db.code().as_deref(), Some("40P01" | "40001"));
        if db.constraint() == Some(STREAM_VERSION_KEY) || retryable {
            return AppendError::Conflict {
                stream_id: stream_id.unwrap_or_default().to_owned(),
                expected,
            };
        }
    }
    let hint = pool_hint(&e);
    match ledger_sql::append_failure(e, is_unavailable) {
        AppendError::Unavailable(m) => AppendError::Unavailable(m + hint),
        failed => failed,
    }
}
