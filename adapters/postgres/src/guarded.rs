//! A pooled connection that is closed, not given back to the pool, unless the work on
//! it ended cleanly ([`GuardedConnection::done`]). sqlx gives a dropped connection back
//! after a ping, which does not ask whether the session is where sqlx believes it is:
//! - a `BEGIN` whose future was dropped while its answer was on the way (a request's
//!   deadline, say) is counted by sqlx 0.8 only once the answer arrives, so nothing
//!   rolls it back, and the next borrower's statements run inside that transaction
//!   (sqlx issue 4385): acknowledged, never committed, holding locks and the feed;
//! - a `PgCopyIn` dropped midway (its future dropped, or an error returned through it)
//!   sends `CopyFail` without counting the reply it will get, and the next user of the
//!   connection reads that reply as its own ("unexpected connection status after
//!   attempting to begin transaction").

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

/// See the module's documentation.
pub(crate) struct GuardedConnection {
    pub(crate) conn: PoolConnection<Postgres>,
    done: bool,
}

impl GuardedConnection {
    /// A connection from `pool`, closed when dropped before [`Self::done`].
    pub(crate) async fn acquire(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let conn = pool.acquire().await?;
        Ok(Self { conn, done: false })
    }

    /// The work on it ended cleanly (committed or rolled back): it may go back.
    pub(crate) fn done(&mut self) {
        self.done = true;
    }
}

impl Drop for GuardedConnection {
    fn drop(&mut self) {
        if !self.done {
            self.conn.close_on_drop();
        }
    }
}
