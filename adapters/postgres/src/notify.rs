//! Wakes other instances' projectors after commits, off the commit path, and this
//! instance's on the NOTIFYs others send ([`listen`]).
//!
//! A NOTIFY inside the appending transaction takes a cluster-wide lock at commit, so
//! every append would wait for every other. Instead each commit marks "new events" and
//! a task sends one NOTIFY for all of them a few milliseconds later, always after the
//! commits it announces. A lost NOTIFY only delays other instances until their polling.

use std::time::Duration;

use std::sync::Arc;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use crate::guarded::Guarded;
use crate::store::NOTIFY_CHANNEL;

/// How long commits are gathered into one NOTIFY.
const GATHER: Duration = Duration::from_millis(5);

/// The handle commits announce themselves through.
/// How long a NOTIFY may take, its wait for a connection included.
const NOTIFY_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(crate) struct Notifier {
    pending: mpsc::Sender<()>,
}

impl Notifier {
    /// Starts the task on the current Tokio runtime; it ends when every handle is dropped.
    pub(crate) fn spawn(pool: PgPool) -> Self {
        // Capacity one: a full channel already means "a NOTIFY is due".
        let (pending, mut due) = mpsc::channel::<()>(1);
        tokio::spawn(async move {
            while due.recv().await.is_some() {
                tokio::time::sleep(GATHER).await;
                while due.try_recv().is_ok() {}
                // Bounded (past the pool's wait for a connection): one whose answer never
                // comes would hold every later NOTIFY for good.
                let notify = sqlx::query("SELECT pg_notify($1, '')")
                    .bind(NOTIFY_CHANNEL)
                    .execute(Guarded(&pool));
                match tokio::time::timeout(NOTIFY_DEADLINE, notify).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "NOTIFY not sent; other instances poll");
                    }
                    Err(_) => tracing::debug!("NOTIFY unanswered; other instances poll"),
                }
            }
        });
        Self { pending }
    }

    /// Called after a commit that wrote events.
    pub(crate) fn committed(&self) {
        let _ = self.pending.try_send(());
    }
}

/// Wakes `wake`'s waiters on every NOTIFY other instances send after their appends,
/// until `stop` turns true; a lost connection is made again after 2 s (a missed
/// NOTIFY only delays the waiters until their polling).
pub fn listen(pool: PgPool, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let again = Duration::from_secs(2);
        while !*stop.borrow() {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(_) => {
                    pause(&mut stop, again).await;
                    continue;
                }
            };
            if listener.listen(NOTIFY_CHANNEL).await.is_err() {
                // As after a failed connect: not a new connection in a tight loop.
                pause(&mut stop, again).await;
                continue;
            }
            loop {
                tokio::select! {
                    n = listener.recv() => match n {
                        Ok(_) => wake.notify_waiters(),
                        Err(_) => break,
                    },
                    _ = stop.changed() => return,
                }
            }
        }
    })
}

/// Waits `d`, or less if `stop` changes.
async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}
