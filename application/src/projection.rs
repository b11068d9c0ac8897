//! The projection runner: feed batch -> decode -> apply with its checkpoint, atomically;
//! rebuilds into fresh tables that replace the live ones at once; failure marking.

use std::sync::Arc;

use crate::decode::{decode_page, FeedDecodeError};
use crate::ports::readmodel::{
    Generation, ProjectedEvent, Projection, ProjectionStore, ReadModelError,
};
use crate::ports::store::{EventStore, FeedCursor, StoreError};
use crate::ports::system::Spawner;

pub use crate::projection_report::ProjectionReport;

/// Why a projection step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProjectionError {
    /// Reading the feed failed (transient: retry later).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The read-model store is unreachable (transient: retry later).
    #[error("{0}")]
    Unavailable(String),
    /// Another rebuild is running (on this instance or another): nothing was started.
    #[error("a rebuild is already running; wait for it to finish")]
    Busy,
    /// An event could not be decoded or applied: the projection is now `failed` and
    /// stays stopped (no skipping) until it is rebuilt.
    #[error("projection {projection} failed: {reason}")]
    Failed {
        /// Which projection.
        projection: String,
        /// Why.
        reason: String,
    },
}

impl ProjectionError {
    /// True for errors that go away by themselves (retry later).
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Failed { .. })
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Applied this many events.
    Applied(usize),
    /// Nothing new in the feed.
    CaughtUp,
    /// Another runner moved the checkpoint first; nothing was written.
    Lost,
}

/// Feeds projections from the global feed.
pub struct ProjectionRunner {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) target: Arc<dyn ProjectionStore>,
    pub(crate) batch: usize,
    pub(crate) rebuild_batch: usize,
    pub(crate) spawner: Option<Arc<dyn Spawner>>,
    pub(crate) committed_wait: std::time::Duration,
}

/// How long a rebuild waits, at most, for the events committed before it began to
/// become visible to the feed (unless set otherwise): one transaction left open on the
/// database server hides them all. Past it the rebuild is swapped in without them, and
/// the live view takes them once the feed shows them.
pub const COMMITTED_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Events per page of a rebuild's pass over the feed, unless set otherwise: a rebuild
/// reads from the first event on, and each page costs a handful of round trips per
/// projection whatever its size (BENCHMARKS.md).
pub const REBUILD_BATCH: usize = 5_000;

/// How many times in all one step tries a batch the read-model store refused (see
/// `ProjectionRunner::apply_tried`) before the projection is marked failed.
pub const STORE_FAILURE_TRIES: u32 = 3;

/// The pause before a batch is tried again, times the tries so far.
const STORE_FAILURE_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

impl ProjectionRunner {
    /// A runner reading `batch` events at a time (and [`REBUILD_BATCH`], or `batch` if
    /// larger, when rebuilding).
    pub fn new(store: Arc<dyn EventStore>, target: Arc<dyn ProjectionStore>, batch: usize) -> Self {
        let batch = batch.max(1);
        Self {
            store,
            target,
            batch,
            rebuild_batch: REBUILD_BATCH.max(batch),
            spawner: None,
            committed_wait: COMMITTED_WAIT,
        }
    }

    /// Runs a rebuild's reading and its decoding of the pages ahead as tasks of their
    /// own, so that they can use other cores than the applying of the current page
    /// (without a spawner the three still overlap, but on one thread).
    #[must_use]
    pub fn with_spawner(mut self, spawner: Arc<dyn Spawner>) -> Self {
        self.spawner = Some(spawner);
        self
    }

    /// Reads `n` events per page (at least one) in a rebuild's pass over the feed.
    #[must_use]
    pub fn with_rebuild_batch(mut self, n: usize) -> Self {
        self.rebuild_batch = n.max(1);
        self
    }

    /// Waits at most `wait` for the events committed before a rebuild began to become
    /// visible to its feed (see [`COMMITTED_WAIT`]).
    #[must_use]
    pub fn with_committed_wait(mut self, wait: std::time::Duration) -> Self {
        self.committed_wait = wait;
        self
    }

    /// The most events one step applies.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// The read-model store.
    pub fn target(&self) -> &Arc<dyn ProjectionStore> {
        &self.target
    }

    /// Marks `projection` failed where its step failed (its `generation` at `at`: a
    /// rebuild that swapped in meanwhile keeps it live) and returns the failure.
    pub(crate) async fn fail(
        &self,
        projection: Projection,
        (generation, at): (Generation, FeedCursor),
        reason: String,
    ) -> ProjectionError {
        // If even marking fails, the error is still returned and the runner stops.
        let _ = self
            .target
            .set_failed(projection, generation, at, &reason)
            .await;
        ProjectionError::Failed {
            projection: projection.to_string(),
            reason,
        }
    }

    /// A transient error, or the reason to record for a projection that must stop:
    /// in the API's words (`last_error` is shown to operators); a store's own message
    /// (SQL, database text) goes to the log only.
    pub(crate) fn read_model_error(&self, e: ReadModelError) -> Result<ProjectionError, String> {
        match e {
            ReadModelError::Unavailable(m) => Ok(ProjectionError::Unavailable(m)),
            ReadModelError::CannotApply(m) => Err(format!("an event cannot be applied: {m}")),
            ReadModelError::Unreadable(m) => Err(format!("a stored row cannot be read: {m}")),
            ReadModelError::Failed(cause) => {
                tracing::error!(%cause, "the read-model store failed");
                Err(
                    "the read-model store refused the batch (the cause is in the server log)"
                        .into(),
                )
            }
        }
    }

