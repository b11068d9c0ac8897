//! The rebuild claim on PostgreSQL: a session advisory lock on a connection of its own,
//! held as long as the claim; the server releases it when that session ends, whatever
//! ended the holder (a crash included).

use ledger_application::ports::readmodel::{ClaimGuard, ReadModelError, RebuildClaim};
use sqlx::{Connection, PgConnection, PgPool};

use crate::projections::rm_error;

/// The two keys of the advisory lock that makes a rebuild exclusive across instances
/// ("ledg", 1: a key space of its own, apart from the projections' one-key leases).
pub(crate) const REBUILD_LOCK: (i32, i32) = (0x6c65_6467, 1);

/// How long a release waits for each of the server's answers.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The connection holding the rebuild lock. Dropped, it ends its session at once (a
/// Terminate sent from a task, when there is a runtime) rather than leave the server
/// to notice the closed socket: the next claim, anywhere, finds the lock free.
struct ClaimConnection(Option<PgConnection>);

impl Drop for ClaimConnection {
    fn drop(&mut self) {
        if let (Some(conn), Ok(rt)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            rt.spawn(async move {
                let _ = conn.close().await;
            });
        }
    }
}

#[async_trait::async_trait]
impl ClaimGuard for ClaimConnection {
    /// Unlocks (the answer means the lock is free), then ends the session. A
    /// connection that does not answer within a few seconds is dropped instead: the
    /// server frees the lock when it notices.
    async fn release(mut self: Box<Self>) {
        if let Some(mut conn) = self.0.take() {
            let unlock = async {
                sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                    .bind(REBUILD_LOCK.0)
                    .bind(REBUILD_LOCK.1)
                    .execute(&mut conn)
                    .await
            };
            if let Ok(Ok(_)) = tokio::time::timeout(RELEASE_WAIT, unlock).await {
                let _ = tokio::time::timeout(RELEASE_WAIT, conn.close()).await;
            }
        }
    }
}

/// Claims the right to rebuild, or `None` while another session holds it.
pub(crate) async fn claim(pool: &PgPool) -> Result<Option<RebuildClaim>, ReadModelError> {
    let mut conn = PgConnection::connect_with(&pool.connect_options())
        .await
        .map_err(rm_error)?;
    // The session holds the lock while it idles through the whole rebuild: a server-wide
    // idle_session_timeout must not end it (and with it the claim). PostgreSQL before 14
    // has no such setting; nothing to turn off there.
    let _ = sqlx::query("SET idle_session_timeout = 0")
        .execute(&mut conn)
        .await;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(REBUILD_LOCK.0)
        .bind(REBUILD_LOCK.1)
        .fetch_one(&mut conn)
        .await
        .map_err(rm_error)?;
    Ok(got.then(|| RebuildClaim::new(ClaimConnection(Some(conn)))))
}

/// Whether any session of this database holds the rebuild lock (two-key advisory locks
/// show as classid, objid and objsubid 2 in pg_locks).
pub(crate) async fn is_claimed(pool: &PgPool) -> Result<bool, ReadModelError> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
            AND objsubid = 2 AND classid::bigint = $1 AND objid::bigint = $2 AND database = \
            (SELECT oid FROM pg_database WHERE datname = current_database()))",
    )
    .bind(i64::from(REBUILD_LOCK.0))
    .bind(i64::from(REBUILD_LOCK.1))
    .fetch_one(crate::guarded::Guarded(pool))
    .await
    .map_err(rm_error)
}
