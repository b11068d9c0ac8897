//! Leases: one instance at a time runs each projector, the expirer, the relay and the
//! sealer, through a session advisory lock held by a connection of its own.
//!
//! A holder that stops without dying (SIGSTOP, a paused VM, a wedged runtime) keeps its
//! TCP connection, and with it the lock: every other instance waited for ever (black-box
//! testing: expiries, projections and the relay stood still). Each lease's session is
//! therefore ended by PostgreSQL once it has been idle for [`IDLE_LIMIT`], and a
//! keepalive task pings every held lease's connection each [`KEEPALIVE`]; a holder
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
/// (`idle_session_timeout`, PostgreSQL 14 and later).
const IDLE_LIMIT: &str = "3s";

/// How often every held lease's connection is pinged, well within [`IDLE_LIMIT`].
const KEEPALIVE: Duration = Duration::from_millis(750);

/// How long a lease seen alive is trusted without asking its connection again.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// A lease: the session holding its advisory lock, and when it was last seen alive.
struct Held {
    conn: PgConnection,
    checked: Instant,
}

type HeldMap = Mutex<HashMap<String, Held>>;

/// The leases this instance holds.
pub(crate) struct Leases {
    held: Arc<HeldMap>,
}

impl Leases {
    /// No lease held; the keepalive runs (on the current Tokio runtime) while any is.
    pub(crate) fn new() -> Self {
        let held = Arc::new(Mutex::new(HashMap::new()));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(keepalive(Arc::downgrade(&held)));
        }
        Self { held }
    }

    /// Whether this instance leads `name`: it holds the lease (its connection alive) or
    /// takes it now.
    pub(crate) async fn try_lead(&self, pool: &PgPool, name: &str) -> Result<bool, ReadModelError> {
        let mut held = self.held.lock().await;
        if let Some(lease) = held.get_mut(name) {
            // Asked before every step: the connection is asked at most once per
            // TRUSTED_FOR (the keepalive's pings count).
            if lease.checked.elapsed() < TRUSTED_FOR {
                return Ok(true);
            }
            if lease.conn.ping().await.is_ok() {
                lease.checked = Instant::now();
                return Ok(true);
            }
            held.remove(name);
        }
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
        if got {
            let checked = Instant::now();
            held.insert(name.to_owned(), Held { conn, checked });
        }
        Ok(got)
    }
}

/// Pings every held lease's connection each [`KEEPALIVE`] until the leases are gone.
async fn keepalive(held: Weak<HeldMap>) {
    loop {
        tokio::time::sleep(KEEPALIVE).await;
        let Some(held) = held.upgrade() else {
            return;
        };
        let mut held = held.lock().await;
        for lease in held.values_mut() {
            if lease.conn.ping().await.is_ok() {
                lease.checked = Instant::now();
            }
        }
    }
}
