//! A group-commit writer's own connection.

use std::time::{Duration, Instant};

use ledger_application::ports::store::{AppendError, AppendRequest};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};

use super::alone::{leaves_connection_sound, write_alone};
use super::Announce;
use crate::PING_AFTER_IDLE;

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
            if now.duration_since(self.used) >= PING_AFTER_IDLE && conn.ping().await.is_err() {
                self.conn = None;
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
        let result = write_alone(conn, request, announce).await;
        if !leaves_connection_sound(&result) {
            self.conn = None;
        }
        result
    }
}
