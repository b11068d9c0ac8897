//! Group commit on SQLite: appends of different streams arriving together share one
//! write transaction (one WAL fsync), each inside a savepoint of its own so that a
//! refused append (a version conflict, a stored idempotency key) leaves the others in.
//! Every caller is answered only after the transaction holding its events committed.
//!
//! The group is judged and written with a few statements for all (`group_rows.rs`);
//! a group that path cannot judge goes append by append, each in a savepoint.
//!
//! One writer task (started with the first append) takes everything queued, writes it,
//! and comes back for what queued meanwhile: under load each transaction carries the
//! appends of its predecessor's commit time.

use std::sync::{Arc, OnceLock};

use ledger_application::ports::store::{AppendError, AppendRequest};
use sqlx::{Connection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::errors::{append_error, commit_error};
use crate::group_rows::write_rows;
use crate::store::write_in;
use crate::WriterConnection;

/// Appends in one transaction at most (a bound on a transaction's size, not on waiting).
const MAX_GROUP: usize = 256;

struct Pending {
    request: AppendRequest,
    reply: oneshot::Sender<Result<(), AppendError>>,
}

/// The queue of the writer task.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    writer: SqlitePool,
    queue: Arc<OnceLock<mpsc::UnboundedSender<Pending>>>,
}

impl GroupCommit {
    pub(crate) fn new(writer: SqlitePool) -> Self {
        Self {
            writer,
            queue: Arc::new(OnceLock::new()),
        }
    }

    /// Appends `request` in the next group; its own outcome.
    pub(crate) async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(self.writer.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send(Pending { request, reply })
            .map_err(|_| AppendError::Unavailable("the SQLite writer has stopped".into()))?;
        answer.await.unwrap_or_else(|_| {
            // The writer task ended without an answer (the runtime is shutting down):
            // the outcome is unknown, never reported as refused.
            Err(AppendError::OutcomeUnknown(
                "the SQLite writer stopped before answering".into(),
            ))
        })
    }
}

async fn run(writer: SqlitePool, mut queue: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        write_group(&writer, group).await;
    }
}

/// One transaction for the group; each append in a savepoint; answers after the commit.
async fn write_group(writer: &SqlitePool, group: Vec<Pending>) {
    let outcomes = match written(writer, &group).await {
        Ok(outcomes) => outcomes,
        Err(e) => vec![Err(e); group.len()],
    };
    for (p, outcome) in group.into_iter().zip(outcomes) {
        // A caller that has gone away has nobody to tell.
        let _ = p.reply.send(outcome);
    }
}

async fn written(
    writer: &SqlitePool,
    group: &[Pending],
) -> Result<Vec<Result<(), AppendError>>, AppendError> {
    let fail = |e: sqlx::Error| append_error(e, "", 0);
    let requests: Vec<&AppendRequest> = group.iter().map(|p| &p.request).collect();
    let mut conn = WriterConnection::acquire(writer).await.map_err(fail)?;
    let mut tx = conn.begin().await.map_err(fail)?;
    // A few statements for the whole group, when it can judge it.
    match write_rows(&mut tx, &requests).await {
        Ok(Some(outcomes)) => {
            tx.commit().await.map_err(commit_error)?;
            conn.clean();
            return Ok(outcomes);
        }
        Ok(None) => {}
        // A unique key refused a row (another process wrote meanwhile?): start over
        // append by append, each with its own answer.
        Err(e) => {
            log::warn!("a group of appends was refused whole ({e}); writing it append by append");
            tx.rollback().await.map_err(fail)?;
            tx = conn.begin().await.map_err(fail)?;
        }
    }
    let mut outcomes = Vec::with_capacity(group.len());
    for request in requests {
        let mut savepoint = tx.begin().await.map_err(fail)?;
        match write_in(&mut savepoint, request).await {
            Ok(()) => {
                savepoint.commit().await.map_err(fail)?;
                outcomes.push(Ok(()));
            }
            Err(refused) => {
                savepoint.rollback().await.map_err(fail)?;
                outcomes.push(Err(refused));
            }
        }
    }
    tx.commit().await.map_err(commit_error)?;
    conn.clean();
    Ok(outcomes)
}
