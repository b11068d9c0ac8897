//! Read-model ports: projection stores with checkpoints and rebuilds (the queries the
//! API answers from the read models: `read_views.rs`, re-exported here).

use async_trait::async_trait;
use ledger_domain::Currency;

use crate::decode::LedgerEvent;
use crate::ports::store::{FeedCursor, RecordedEvent};

pub use crate::ports::filters::{AccountFilter, AuditFilter, DailyFilter, TransferFilter};
pub use crate::ports::read_views::DueTransfer;
#[cfg(any(test, feature = "mocks"))]
pub use crate::ports::read_views::MockReadModels;
pub use crate::ports::read_views::ReadModels;

/// A read model fed by the feed: what each store keeps, named once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Projection {
    /// Each account's current state (`GET /accounts`, `/accounts/{id}`).
    CurrentState,
    /// Per-currency totals and per-day volumes (`/analytics/*`).
    Analytics,
    /// Every event as an audit entry (`/audit`).
    AuditLog,
}

impl Projection {
    /// Its name (in the API, the stores' checkpoint rows and the metrics).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CurrentState => "current_state",
            Self::Analytics => "analytics",
            Self::AuditLog => "audit_log",
        }
    }

    /// Reads [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        PROJECTIONS.into_iter().find(|p| p.as_str() == name)
    }
}

impl std::fmt::Display for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A background role that one instance at a time plays among those on a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lease {
    /// Running a projection.
    Projection(Projection),
    /// Recording the expiry of pending transfers.
    Expirer,
    /// Relaying the feed to NATS JetStream.
    Relay,
    /// Writing seals.
    Sealer,
}

impl Lease {
    /// Its name among the leases (a projection's is its own name).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Projection(p) => p.as_str(),
            Self::Expirer => "expirer",
            Self::Relay => "relay",
            Self::Sealer => "sealer",
        }
    }
}

/// The projections every read-model store keeps.
pub const PROJECTIONS: [Projection; 3] = [
    Projection::CurrentState,
    Projection::Analytics,
    Projection::AuditLog,
];

/// A feed event with its decoded (upcast) domain event and its account's currency.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectedEvent {
    /// As stored.
    pub recorded: RecordedEvent,
    /// As the domain reads it.
    pub event: LedgerEvent,
    /// The currency of the event's account (or transfer).
    pub currency: Option<Currency>,
}

/// Which copy of a projection's tables: the one reads are served from, or the one a
/// rebuild is filling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// Served to readers.
    Live,
    /// Being rebuilt; replaces `Live` at once when done.
    Rebuild,
}

/// A projection's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectionState {
    /// Following the feed.
    Live,
    /// A rebuild is running; reads are served from the previous data.
    Rebuilding,
    /// Stopped on an event it cannot apply.
    Failed,
}

impl ProjectionState {
    /// `live`, `rebuilding` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Rebuilding => "rebuilding",
            Self::Failed => "failed",
        }
    }

    /// Parses [`ProjectionState::as_str`].
    pub fn parse(s: &str) -> Self {
        match s {
            "rebuilding" => Self::Rebuilding,
            "failed" => Self::Failed,
            _ => Self::Live,
        }
    }
}

/// A projection's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// Its name.
    pub name: String,
    /// Its condition.
    pub state: ProjectionState,
    /// The live checkpoint.
    pub position: FeedCursor,
    /// Why it failed, if it did.
    pub last_error: Option<String>,
}

/// The right to run rebuilds, held by one rebuild at a time across every instance on a
/// store; dropping it releases it (so does the end of the process that held it), and
/// [`RebuildClaim::release`] releases it before it returns.
pub struct RebuildClaim(Box<dyn ClaimGuard>);

/// What holds a [`RebuildClaim`] in a store: dropping it releases the claim, at once or
/// soon after (a server notices a closed connection); `release` returns only once the
/// claim is free, so that the next claim, anywhere, gets it.
#[async_trait::async_trait]
pub trait ClaimGuard: Send + Sync {
    /// Releases the claim now (by default: drops the guard, which releases it at once).
    async fn release(self: Box<Self>) {}
}

impl RebuildClaim {
    /// A claim held by `guard`.
    pub fn new(guard: impl ClaimGuard + 'static) -> Self {
        Self(Box::new(guard))
    }

    /// Releases the claim; once this returns, a new claim finds it free.
    pub async fn release(self) {
        self.0.release().await;
    }
}

impl std::fmt::Debug for RebuildClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RebuildClaim")
    }
}

/// The message of a rebuild whose instance stopped before it finished.
pub const REBUILD_INTERRUPTED: &str = "the last rebuild was interrupted before it finished \
    (its instance stopped or lost its database session, or it met an error the server \
    log names, a full disk say); the view kept following the events: start the rebuild \
    again";

/// A status as stored, corrected for a rebuild nobody runs any more: with no claim held,
/// a stored `rebuilding` (left by an instance that stopped midway) reads `live` with
/// [`REBUILD_INTERRUPTED`], since the live view went on following the events.
pub fn interrupted_if_unclaimed(mut status: ProjectionStatus, claimed: bool) -> ProjectionStatus {
    if status.state == ProjectionState::Rebuilding && !claimed {
        status.state = ProjectionState::Live;
        status.last_error = Some(REBUILD_INTERRUPTED.to_owned());
    }
    status
}

