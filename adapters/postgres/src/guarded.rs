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
//!   attempting to begin transaction");
//! - a statement whose future was dropped while its answer was on the way, on a
//!   connection whose answers stopped coming (a black-holed network path), waited in
//!   that give-back ping, which has no bound, and held its pool slot for as long as the
//!   socket lived: a few such reads and the pool had nothing left to hand out.
//!
//! [`Guarded`] runs single statements the same way: the stores' reads and one-statement
//! writes go through it.

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Describe, Either, Execute, Executor, PgPool, Postgres};

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

/// The pool as an executor whose every statement runs on a [`GuardedConnection`] that
/// is given back only once the statement's answer has ended (an error included: sqlx
/// reads a failed statement's answer to its end). One dropped before is closed.
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
            let mut conn = GuardedConnection::acquire(&pool).await?;
            let mut answer = conn.conn.fetch_many(query);
            let ended = loop {
                match answer.try_next().await {
                    Ok(Some(step)) => yield step,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            };
            drop(answer);
            conn.done();
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
            let mut conn = GuardedConnection::acquire(&pool).await?;
            let row = conn.conn.fetch_optional(query).await;
            conn.done();
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
            let mut conn = GuardedConnection::acquire(&pool).await?;
            let statement = conn.conn.prepare_with(sql, parameters).await;
            conn.done();
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
            let mut conn = GuardedConnection::acquire(&pool).await?;
            let described = conn.conn.describe(sql).await;
            conn.done();
            described
        })
    }
}
