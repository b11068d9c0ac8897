//! Each projection's status with its lag behind the feed, for the admin listing, the
//! readiness probe and the metrics.

use crate::ports::readmodel::ProjectionStatus;
use crate::ports::store::FeedCursor;
use crate::projection::{ProjectionError, ProjectionRunner};

/// A projection's status with its lag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionReport {
    /// State, checkpoint and error.
    pub status: ProjectionStatus,
    /// Events in the feed after the checkpoint.
    pub lag_events: u64,
}

impl ProjectionRunner {
    /// Every projection's status and lag.
    pub async fn reports(&self) -> Result<Vec<ProjectionReport>, ProjectionError> {
        let statuses = self
            .target
            .statuses()
            .await
            .map_err(|e| ProjectionError::Unavailable(e.to_string()))?;
        let mut out = Vec::with_capacity(statuses.len());
        // The relay, once it has run anywhere on this store, is listed beside them.
        let relay = self
            .target
            .relay_status()
            .await
            .map_err(|e| ProjectionError::Unavailable(e.to_string()))?;
        for status in statuses.into_iter().chain(relay) {
            let lag_events = self.store.lag_after(status.position).await?;
            out.push(ProjectionReport { status, lag_events });
        }
        Ok(out)
    }

    /// The feed position all projections are measured against.
    pub async fn lag_of(&self, position: FeedCursor) -> Result<u64, ProjectionError> {
        Ok(self.store.count_after(position).await?)
    }
}