/// Why a read-model operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadModelError {
    /// The store cannot be reached (transient).
    #[error("read-model store unavailable: {0}")]
    Unavailable(String),
    /// An event the read model cannot apply (the message says why, in the API's words).
    #[error("{0}")]
    CannotApply(String),
    /// Any other failure of the store (the message is for the log: it may hold SQL).
    #[error("read-model store failure: {0}")]
    Failed(String),
    /// A stored row the store cannot read: changed outside the service, or damaged
    /// (`ledger verify` reports it as a finding).
    #[error("a read-model row cannot be read: {0}")]
    Unreadable(String),
}

impl ReadModelError {
    /// An event the read model cannot apply, for this reason.
    pub fn cannot_apply(reason: impl std::fmt::Display) -> Self {
        Self::CannotApply(reason.to_string())
    }
}

/// Where projections keep their tables and checkpoints.
///
/// Adapters must: apply a batch's changes and move the checkpoint in one atomic unit,
/// and only if the checkpoint is still `from` (so two runners never count an event
/// twice); replace the live tables and checkpoint by the rebuilt ones in one atomic
/// step; keep serving reads from the live tables during a rebuild.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectionStore: Send + Sync + 'static {
    /// The checkpoint (`FeedCursor::START` when new). For `Generation::Rebuild` with no
    /// rebuild in progress, an error (so a rebuild that was finished or abandoned
    /// elsewhere ends instead of retrying forever).
    async fn checkpoint(
        &self,
        projection: Projection,
        generation: Generation,
    ) -> Result<FeedCursor, ReadModelError>;

    /// Applies a batch and moves the checkpoint from `from` to `next`, atomically.
    /// Returns `false`, writing nothing, when the checkpoint is no longer `from`.
    async fn apply_batch(
        &self,
        projection: Projection,
        generation: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<bool, ReadModelError>;

    /// Applies one batch to several projections that are all at `from`, each moving
    /// its checkpoint to `next`; returns, per projection, whether it was applied (as
    /// [`Self::apply_batch`]). A store may do it in one transaction (one commit for all).
    /// Each projection's part stays atomic with its checkpoint, so after an error a
    /// retry never applies anything twice. The default applies them one by one.
    async fn apply_batches(
        &self,
        projections: &[Projection],
        generation: Generation,
        from: FeedCursor,
        batch: &[ProjectedEvent],
        next: FeedCursor,
    ) -> Result<Vec<bool>, ReadModelError> {
        let mut applied = Vec::with_capacity(projections.len());
        for p in projections {
            applied.push(self.apply_batch(*p, generation, from, batch, next).await?);
        }
        Ok(applied)
    }

    /// Claims the right to rebuild, exclusive across every instance on this store (not
    /// only this process): `None` while another rebuild holds it. A claim whose holder
    /// died is released by the store (a session lock, a file lock), never left stuck.
    async fn claim_rebuild(&self) -> Result<Option<RebuildClaim>, ReadModelError>;

    /// Starts a rebuild: empty rebuild tables at `FeedCursor::START`, state `rebuilding`.
    /// The caller holds the [`RebuildClaim`].
    async fn start_rebuild(&self, projection: Projection) -> Result<(), ReadModelError>;

    /// Replaces the live tables and checkpoint by the rebuilt ones at once, if the
    /// rebuild checkpoint is still `from` and not behind the live one (readers never see
    /// a view go back); the state becomes `live`. `false` if not swapped.
    async fn finish_rebuild(
        &self,
        projection: Projection,
        from: FeedCursor,
    ) -> Result<bool, ReadModelError>;

    /// Marks a projection failed with the error, if its `generation`'s checkpoint is
    /// still `at` (where the failing step read it); otherwise marks nothing. A step
    /// that failed on tables a rebuild has since replaced (another instance's, whose
    /// swap moved the checkpoint) must not mark the rebuilt projection failed: a review
    /// saw an unconditional mark land right after such a swap, on PostgreSQL by waiting
    /// on the swap's row lock. (A swap that leaves the checkpoint where it was, the
    /// rebuild ending exactly where the failing step began, is not told apart.)
    async fn set_failed(
        &self,
        projection: Projection,
        generation: Generation,
        at: FeedCursor,
        error: &str,
    ) -> Result<(), ReadModelError>;

    /// Every projection's status, from the store: `rebuilding` only while a claim is
    /// held (a rebuild whose instance stopped midway reads `live`, the live view having
    /// gone on, with a `last_error` saying the rebuild was interrupted).
    async fn statuses(&self) -> Result<Vec<ProjectionStatus>, ReadModelError>;

    /// Tries to hold a lease among instances (true: this instance plays the role).
    async fn try_lead(&self, _lease: Lease) -> Result<bool, ReadModelError> {
        Ok(true)
    }

    /// The event relay's checkpoint and last error, named `relay`; `None` before it
    /// first records anything.
    async fn relay_status(&self) -> Result<Option<ProjectionStatus>, ReadModelError>;

    /// Moves the relay's checkpoint from `from` to `to` and records `error` (the last
    /// attempt's, or none); `from == to` records only the error. `false`, writing
    /// nothing, when the checkpoint is not at `from` (another relay moved it).
    async fn move_relay(
        &self,
        from: FeedCursor,
        to: FeedCursor,
        error: Option<String>,
    ) -> Result<bool, ReadModelError>;
}
