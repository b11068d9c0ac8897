//! Leases: one instance at a time runs each projector, the expirer, the relay and the
//! sealer, through a session advisory lock held by a connection of its own.
//!
//! A holder that stops without dying (SIGSTOP, a paused VM, a wedged runtime) keeps its
//! TCP connection, and with it the lock: every other instance waited for ever (black-box
//! testing: expiries, projections and the relay stood still). Each lease's session is
//! therefore ended by PostgreSQL once it has been idle for [`IDLE_LIMIT`], and a
//! keepalive task pings every held lease's session each [`KEEPALIVE`]; a holder
//! that stops pinging loses its leases within the limit, and another instance takes
//! them over. The guards that make a lease an optimization hold meanwhile (a projection
//! batch is checked against its checkpoint, an expiry or a seal against its stream's
//! version): a holder that resumes and acts before it notices cannot apply anything
//! twice.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ledger_application::ports::readmodel::ReadModelError;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::Mutex;

use crate::projections::rm_error;

/// How long a lease's session may go without a word before PostgreSQL ends it
/// (`idle_session_timeout`, PostgreSQL 14 and later). With 5 s a stopped holder's due
/// expiries were recorded 5.5 s late, past the 5 s an expiry may take (BENCHMARKS.md).
const IDLE_LIMIT: &str = "2s";

/// How often every held lease's connection is pinged, well within [`IDLE_LIMIT`]
/// (a ping waits at most [`PING_LIMIT`]).
const KEEPALIVE: Duration = Duration::from_millis(500);

/// How long a lease seen alive is trusted without asking its connection again.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// The longest a ping may take before its lease is taken for lost (a half-open
/// connection would otherwise hold it for as long as TCP takes to give up).
const PING_LIMIT: Duration = Duration::from_secs(1);

/// The longest taking a lease's session may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(3);

/// A lease: the session holding its advisory lock, and when it was last seen alive.
struct Held {
    conn: PgConnection,
    checked: Instant,
}

impl Held {
    /// Whether its session answers (within [`PING_LIMIT`]).
    async fn alive(&mut self) -> bool {
        let answered = tokio::time::timeout(PING_LIMIT, self.conn.ping()).await;
        if matches!(answered, Ok(Ok(()))) {
            self.checked = Instant::now();
            return true;
        }
        false
    }
}

/// Each lease behind a lock of its own: a ping of one (by the keepalive or a step)
/// never waits on another's, and the map's lock is never held across a call.
type HeldMap = std::sync::Mutex<HashMap<String, Arc<Mutex<Held>>>>;

/// The leases this instance holds.
pub(crate) struct Leases {
    held: Arc<HeldMap>,
}

impl Leases {
    /// No lease held; the keepalive runs (on the current Tokio runtime) while any is.
    pub(crate) fn new() -> Self {
        let held = Arc::new(std::sync::Mutex::new(HashMap::new()));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(keepalive(Arc::downgrade(&held)))),
            Err(_) => tracing::warn!(
                "leases made outside a Tokio runtime: no keepalive, so PostgreSQL ends an \
                 idle one and another instance may take it"
            ),
        }
        Self { held }
    }

    fn get(&self, name: &str) -> Option<Arc<Mutex<Held>>> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(name).cloned()
    }

    /// Whether this instance leads `name`: it holds the lease (its session alive) or
    /// takes it now.
    pub(crate) async fn try_lead(&self, pool: &PgPool, name: &str) -> Result<bool, ReadModelError> {
        if let Some(lease) = self.get(name) {
            let mut lease = lease.lock().await;
            // Asked before every step: the session is asked at most once per
            // TRUSTED_FOR (the keepalive's pings count).
            if lease.checked.elapsed() < TRUSTED_FOR || lease.alive().await {
                return Ok(true);
            }
            drop(lease);
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            held.remove(name);
        }
        let taken = tokio::time::timeout(CONNECT_LIMIT, take(pool, name))
            .await
            .map_err(|_| ReadModelError::Unavailable("taking a lease timed out".into()))??;
        let Some(conn) = taken else {
            return Ok(false);
        };
        let lease = Held {
            conn,
            checked: Instant::now(),
        };
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.insert(name.to_owned(), Arc::new(Mutex::new(lease)));
        Ok(true)
    }
}

/// A session of its own holding `name`'s advisory lock, if no other session holds it.
async fn take(pool: &PgPool, name: &str) -> Result<Option<PgConnection>, ReadModelError> {
    let mut conn = PgConnection::connect_with(&pool.connect_options())
        .await
        .map_err(rm_error)?;
    // Before PostgreSQL 14 there is no such setting: a stopped holder keeps its
    // leases there, as it did before.
    let limit = format!("SET idle_session_timeout = '{IDLE_LIMIT}'");
    if let Err(e) = sqlx::query(&limit).execute(&mut conn).await {
        tracing::debug!(error = %e, "a lease's session has no idle limit");
    }
    let got: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('ledger:projection:' || $1))")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .map_err(rm_error)?;
    Ok(got.then_some(conn))
}

/// Pings every held lease's session each [`KEEPALIVE`] until the leases are gone.
async fn keepalive(held: Weak<HeldMap>) {
    loop {
        tokio::time::sleep(KEEPALIVE).await;
        let Some(held) = held.upgrade() else {
            return;
        };
        let leases: Vec<_> = {
            let map = held.lock().unwrap_or_else(|p| p.into_inner());
            map.values().cloned().collect()
        };
        drop(held);
        for lease in leases {
            // A lost one is found and dropped by the next step that asks for it.
            let _ = lease.lock().await.alive().await;
        }
    }
}
