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
use std::time::{Duration, Instant};

use ledger_application::ports::store::{AppendError, AppendRequest, StreamWrite};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::append::EventColumns;
use crate::errors::{ends_session, is_unavailable};
use crate::store::PgEventStore;
use crate::PING_AFTER_IDLE;

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
    pub(crate) fn spawn(direct: PgEventStore, config: GroupCommitConfig) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        let shared = Arc::new(Writers {
            queue: Mutex::new(rx),
            writing: AtomicUsize::new(0),
            config,
        });
        for _ in 0..config.writers.max(1) {
            tokio::spawn(writer(shared.clone(), direct.clone()));
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
            Err(AppendError::Unavailable(
                "the append's outcome is unknown: the writer stopped".into(),
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
async fn writer(shared: Arc<Writers>, direct: PgEventStore) {
    let config = shared.config;
    let others = config.writers.max(1) - 1;
    let mut lane = Lane::new(direct.pool().clone(), config.writers.max(1));
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
        write_group(&direct, &mut lane, group).await;
        lane.after_group();
        shared.writing.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A writer's own connection. Its server process stays warm (cached plans, catalog
/// caches, CPU caches) instead of the pool handing out its least recently used
/// connection for every group. Like a pooled one, it is pinged before use after a
/// second idle, replaced after an error that may have broken it, and given back to the
/// pool after `LANE_LIFETIME` (so the pool's own age limit still applies). Kept
/// between groups only when the pool has room for two more connections besides the
/// writers' (queries, projectors); otherwise given back after each group.
struct Lane {
    pool: PgPool,
    conn: Option<PoolConnection<Postgres>>,
    keep: bool,
    /// When the connection was taken from the pool, and last used.
    taken: Instant,
    used: Instant,
}

/// How long a writer keeps one connection before taking a fresh one from the pool.
const LANE_LIFETIME: Duration = Duration::from_secs(600);

impl Lane {
    /// A lane of one of `writers` writers on `pool`.
    fn new(pool: PgPool, writers: usize) -> Self {
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
    fn after_group(&mut self) {
        if !self.keep {
            self.conn = None;
        }
    }

    async fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
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
    async fn append_one(&mut self, direct: &PgEventStore, request: AppendRequest) -> Reply {
        let conn = match self.conn().await {
            Ok(conn) => conn,
            Err(e) => return Err(AppendError::Unavailable(e.to_string())),
        };
        let result = direct.append_on(conn, request).await;
        if matches!(
            result,
            Err(AppendError::Unavailable(_) | AppendError::Failed(_))
        ) {
            self.conn = None;
        }
        result
    }
}

type Reply = Result<(), AppendError>;

async fn write_group(direct: &PgEventStore, lane: &mut Lane, group: Vec<Job>) {
    if group.len() == 1 {
        for job in group {
            let _ = job.reply.send(lane.append_one(direct, job.request).await);
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
    match insert_group(conn, &requests).await {
        Ok(()) => {
            direct.announce();
            for job in group {
                let _ = job.reply.send(Ok(()));
            }
        }
        Err(e) if matches!(e, sqlx::Error::Database(_)) && !is_unavailable(&e) => {
            // The statement failed as a whole and wrote nothing: each on its own (on a
            // new connection if the server ended this one's session).
            if ends_session(&e) {
                lane.conn = None;
            }
            for job in group {
                let _ = job.reply.send(lane.append_one(direct, job.request).await);
            }
        }
        Err(e) => {
            // Unreachable database, or an outcome that cannot be known: never retried
            // blindly (a retry could apply a committed command twice).
            lane.conn = None;
            let message = e.to_string();
            let unavailable = is_unavailable(&e);
            for job in group {
                let _ = job.reply.send(Err(if unavailable {
                    AppendError::Unavailable(message.clone())
                } else {
                    AppendError::Failed(message.clone())
                }));
            }
        }
    }
}

/// The version guard is a scalar subquery on purpose: an `EXISTS` here may be planned
/// as a hashed subplan that scans the whole events table on every group.
const GROUP_INSERT: &str = "WITH keys AS ( \
        INSERT INTO idempotency_keys (key, fingerprint, outcome) \
        SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) \
        ON CONFLICT (key) DO NOTHING RETURNING 1), \
     ins AS ( \
        INSERT INTO events (stream_id, stream_type, version, event_id, event_type, \
            schema_version, data, metadata, recorded_at) \
        SELECT t.stream_id, t.stream_type, t.version, t.event_id, t.event_type, \
            t.schema_version, t.data::json, t.metadata::jsonb, t.recorded_at \
        FROM UNNEST($4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::uuid[], \
                    $9::text[], $10::int[], $11::text[], $12::text[], $13::timestamptz[]) \
             WITH ORDINALITY AS t(stream_id, stream_type, expected, version, event_id, \
                 event_type, schema_version, data, metadata, recorded_at, ord) \
        WHERE t.expected = 0 OR (SELECT true FROM events e \
            WHERE e.stream_id = t.stream_id AND e.version = t.expected) \
        ORDER BY t.ord \
        RETURNING 1) \
     SELECT ledger_batch_check((SELECT count(*) FROM keys) = $14 \
                               AND (SELECT count(*) FROM ins) = $15)::text";

/// One statement, one commit: every row of every request, or nothing.
async fn insert_group(
    conn: &mut PgConnection,
    requests: &[&AppendRequest],
) -> Result<(), sqlx::Error> {
    // Keys and streams in one order, so two instances' groups wait for each other
    // instead of deadlocking.
    let mut records: Vec<_> = requests.iter().flat_map(|r| &r.idempotency).collect();
    records.sort_by(|a, b| a.key.cmp(&b.key));
    let mut writes: Vec<&StreamWrite> = requests
        .iter()
        .flat_map(|r| &r.streams)
        .filter(|w| !w.events.is_empty())
        .collect();
    writes.sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
    let rows = EventColumns::of(&writes);
    let n = rows.ids.len();
    sqlx::query(GROUP_INSERT)
        .bind(records.iter().map(|r| r.key.as_str()).collect::<Vec<_>>())
        .bind(
            records
                .iter()
                .map(|r| r.fingerprint.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.outcome.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(&rows.stream_ids)
        .bind(&rows.stream_types)
        .bind(&rows.expected)
        .bind(&rows.versions)
        .bind(&rows.ids)
        .bind(&rows.types)
        .bind(&rows.schemas)
        .bind(&rows.data)
        .bind(&rows.metadata)
        .bind(&rows.times)
        .bind(records.len() as i64)
        .bind(n as i64)
        .execute(conn)
        .await?;
    Ok(())
}
