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
//!
//! [`Guarded`] runs the stores' lone statements (their reads and one-statement writes)
//! on a [`StatementConnection`], given back through that ping too when it was cut off
//! before its answer ended, but within a bound: on a connection whose answers stopped
//! coming (a black-holed network path) the ping waited for good, and held its pool slot
//! for as long as the socket lived, until a few such reads left the pool nothing to
//! hand out. Closed at once instead, a cut-off statement would go on running on the
//! server while the pool opened its replacement: the pool would no longer bound what
//! runs there.

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Connection, Describe, Either, Execute, Executor, PgConnection, PgPool, Postgres};

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

/// How long a statement cut off before its answer ended may take to finish answering
/// (its rows read and dropped) before its connection is closed rather than given back.
const SETTLE_DEADLINE: Duration = Duration::from_secs(10);

/// A pooled connection for one lone statement: given back at once when the statement's
/// answer ended (its rows, or the server's error); otherwise given back once the rest
/// of the answer has come, within [`SETTLE_DEADLINE`], or else closed.
struct StatementConnection {
    conn: Option<PoolConnection<Postgres>>,
    ended: bool,
}

impl StatementConnection {
    async fn acquire(pool: &PgPool) -> Result<Self, sqlx::Error> {
        Ok(Self {
            conn: Some(pool.acquire().await?),
            ended: false,
        })
    }

    fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("held until dropped")
    }

    /// The statement's answer ended with this outcome: ended cleanly on an answer or
    /// the server's own error; anything else (an I/O, protocol or decoding error) left
    /// the session where only the settling ping can tell.
    fn mark_ended<T>(&mut self, outcome: &Result<T, sqlx::Error>) {
        self.ended = matches!(outcome, Ok(_) | Err(sqlx::Error::Database(_)));
    }
}

impl Drop for StatementConnection {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.ended {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            conn.close_on_drop();
            return;
        };
        runtime.spawn(async move {
            let settled = tokio::time::timeout(SETTLE_DEADLINE, conn.ping()).await;
            if !matches!(settled, Ok(Ok(()))) {
                conn.close_on_drop();
            }
        });
    }
}

/// The pool as an executor whose every statement runs on a [`StatementConnection`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Guarded<'p>(pub(crate) &'p PgPool);

impl<'p> Executor<'p> for Guarded<'_> {
    // Not tied to the borrow (as sqlx's own `&Pool`): the pool is cloned, an `Arc`.
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.0.clone();
        Box::pin(async_stream::try_stream! {
            let mut conn = StatementConnection::acquire(&pool).await?;
            let mut answer = conn.conn().fetch_many(query);
            let ended = loop {
                match answer.try_next().await {
                    Ok(Some(step)) => yield step,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            };
            drop(answer);
            conn.mark_ended(&ended);
            ended?;
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.0.clone();
        Box::pin(async move {
            let mut conn = StatementConnection::acquire(&pool).await?;
            let row = conn.conn().fetch_optional(query).await;
            conn.mark_ended(&row);
            row
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.0.clone();
        Box::pin(async move {
            let mut conn = StatementConnection::acquire(&pool).await?;
            let statement = conn.conn().prepare_with(sql, parameters).await;
            conn.mark_ended(&statement);
            statement
        })
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.0.clone();
        Box::pin(async move {
            let mut conn = StatementConnection::acquire(&pool).await?;
            let described = conn.conn().describe(sql).await;
            conn.mark_ended(&described);
            described
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDatabase;

    async fn backend(pool: &PgPool) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(Guarded(pool))
            .await
            .unwrap()
    }

    /// A statement cut off while the server still works on it goes back to the pool
    /// once its answer has come. Closed at once, the server would go on running it
    /// beside the connection opened in its place: the pool would no longer bound what
    /// runs there.
    #[tokio::test]
    async fn a_statement_cut_off_goes_back_once_its_answer_has_come() {
        let db = TestDatabase::create().await;
        let pool = crate::pool(&db.url, 1).unwrap();
        let first = backend(&pool).await;
        for cut_off in [
            sqlx::query("SELECT pg_sleep(0.3)").execute(Guarded(&pool)),
            sqlx::query("SELECT 1 FROM pg_sleep(0.3), generate_series(1, 1000)")
                .execute(Guarded(&pool)),
        ] {
            let answer = tokio::time::timeout(Duration::from_millis(50), cut_off).await;
            assert!(answer.is_err(), "not cut off");
            assert_eq!(backend(&pool).await, first, "closed, not given back");
        }
        pool.close().await;
    }
}