    /// Applies the next batch after the checkpoint of one generation.
    pub async fn step(
        &self,
        projection: Projection,
        generation: Generation,
    ) -> Result<Step, ProjectionError> {
        let from = match self.target.checkpoint(projection, generation).await {
            Ok(c) => c,
            Err(e) => {
                return Err(self
                    .read_model_error(e)
                    .unwrap_or_else(ProjectionError::Unavailable))
            }
        };
        let page = self.store.read_feed(from, self.batch).await?;
        if page.events.is_empty() {
            return Ok(Step::CaughtUp);
        }
        let batch = match self.decode(page.events).await {
            Ok(batch) => batch,
            Err(FeedDecodeError::Store(e)) => return Err(e.into()),
            Err(e) => {
                let at = (generation, from);
                return Err(self.fail(projection, at, e.to_string()).await);
            }
        };
        let n = batch.len();
        match self
            .apply_tried(projection, generation, from, &batch, page.next)
            .await
        {
            Ok(true) => Ok(Step::Applied(n)),
            Ok(false) => Ok(Step::Lost),
            Err(e) => match self.read_model_error(e) {
                Ok(transient) => Err(transient),
                Err(reason) => Err(self.fail(projection, (generation, from), reason).await),
            },
        }
    }

    /// Applies a batch, trying it again up to [`STORE_FAILURE_TRIES`] times in all
    /// while the store refuses it for a reason other than an outage or the batch's own
    /// events (a deadlock, a connection that lost its place in the protocol): such a
    /// refusal once marked the projection failed for good, its views frozen (and with
    /// the current state's, which hold the transfers the expirer finds due, every
    /// expiry) until an operator rebuilt it. The checkpoint guard keeps each try
    /// exactly once.
    async fn apply_tried(
        &self,
        projection: Projection,
        generation: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<bool, ReadModelError> {
        let mut tries = 1;
        loop {
            let applied = self
                .target
                .apply_batch(projection, generation, from, batch, next)
                .await;
            match applied {
                Err(ReadModelError::Failed(cause)) if tries < STORE_FAILURE_TRIES => {
                    tracing::warn!(%cause, %projection, tries, "the read-model store refused a batch; trying it again");
                    tokio::time::sleep(STORE_FAILURE_PAUSE * tries).await;
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    /// One step for several live projections at once: those at the lowest checkpoint
    /// share one feed read, one decode and (where the store can) one transaction. If
    /// that fails for a reason other than an outage, each takes its own step instead,
    /// so a projection that cannot apply an event is marked failed alone; one whose
    /// checkpoint cannot be read is passed over alone. Returns the most events one
    /// projection applied (0: all caught up).
    pub async fn step_many(&self, projections: &[Projection]) -> Result<usize, ProjectionError> {
        let mut at = Vec::with_capacity(projections.len());
        for p in projections {
            match self.target.checkpoint(*p, Generation::Live).await {
                Ok(c) => at.push((*p, c)),
                // A checkpoint that cannot be read (a row changed by hand): that
                // projection waits alone for the rebuild that replaces it, and the
                // others step on. Its status reads `failed` from the row itself; it is
                // not marked here, where the mark could land after that rebuild.
                Err(ReadModelError::Unreadable(cause)) => {
                    // Outside a rebuild it is not even tried (its status reads failed).
                    tracing::debug!(%cause, projection = %p, "a checkpoint cannot be read");
                }
                Err(e) => {
                    return Err(self
                        .read_model_error(e)
                        .unwrap_or_else(ProjectionError::Unavailable))
                }
            }
        }
        let Some(from) = at.iter().map(|(_, c)| *c).min() else {
            return Ok(0);
        };
        let group: Vec<Projection> = at
            .iter()
            .filter(|(_, c)| *c == from)
            .map(|(p, _)| *p)
            .collect();
        let page = self.store.read_feed(from, self.batch).await?;
        if page.events.is_empty() {
            return Ok(0);
        }
        let shared = match self.decode(page.events).await {
            Ok(batch) => self
                .target
                .apply_batches(&group, Generation::Live, from, &batch, page.next)
                .await
                .map(|_| batch.len()),
            Err(FeedDecodeError::Store(e)) => return Err(e.into()),
            Err(e) => Err(ReadModelError::Failed(e.to_string())),
        };
        match shared {
            Ok(n) => Ok(n),
            Err(ReadModelError::Unavailable(m)) => Err(ProjectionError::Unavailable(m)),
            Err(
                ReadModelError::Failed(_)
                | ReadModelError::CannotApply(_)
                | ReadModelError::Unreadable(_),
            ) => {
                let mut most = 0;
                for p in group {
                    match self.step(p, Generation::Live).await {
                        Ok(Step::Applied(n)) => most = most.max(n),
                        Ok(_) | Err(ProjectionError::Failed { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(most)
            }
        }
    }

    /// Decodes a page of the feed for the projections.
    pub async fn decode(
        &self,
        events: Vec<crate::ports::store::RecordedEvent>,
    ) -> Result<Vec<ProjectedEvent>, FeedDecodeError> {
        decode_page(self.store.as_ref(), events).await
    }

    /// Runs steps until the feed has nothing new; returns how many events were applied.
    pub async fn catch_up(&self, projection: Projection) -> Result<usize, ProjectionError> {
        self.catch_up_generation(projection, Generation::Live, &|_| {})
            .await
    }

    pub(crate) async fn catch_up_generation(
        &self,
        projection: Projection,
        generation: Generation,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<usize, ProjectionError> {
        let mut total = 0;
        loop {
            match self.step(projection, generation).await? {
                Step::CaughtUp => return Ok(total),
                Step::Applied(n) => {
                    total += n;
                    progress(total);
                }
                Step::Lost => {}
            }
        }
    }
}
