//! Group commit: appends that arrive while earlier ones are being written are put
//! together into one statement, and so share one commit (one WAL flush, one NOTIFY).
//!
//! Every append keeps its own optimistic concurrency: each row is guarded by its
//! stream's expected version and the `(stream_id, version)` key. The grouped statement
//! is all-or-nothing: when any append in it would fail (stale or ahead version, stored
//! idempotency key, a deadlock with another instance), the database raises, nothing of
//! the group is written, and the writer runs each append of the group on its own, so
//! each gets exactly the answer it would have had alone. An answer is sent only after
//! the statement that holds its events has committed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ledger_application::ports::store::{AppendError, AppendRequest};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::grouped::write_grouped;
use super::lane::{no_answer, Lane, ANSWER_DEADLINE};
use super::Announce;
use crate::errors::{commit_error, is_unavailable};

/// How appends are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitConfig {
    /// Groups written at the same time (each writer keeps one connection).
    pub writers: usize,
    /// The most events one group carries.
    pub max_events: usize,
    /// With several writers, while every other one is busy, how many times a writer
    /// yields to the runtime for more appends to join its group before sending it
    /// (0: send at once). Never applies with one writer, or while another writer is
    /// idle, so a lone command is not delayed.
    pub gather_yields: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        // Measured on a 2-core machine (BENCHMARKS.md): one writer that sends what has
        // queued while its previous group committed makes the largest groups (fewest
        // commits) at the lowest latency; more writers make smaller groups, and
        // yielding to gather delays every group.
        Self {
            writers: 1,
            max_events: 1000,
            gather_yields: 0,
        }
    }
}

struct Job {
    request: AppendRequest,
    reply: oneshot::Sender<Result<(), AppendError>>,
}

/// The handle appends are sent through.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writers on the current Tokio runtime; they end when every handle is
    /// dropped.
    pub(crate) fn spawn(pool: PgPool, announce: Announce, config: GroupCommitConfig) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        let shared = Arc::new(Writers {
            queue: Mutex::new(rx),
            writing: AtomicUsize::new(0),
            config,
        });
        for _ in 0..config.writers.max(1) {
            tokio::spawn(writer(shared.clone(), pool.clone(), announce.clone()));
        }
        Self { jobs }
    }

    /// Appends through a group; `Err(request)` when the writers are gone.
    pub(crate) async fn append(
        &self,
        request: AppendRequest,
    ) -> Result<Result<(), AppendError>, AppendRequest> {
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) = self.jobs.send(Job { request, reply }).await {
            return Err(job.request);
        }
        Ok(answer.await.unwrap_or_else(|_| {
            // The writer was stopped (runtime shutdown) while the group was in flight:
            // whether it committed is unknown, exactly as with a lost connection.
            Err(AppendError::OutcomeUnknown(
                "the writer stopped while the append was in flight".into(),
            ))
        }))
    }
}

/// What the writers share: the queue (one writer at a time gathers from it) and how
/// many are writing.
struct Writers {
    queue: Mutex<mpsc::Receiver<Job>>,
    writing: AtomicUsize,
    config: GroupCommitConfig,
}

fn events_of(request: &AppendRequest) -> usize {
    request.streams.iter().map(|w| w.events.len()).sum()
}

/// One writer: gathers a group while holding the queue, lets go of it, writes the
/// group, and comes back for the next. A writer that finishes gathers again at once,
/// with no task in between.
async fn writer(shared: Arc<Writers>, pool: PgPool, announce: Announce) {
    let config = shared.config;
    let others = config.writers.max(1) - 1;
    let mut lane = Lane::new(pool, config.writers.max(1));
    loop {
        let group = {
            let mut queue = shared.queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut events = events_of(&first.request);
            let mut group = vec![first];
            let mut yields = 0;
            while events < config.max_events {
                match queue.try_recv() {
                    Ok(job) => {
                        events += events_of(&job.request);
                        group.push(job);
                    }
                    // Every other writer is busy, so this group would wait for a commit
                    // anyway: let the handlers that are about to append join it.
                    Err(_)
                        if yields < config.gather_yields
                            && others > 0
                            && shared.writing.load(Ordering::Acquire) >= others =>
                    {
                        yields += 1;
                        tokio::task::yield_now().await;
                    }
                    Err(_) => break,
                }
            }
            shared.writing.fetch_add(1, Ordering::AcqRel);
            group
        };
        write_group(&mut lane, &announce, group).await;
        lane.after_group();
        shared.writing.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether an append is one statement when written alone: one stream, no idempotency
/// record. Anything larger alone would be a transaction of a statement per stream and
/// per key (an atomic batch of 50 transfers: 150 round trips); it goes through the
/// grouped statement instead, one round trip, and alone only if that is refused.
fn one_statement(request: &AppendRequest) -> bool {
    request.idempotency.is_empty()
        && request
            .streams
            .iter()
            .filter(|w| !w.events.is_empty())
            .count()
            <= 1
}

async fn write_group(lane: &mut Lane, announce: &Announce, group: Vec<Job>) {
    if group.len() == 1 && one_statement(&group[0].request) {
        for job in group {
            let _ = job
                .reply
                .send(lane.write_alone(job.request, announce).await);
        }
        return;
    }
    let conn = match lane.conn().await {
        Ok(conn) => conn,
        Err(e) => {
            // No connection (the database is down, or refuses ours): nothing was sent,
            // and trying each append on its own would only try to connect again.
            let message = e.to_string();
            for job in group {
                let _ = job
                    .reply
                    .send(Err(AppendError::Unavailable(message.clone())));
            }
            return;
        }
    };
    let requests: Vec<&AppendRequest> = group.iter().map(|j| &j.request).collect();
    let written = tokio::time::timeout(ANSWER_DEADLINE, write_grouped(conn, &requests)).await;
    let Ok(written) = written else {
        lane.discard();
        for job in group {
            let _ = job.reply.send(Err(no_answer()));
        }
        return;
    };
    match written {
        Ok(()) => {
            announce.committed();
            for job in group {
                let _ = job.reply.send(Ok(()));
            }
        }
        Err(e) if matches!(e, sqlx::Error::Database(_)) && !is_unavailable(&e) => {
            // The statement failed as a whole and wrote nothing, on a session that goes
            // on (one the server ended is unavailable): each on its own.
            for job in group {
                let _ = job
                    .reply
                    .send(lane.write_alone(job.request, announce).await);
            }
        }
        Err(e) => {
            // The database refused the statement for want of resources (nothing was
            // written), or an outcome that cannot be known: never retried blindly (a
            // retry could apply a committed command twice).
            lane.discard();
            let failure = commit_error(e, None, 0);
            for job in group {
                let _ = job.reply.send(Err(failure.clone()));
            }
        }
    }
}
