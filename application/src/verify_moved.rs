//! What a ledger in use explains. `ledger verify` folds the events up to a projection's
//! checkpoint and compares the fold with the view; while the service runs, the
//! projector may apply later events meanwhile. A difference is explained only by an
//! event of the row's own stream after that checkpoint: a view row changed by hand
//! (its version raised with it), one no event made, or one an event removed from the
//! store's end had moved is a finding however busy the ledger is.

use crate::ports::readmodel::{Projection, ProjectionStore};
use crate::ports::store::{EventStore, FeedCursor, RecordedEvent, StreamQuery};
use crate::queries::QueryError;
use crate::verify::Finding;
use crate::verify_models::checkpoint;

const PAGE: usize = 1_000;

/// What could explain a difference, once the projection has moved past the checkpoint
/// the fold stopped at.
pub(crate) enum Explained {
    /// Nothing: a projection never deletes a row, nor moves one back.
    Never,
    /// An event of the finding's stream after the checkpoint.
    IfStreamMoved,
}

/// Keeps the differences `found` that nothing since the checkpoint `until` explains.
pub(crate) async fn keep_unexplained(
    (store, checkpoints): (&dyn EventStore, &dyn ProjectionStore),
    until: FeedCursor,
    found: Vec<(Finding, Explained)>,
    findings: &mut Vec<Finding>,
) -> Result<(), QueryError> {
    if found.is_empty() {
        return Ok(());
    }
    let moved = checkpoint(checkpoints, Projection::CurrentState).await? != until;
    for (f, explained) in found {
        let skip = match (moved, explained, &f.stream_id) {
            (true, Explained::IfStreamMoved, Some(stream)) => stream_events(store, stream)
                .await?
                .iter()
                .any(|e| e.cursor > until),
            _ => false,
        };
        if !skip {
            findings.push(f);
        }
    }
    Ok(())
}

/// Every event of a stream, in order.
pub(crate) async fn stream_events(
    store: &dyn EventStore,
    stream_id: &str,
) -> Result<Vec<RecordedEvent>, QueryError> {
    let mut events = Vec::new();
    loop {
        let page = store
            .read_stream(StreamQuery {
                stream_id,
                after_version: events.last().map_or(0, |e: &RecordedEvent| e.version),
                until: None,
                limit: PAGE,
            })
            .await?;
        let full = page.len() == PAGE;
        events.extend(page);
        if !full {
            return Ok(events);
        }
    }
}
