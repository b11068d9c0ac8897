//! The command pipeline: every account command is queued on its stream and decided
//! there. Commands on one account that queue up while an append for it is in flight are
//! decided together, in arrival order, against the state each previous one left (each
//! checked against its own `If-Match` at its turn), and written in one append with one
//! expected version.
//!
//! Each command keeps its own events, metadata (actor, request, causation), reply (the
//! state right after its own events) and idempotency record; a refused command writes
//! nothing but its refusal record. The batch runs in a spawned task under the stream's
//! lock, so a caller that goes away (a closed connection, a timeout) never leaves the
//! others without an answer, and transfers on the account still wait for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ledger_domain::{fold, AccountCommand, AccountId, Aggregate, Versioned};
use tokio::sync::oneshot;

use crate::account_batch::{AccountBatch, Decided};
use crate::commands::{new_events, AccountReply, Chain, CommandContext, CommandError};
use crate::idempotency::{replay, scoped_key};
use crate::locks::StreamLocks;
use crate::ports::store::{EventMetadata, EventStore, NewEvent, StreamWrite};
use crate::ports::system::Spawner;
use crate::ports::system::{Clock, IdGenerator};
use crate::repository::Repository;
use crate::write::Written;

/// The most commands decided into one append.
const MAX_BATCH: usize = 64;

/// Commands that may wait on one account; past it a command is refused as unavailable
/// (503, nothing written), and its client retries.
const MAX_WAITING: usize = 10_000;

type Reply = Result<AccountReply, CommandError>;

/// A command waiting for its stream.
pub(crate) struct Queued {
    pub(crate) command: AccountCommand,
    pub(crate) ctx: CommandContext,
    pub(crate) fp: String,
    pub(crate) causation: String,
    reply: oneshot::Sender<Reply>,
}

/// What every command needs to decide and write (the stores, the clock, ids, per-stream
/// locks, the retry bound and the spawner), and the queues of commands per stream: a
/// stream has a queue while a task drains it.
pub(crate) struct Pipeline {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) repo: Arc<Repository>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) locks: Arc<StreamLocks>,
    pub(crate) max_attempts: u32,
    pub(crate) spawner: Arc<dyn Spawner>,
    queues: Mutex<HashMap<String, Vec<Queued>>>,
}

