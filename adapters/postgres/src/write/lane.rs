//! A group-commit writer's own connection.

use std::time::{Duration, Instant};

use ledger_application::ports::store::{AppendError, AppendRequest};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};

use super::alone::{leaves_connection_sound, write_alone};
use super::Announce;
use crate::{PING_AFTER_IDLE, PING_DEADLINE};

/// A writer's own connection. Its server process stays warm (cached plans, catalog
/// caches, CPU caches) instead of the pool handing out its least recently used
/// connection for every group. Like a pooled one, it is pinged before use after a
/// second idle, replaced after an error that may have broken it, and given back to the
/// pool after `LANE_LIFETIME` (so the pool's own age limit still applies). Kept
/// between groups only when the pool has room for two more connections besides the
/// writers' (queries, projectors); otherwise given back after each group.
pub(super) struct Lane {
    pool: PgPool,
    pub(super) conn: Option<PoolConnection<Postgres>>,
    keep: bool,
    /// When the connection was taken from the pool, and last used.
    taken: Instant,
    used: Instant,
}

/// How long a writer keeps one connection before taking a fresh one from the pool.
const LANE_LIFETIME: Duration = Duration::from_secs(600);

/// How long a writer waits for one answer of PostgreSQL (a group's statement, a lone
/// append; a ping waits [`PING_DEADLINE`]). Past it the connection is closed, not
/// given back: a black-holed network path keeps it open with no end, and every later
/// group would queue behind it while `/ready` says all is well. What was in flight is answered with an unknown
/// outcome (it may have committed).
pub(super) const ANSWER_DEADLINE: Duration = Duration::from_secs(10);

/// The unknown outcome of an append whose answer did not come within [`ANSWER_DEADLINE`].
pub(super) fn no_answer() -> AppendError {
    AppendError::OutcomeUnknown(format!(
        "no answer from PostgreSQL within {ANSWER_DEADLINE:?}; the connection was closed"
    ))
}

impl Lane {
    /// A lane of one of `writers` writers on `pool`.
    pub(super) fn new(pool: PgPool, writers: usize) -> Self {
        let keep = pool.options().get_max_connections() as usize >= writers + 2;
        let now = Instant::now();
        Self {
            pool,
            conn: None,
            keep,
            taken: now,
            used: now,
        }
    }

    /// Closes the connection (after an error, or no answer): never given back.
    pub(super) fn discard(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.close_on_drop();
        }
    }

    /// After each group: the connection goes back to the pool unless it is kept.
    pub(super) fn after_group(&mut self) {
        if !self.keep {
            self.conn = None;
        }
    }

    pub(super) async fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        let now = Instant::now();
        if self.conn.is_some() && now.duration_since(self.taken) >= LANE_LIFETIME {
            self.conn = None;
        }
        if let Some(conn) = self.conn.as_mut() {
            if now.duration_since(self.used) >= PING_AFTER_IDLE
                && !matches!(
                    tokio::time::timeout(PING_DEADLINE, conn.ping()).await,
                    Ok(Ok(()))
                )
            {
                self.discard();
            }
        }
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?);
            self.taken = now;
        }
        self.used = now;
        Ok(self.conn.as_mut().expect("acquired above"))
    }

    /// One append on its own, on the lane's connection.
    pub(super) async fn write_alone(
        &mut self,
        request: AppendRequest,
        announce: &Announce,
    ) -> Result<(), AppendError> {
        let conn = match self.conn().await {
            Ok(conn) => conn,
            Err(e) => return Err(AppendError::Unavailable(e.to_string())),
        };
        let written = tokio::time::timeout(ANSWER_DEADLINE, write_alone(conn, request, announce));
        let result = written.await.unwrap_or_else(|_| Err(no_answer()));
        if !leaves_connection_sound(&result) {
            self.discard();
        }
        result
    }
}
