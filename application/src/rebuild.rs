//! Rebuilding projections: from the first event into fresh tables that replace the
//! live ones at once, one projection or several in one pass over the feed.

use crate::decode::FeedDecodeError;
use crate::ports::readmodel::{Generation, Projection, RebuildClaim};
use crate::ports::store::{FeedCursor, StoreError};
use crate::projection::{ProjectionError, ProjectionRunner};
use crate::rebuild_read::{read_ahead, Pages};

/// A rebuild that has its claim (exclusive across instances) and its fresh tables; run
/// it with [`ProjectionRunner::run_rebuild`]. The claim is released when it ends.
#[derive(Debug)]
pub struct StartedRebuild {
    projections: Vec<Projection>,
    claim: RebuildClaim,
}

impl StartedRebuild {
    /// The projections it rebuilds.
    pub fn projections(&self) -> &[Projection] {
        &self.projections
    }
}

impl ProjectionRunner {
    /// Claims the right to rebuild (one rebuild at a time across every instance on the
    /// store) and starts fresh tables for `projections` (their state is `rebuilding`
    /// from here on, in the store). `None`, starting nothing, while another rebuild
    /// runs anywhere.
    pub async fn begin_rebuild(
        &self,
        projections: &[Projection],
    ) -> Result<Option<StartedRebuild>, ProjectionError> {
        let claim = match self.target.claim_rebuild().await {
            Ok(Some(claim)) => claim,
            Ok(None) => return Ok(None),
            Err(e) => return Err(ProjectionError::Unavailable(e.to_string())),
        };
        for p in projections {
            if let Err(e) = self.target.start_rebuild(*p).await {
                // Nothing is marked: the live view it would have replaced goes on.
                return Err(match self.read_model_error(e) {
                    Ok(t) => t,
                    Err(reason) => ProjectionError::Failed {
                        projection: p.to_string(),
                        reason,
                    },
                });
            }
        }
        Ok(Some(StartedRebuild {
            projections: projections.to_vec(),
            claim,
        }))
    }

