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
    /// An event of the finding's stream after the checkpoint, looked for after
    /// `after_version` (the fold's version of the stream: an account's stream is read
    /// from there, not from its start).
    IfStreamMoved { after_version: u64 },
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
            (true, Explained::IfStreamMoved { after_version }, Some(stream)) => {
                moved_past(store, stream, after_version, until).await?
            }
            _ => false,
        };
        if !skip {
            findings.push(f);
        }
    }
    Ok(())
}

/// Whether `stream` has an event after `after_version` that is past `until`.
async fn moved_past(
    store: &dyn EventStore,
    stream_id: &str,
    mut after_version: u64,
    until: FeedCursor,
) -> Result<bool, QueryError> {
    loop {
        let page = store
            .read_stream(StreamQuery {
                stream_id,
                after_version,
                until: None,
                limit: PAGE,
            })
            .await?;
        if page.iter().any(|e| e.cursor > until) {
            return Ok(true);
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after_version = last.version,
            _ => return Ok(false),
        }
    }
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

#[cfg(test)]
#[path = "verify_moved_tests.rs"]
mod tests;