impl Pipeline {
    pub(crate) fn new(
        store: Arc<dyn EventStore>,
        repo: Arc<Repository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        spawner: Arc<dyn Spawner>,
        max_attempts: u32,
    ) -> Self {
        Self {
            store,
            repo,
            clock,
            ids,
            locks: Arc::new(StreamLocks::new(1024)),
            max_attempts: max_attempts.max(1),
            spawner,
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// A write's two times, from one clock reading in microseconds (what every store
    /// keeps of a time, so a read-back time equals the written one), read once per
    /// decided write: the time it is decided at (the clock's: expiries, `expires_at`),
    /// and the `recorded_at` all its events carry, the same but never earlier than the
    /// last event of a stream the write touches (`heads`: their `head_at`). A clock
    /// stepped back, or another instance's clock behind this one's, therefore never
    /// puts a stream's events out of time order, nor a transfer's two legs on two sides
    /// of an instant (`?as_of=` reads each stream up to its first event after it); and
    /// a time a fast clock left on a stream never makes a transfer expire early.
    pub(crate) fn times(
        &self,
        heads: impl IntoIterator<Item = Option<DateTime<Utc>>>,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let now = chrono::SubsecRound::trunc_subsecs(self.clock.now(), 6);
        (now, heads.into_iter().flatten().fold(now, DateTime::max))
    }

    /// `now` after `events`: the state folded, and the events encoded with fresh ids
    /// and the write's time `at`, chained after `now.head`.
    pub(crate) fn advance<A: Aggregate>(
        &self,
        stream_id: &str,
        now: &Versioned<A>,
        events: &[A::Event],
        meta: &EventMetadata,
        at: DateTime<Utc>,
    ) -> (Versioned<A>, Vec<NewEvent>) {
        let mut head = now.head;
        let chain = Chain {
            stream_id,
            before: now.version,
            head: &mut head,
        };
        let new = new_events::<A>(self.ids.as_ref(), chain, events, meta, at);
        let next = Versioned {
            state: fold(now.state.clone(), events),
            version: now.version + events.len() as u64,
            head,
            head_at: if events.is_empty() {
                now.head_at
            } else {
                Some(at)
            },
        };
        (next, new)
    }

    /// One stream's part of a write.
    pub(crate) fn stream_write<A: Aggregate>(
        stream_id: &str,
        expected_version: u64,
        events: Vec<NewEvent>,
    ) -> StreamWrite {
        StreamWrite {
            stream_id: stream_id.to_owned(),
            stream_type: A::STREAM_TYPE.to_owned(),
            expected_version,
            events,
        }
    }

    /// Queues the command and waits for its outcome.
    pub(crate) async fn submit(
        self: &Arc<Self>,
        id: AccountId,
        command: AccountCommand,
        ctx: &CommandContext,
        fp: String,
    ) -> Reply {
        let (reply, answer) = oneshot::channel();
        let job = Queued {
            command,
            ctx: ctx.clone(),
            fp,
            causation: self.ids.new_id().to_string(),
            reply,
        };
        let stream = id.as_str().to_owned();
        let start = {
            let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            match queues.get_mut(&stream) {
                // Each waiting command holds a request, or one its client gave up on
                // (past its time bound it is still run): a flood on one account must
                // not grow the queue without end.
                Some(waiting) if waiting.len() >= MAX_WAITING => {
                    return Err(CommandError::Unavailable(format!(
                        "{MAX_WAITING} commands are already waiting on this account; retry later"
                    )));
                }
                Some(waiting) => {
                    waiting.push(job);
                    false
                }
                None => {
                    queues.insert(stream.clone(), vec![job]);
                    true
                }
            }
        };
        if start {
            let me = self.clone();
            self.spawner
                .spawn(Box::pin(async move { me.drain(&stream).await }));
        }
        answer.await.unwrap_or_else(|_| {
            Err(CommandError::OutcomeUnknown(
                "the server is stopping while the command is carried out".into(),
            ))
        })
    }

    /// Runs the stream's queue until it is empty, one batch per turn of its lock.
    async fn drain(&self, stream: &str) {
        // Should this task die (a panic), the queue must not stay behind it: waiting
        // commands are answered and later ones start a new drainer.
        let guard = AbandonGuard {
            pipeline: self,
            stream,
        };
        loop {
            let _serialized = self.locks.lock(&[stream]).await;
            let jobs = {
                let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
                match queues.get_mut(stream) {
                    Some(waiting) if !waiting.is_empty() => {
                        let n = waiting.len().min(MAX_BATCH);
                        waiting.drain(..n).collect::<Vec<_>>()
                    }
                    _ => {
                        // Removed under the same lock a new command would queue under:
                        // a later command finds no queue and starts a new drainer.
                        queues.remove(stream);
                        Vec::new()
                    }
                }
            };
            if jobs.is_empty() {
                std::mem::forget(guard);
                return;
            }
            self.run(stream, jobs).await;
        }
    }

    /// Decides and appends one batch, retrying it on a version conflict. A command
    /// whose idempotency key repeats one earlier in the batch (a client retrying before
    /// its first try was answered) waits for the next turn, where it finds the first
    /// outcome stored.
    async fn run(&self, stream: &str, jobs: Vec<Queued>) {
        let mut seen = std::collections::HashSet::new();
        let (jobs, later): (Vec<Queued>, Vec<Queued>) = jobs.into_iter().partition(|j| {
            j.ctx
                .idempotency_key
                .as_ref()
                .is_none_or(|k| seen.insert(scoped_key(&j.ctx.principal.actor, k)))
        });
        self.run_distinct(stream, jobs).await;
        if !later.is_empty() {
            Box::pin(self.run(stream, later)).await;
        }
    }

    async fn run_distinct(&self, stream: &str, jobs: Vec<Queued>) {
        let batch = AccountBatch {
            stream,
            jobs: &jobs,
            // A precondition is checked against the store, never a possibly stale cache.
            fresh: jobs.iter().any(|j| j.ctx.if_match.is_some()),
        };
        match self.write(&batch).await {
            Written::Done(decided) => answer(jobs, decided),
            Written::KeyTaken(_) if jobs.len() > 1 => {
                // One key is already stored: each command on its own, to give each its
                // own answer.
                for job in jobs {
                    Box::pin(self.run_distinct(stream, vec![job])).await;
                }
            }
            Written::KeyTaken(stored) => answer_each(jobs, |job| replay(&stored, &job.fp)),
            Written::Failed(e) => answer_all(jobs, e),
        }
    }
}

/// Answers and removes a stream's queue if its drainer dies without emptying it.
struct AbandonGuard<'a> {
    pipeline: &'a Pipeline,
    stream: &'a str,
}

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        let waiting = {
            let mut queues = self
                .pipeline
                .queues
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            queues.remove(self.stream).unwrap_or_default()
        };
        answer_all(
            waiting,
            CommandError::Internal("the account's command queue stopped".into()),
        );
    }
}

fn answer(jobs: Vec<Queued>, decided: Vec<Decided>) {
    for (job, d) in jobs.into_iter().zip(decided) {
        let _ = job.reply.send(match d {
            Decided::Applied(reply) => Ok(reply),
            Decided::Refused(err) => Err(err),
        });
    }
}

fn answer_all(jobs: Vec<Queued>, err: CommandError) {
    answer_each(jobs, |_| Err(err.clone()));
}

fn answer_each(jobs: Vec<Queued>, outcome: impl Fn(&Queued) -> Reply) {
    for job in jobs {
        let reply = outcome(&job);
        let _ = job.reply.send(reply);
    }
}