    /// Rebuilds `projections` in one pass ([`Self::begin_rebuild`], then
    /// [`Self::run_rebuild`]); [`ProjectionError::Busy`] while another rebuild runs.
    pub async fn rebuild_many(
        &self,
        projections: &[Projection],
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<usize, ProjectionError> {
        match self.begin_rebuild(projections).await? {
            Some(started) => self.run_rebuild(started, progress).await,
            None => Err(ProjectionError::Busy),
        }
    }

    /// Rebuilds a projection from the first event into fresh tables, then replaces the
    /// live ones at once; readers see the previous data until then. `progress` gets the
    /// number of events read so far. Returns the events read.
    pub async fn rebuild(
        &self,
        projection: Projection,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<usize, ProjectionError> {
        self.rebuild_many(&[projection], progress).await
    }

    /// Catches a rebuild up with the feed and swaps it in (again if it fell behind,
    /// or if the live tables got ahead of it meanwhile), once it holds every event
    /// committed before it began (`committed`, which the feed may still hide), or at
    /// `deadline` without them: the live view then takes them once the feed shows them.
    async fn finish(
        &self,
        projection: Projection,
        (committed, deadline): (FeedCursor, std::time::Instant),
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<usize, ProjectionError> {
        // Refusals in a row with nothing new caught up: the live runner saw events this
        // read did not yet (a transaction just became visible); after this many, the
        // live checkpoint is taken to be ahead of the feed itself.
        const MAX_IDLE_REFUSALS: u32 = 500;
        let mut idle_refusals = 0;
        let mut total = 0;
        let waits_from = std::time::Instant::now();
        let (mut told_waiting, mut warned) = (false, false);
        loop {
            let caught_up = self
                .catch_up_generation(projection, Generation::Rebuild, progress)
                .await?;
            total += caught_up;
            if caught_up > 0 {
                idle_refusals = 0;
            } else if idle_refusals > 0 {
                if idle_refusals >= MAX_IDLE_REFUSALS {
                    return Err(ProjectionError::Unavailable(format!(
                        "the rebuild of {projection} cannot reach the live checkpoint: \
                         it is ahead of the feed"
                    )));
                }
                // A runtime-independent timer: `application` brings no runtime.
                futures_timer::Delay::new(std::time::Duration::from_millis(10)).await;
            }
            let from = self
                .target
                .checkpoint(projection, Generation::Rebuild)
                .await
                .map_err(|e| ProjectionError::Unavailable(e.to_string()))?;
            // A swap now would put tables in that lack events the caller saw
            // committed: with the CLI alone, until the service next runs.
            let hidden = from < committed;
            if hidden && std::time::Instant::now() < deadline {
                // Said once the wait is longer than a busy server's usual moment.
                if !told_waiting && waits_from.elapsed() >= std::time::Duration::from_secs(1) {
                    tracing::info!(%projection, "the rebuild waits for events committed before it began: a transaction still running on the database server hides them from the feed");
                    told_waiting = true;
                }
                futures_timer::Delay::new(std::time::Duration::from_millis(10)).await;
                continue;
            }
            if hidden && !warned {
                tracing::warn!(%projection, "the rebuild is swapped in without events committed before it began: a transaction that has written and is still running on the database server (pg_stat_activity where backend_xid is set, or pg_prepared_xacts) hides them from the feed; the live view takes them once it ends");
                warned = true;
            }
            match self.target.finish_rebuild(projection, from).await {
                Ok(true) => return Ok(total),
                Ok(false) => idle_refusals += u32::from(caught_up == 0),
                Err(e) => return Err(ProjectionError::Unavailable(e.to_string())),
            }
        }
    }

    /// Runs a started rebuild: one pass over the feed, each page read and decoded once
    /// and applied to every rebuild at the same time, each with its own checkpoint. A
    /// projection that cannot apply an event is marked failed and left out (and its
    /// failure is the error returned); the others go on and are swapped in. Returns the
    /// events read. The claim is held until this ends.
    pub async fn run_rebuild(
        &self,
        started: StartedRebuild,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<usize, ProjectionError> {
        let StartedRebuild { projections, claim } = started;
        let outcome = self.run_claimed(&projections, progress).await;
        // Released before answering, however it ended: a rebuild asked for right
        // after this one must find the claim free.
        claim.release().await;
        outcome
    }

    async fn run_claimed(
        &self,
        projections: &[Projection],
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<usize, ProjectionError> {
        // One wait for every projection of the pass.
        let committed = (
            self.store.committed_end().await?,
            std::time::Instant::now() + self.committed_wait,
        );
        // The pages are read and decoded ahead while the one before them is applied.
        let (pages, read_ahead) = read_ahead(
            self.store.clone(),
            FeedCursor::START,
            self.rebuild_batch,
            self.spawner.as_ref(),
        );
        let (_, pass) =
            futures_util::future::join(read_ahead, self.apply_pages(projections, pages, progress))
                .await;
        let Pass {
            total,
            failed_here,
            mut first_error,
        } = pass?;
        // Every other one is swapped in (which also makes it live again, as a rebuild
        // after a fix should), even if another failed or its finish fails. Each one
        // catches up with the same events the pass did not read yet: counted once.
        let mut caught_up = 0;
        for p in projections {
            if failed_here.contains(p) {
                continue;
            }
            match self.finish(*p, committed, &|_| {}).await {
                Ok(n) => caught_up = caught_up.max(n),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(total + caught_up),
        }
    }

    /// Applies each page to every rebuild still going, in feed order.
    async fn apply_pages(
        &self,
        projections: &[Projection],
        mut pages: Pages,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Pass, ProjectionError> {
        let mut going: Vec<Projection> = projections.to_vec();
        let mut pass = Pass::default();
        let mut from = FeedCursor::START;
        while !going.is_empty() {
            let page = pages.recv().await.unwrap_or_else(|| {
                Err(FeedDecodeError::Store(StoreError::Unavailable(
                    "the rebuild's read-ahead ended without an answer".into(),
                )))
            });
            let (batch, next) = match page {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(FeedDecodeError::Store(e)) => return Err(e.into()),
                Err(e) => {
                    for p in &going {
                        self.fail(*p, (Generation::Rebuild, from), e.to_string())
                            .await;
                    }
                    return Err(ProjectionError::Failed {
                        projection: going
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        reason: e.to_string(),
                    });
                }
            };
            let applied = futures_util::future::join_all(going.iter().map(|p| {
                self.target
                    .apply_batch(*p, Generation::Rebuild, from, &batch, next)
            }))
            .await;
            let mut still = Vec::with_capacity(going.len());
            for (p, outcome) in going.iter().zip(applied) {
                match outcome {
                    Ok(true) => still.push(*p),
                    // Someone else moved this rebuild on: it finishes on its own below.
                    Ok(false) => {}
                    Err(e) => match self.read_model_error(e) {
                        Ok(transient) => return Err(transient),
                        Err(reason) => {
                            let at = (Generation::Rebuild, from);
                            let failure = self.fail(*p, at, reason).await;
                            pass.first_error.get_or_insert(failure);
                            pass.failed_here.push(*p);
                        }
                    },
                }
            }
            going = still;
            pass.total += batch.len();
            from = next;
            progress(pass.total);
        }
        Ok(pass)
    }
}

/// What one pass over the feed did.
#[derive(Default)]
struct Pass {
    /// Events read.
    total: usize,
    /// Those that met an event they cannot apply during this rebuild.
    failed_here: Vec<Projection>,
    first_error: Option<ProjectionError>,
}
