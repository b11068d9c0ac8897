//! Wakes other instances' projectors after commits, off the commit path.
//!
//! A NOTIFY inside the appending transaction takes a cluster-wide lock at commit, so
//! every append would wait for every other. Instead each commit marks "new events" and
//! a task sends one NOTIFY for all of them a few milliseconds later, always after the
//! commits it announces. A lost NOTIFY only delays other instances until their polling.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::store::NOTIFY_CHANNEL;

/// How long commits are gathered into one NOTIFY.
const GATHER: Duration = Duration::from_millis(5);

/// The handle commits announce themselves through.
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
                let sent = sqlx::query("SELECT pg_notify($1, '')")
                    .bind(NOTIFY_CHANNEL)
                    .execute(&pool)
                    .await;
                if let Err(e) = sent {
                    tracing::debug!(error = %e, "NOTIFY not sent; other instances poll");
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
