//! Every event INSERT of the PostgreSQL adapter, and the two ways appends reach them.
//!
//! - [`alone`]: one append in its own statement (one stream, no idempotency record) or
//!   its own transaction (several streams, idempotency records): `write_alone`.
//! - [`grouped`]: the appends of a group in one all-or-nothing statement:
//!   `write_grouped`.
//! - [`group_commit`]: the writer tasks that gather concurrent appends into groups,
//!   each on a connection it keeps ([`lane`]); a group the database refuses is written
//!   again append by append with `write_alone`, so each gets its own answer.
//!
//! [`Writes::append`] is the one entry: `PgEventStore::append` calls it.

mod alone;
mod columns;
mod group_commit;
mod grouped;
mod lane;

pub use group_commit::GroupCommitConfig;

use ledger_application::ports::store::{AppendError, AppendRequest};
use sqlx::PgPool;

use crate::errors::append_error;
use crate::guarded::GuardedConnection;
use crate::notify::Notifier;
use group_commit::GroupCommit;

/// How a commit is announced to the LISTENers of other instances.
#[derive(Clone)]
pub(crate) enum Announce {
    /// By a NOTIFY inside the appending statement or transaction.
    InStatement,
    /// By the notifier task, after the commit (no cluster-wide lock at commit).
    After(Notifier),
}

impl Announce {
    /// Called once an append committed.
    fn committed(&self) {
        if let Self::After(notifier) = self {
            notifier.committed();
        }
    }
}

/// How a store's appends are written.
#[derive(Clone)]
pub(crate) enum Writes {
    /// Each append alone on a pooled connection, announced in its statement.
    Alone,
    /// Concurrent appends grouped by writer tasks; alone (announced after) once the
    /// writers are gone (runtime shutdown).
    Grouped {
        group: GroupCommit,
        announce: Announce,
    },
}

impl Writes {
    /// Appends grouped as configured. Must be called inside a Tokio runtime (it starts
    /// the writer tasks and the notifier).
    pub(crate) fn grouped(pool: &PgPool, config: GroupCommitConfig) -> Self {
        let announce = Announce::After(Notifier::spawn(pool.clone()));
        Self::Grouped {
            group: GroupCommit::spawn(pool.clone(), announce.clone(), config),
            announce,
        }
    }

    /// Writes one append: all of it or nothing, with its own answer.
    pub(crate) async fn append(
        &self,
        pool: &PgPool,
        request: AppendRequest,
    ) -> Result<(), AppendError> {
        let (request, announce) = match self {
            Self::Alone => (request, &Announce::InStatement),
            Self::Grouped { group, announce } => match group.append(request).await {
                Ok(outcome) => return outcome,
                Err(request) => (request, announce),
            },
        };
        // In the request's own future here: a deadline may drop it mid-transaction, or
        // while its BEGIN is in flight, which sqlx would not roll back (`guarded.rs`).
        let mut conn = GuardedConnection::acquire(pool)
            .await
            .map_err(|e| append_error(e, None, 0))?;
        let written = alone::write_alone(&mut conn.conn, request, announce).await;
        if alone::leaves_connection_sound(&written) {
            conn.done();
        }
        written
    }
}
