//! Pass 4 of `ledger verify`, continued: the transfers view against a fresh fold of the
//! transfers' events.
//!
//! As for the accounts (`verify_models.rs`): the fold takes the events up to the
//! current-state projection's checkpoint (the projection that keeps both views) as it
//! was when verification started, through the projection's own function
//! (`project_transfer`); a row the projection moved past that point meanwhile is
//! skipped, any other difference is a finding.

use std::collections::HashMap;

use ledger_domain::{Aggregate, Transfer};

use crate::ports::filters::TransferFilter;
use crate::ports::readmodel::{ProjectionStore, ReadModels};
use crate::ports::store::{EventStore, FeedCursor, RecordedEvent, StreamQuery};
use crate::queries::QueryError;
use crate::transfer_views::{project_transfer, TransferRow};
use crate::verify::{Finding, Pass};
use crate::verify_models::differences;

/// The transfers as the events up to a checkpoint give them, by transfer id.
pub(crate) struct TransfersFold {
    until: FeedCursor,
    rows: HashMap<String, TransferRow>,
}

/// Rows read from the view per query.
const VIEW_PAGE: usize = 1_000;

impl TransfersFold {
    /// A fold up to `until` (the current-state projection's checkpoint).
    pub(crate) fn until(until: FeedCursor) -> Self {
        Self {
            until,
            rows: HashMap::new(),
        }
    }

    /// Folds one event (if it is a transfer's, up to the checkpoint).
    pub(crate) fn apply(&mut self, e: &RecordedEvent, findings: &mut Vec<Finding>) {
        if e.cursor > self.until || e.stream_type != Transfer::STREAM_TYPE {
            return;
        }
        let event = match Transfer::default().decode(e.raw()) {
            Ok(event) => event,
            Err(why) => {
                findings.push(Finding {
                    pass: Pass::ReadModels,
                    stream_id: Some(e.stream_id.clone()),
                    version: Some(e.version),
                    position: Some(e.cursor.position),
                    detail: format!("the event cannot be read: {why}"),
                });
                return;
            }
        };
        let id = event.transfer_id().to_string();
        let row = self.rows.remove(&id);
        if let Some(row) = project_transfer(row, &event, e.cursor.position, e.recorded_at) {
            self.rows.insert(id, row);
        }
    }

    /// Compares the whole view with the fold, a page at a time (newest first): a
    /// differing row, one no event made and a folded transfer the view lacks are
    /// findings. Whether the projection went past the checkpoint meanwhile is asked
    /// after every row is read; if it did, a row no event made is skipped (made since),
    /// and so is a differing one whose stream has an event after the checkpoint.
    /// Returns how many transfers were folded.
    pub(crate) async fn compare(
        mut self,
        (store, models, checkpoints): (&dyn EventStore, &dyn ReadModels, &dyn ProjectionStore),
        findings: &mut Vec<Finding>,
    ) -> Result<u64, QueryError> {
        let folded = self.rows.len() as u64;
        // Each difference, and what could explain it on a ledger in use.
        let mut found: Vec<(Finding, Explained)> = Vec::new();
        let mut before = None;
        loop {
            let page = models
                .transfers(TransferFilter {
                    before,
                    limit: VIEW_PAGE,
                    ..TransferFilter::default()
                })
                .await?;
            for row in &page {
                let (detail, explained) = match self.rows.remove(&row.view.transfer_id) {
                    Some(expected) if *row == expected => continue,
                    Some(expected) => (
                        differences("transfers", row, &expected),
                        Explained::IfStreamMoved,
                    ),
                    None => (
                        "the transfers view holds a transfer no event made".to_owned(),
                        Explained::IfMoved,
                    ),
                };
                found.push((finding(&row.view.transfer_id, detail), explained));
            }
            if page.len() < VIEW_PAGE {
                break;
            }
            before = page.last().map(|r| r.created_position);
        }
        let mut missing: Vec<String> = std::mem::take(&mut self.rows).into_keys().collect();
        missing.sort();
        for id in missing {
            let detail = "the transfer is missing from the transfers view (one made before \
                the view existed appears after `ledger projections rebuild --name current_state`)"
                .to_owned();
            found.push((finding(&id, detail), Explained::Never));
        }
        let moved = crate::verify_models::checkpoint(checkpoints).await? != self.until;
        for (f, explained) in found {
            let skip = moved
                && match explained {
                    Explained::Never => false,
                    Explained::IfMoved => true,
                    Explained::IfStreamMoved => self.stream_moved(store, &f).await?,
                };
            if !skip {
                findings.push(f);
            }
        }
        Ok(folded)
    }

    /// Whether the finding's transfer stream has an event after the checkpoint.
    async fn stream_moved(&self, store: &dyn EventStore, f: &Finding) -> Result<bool, QueryError> {
        let Some(stream_id) = &f.stream_id else {
            return Ok(false);
        };
        let mut after_version = 0;
        loop {
            let page = store
                .read_stream(StreamQuery {
                    stream_id,
                    after_version,
                    until: None,
                    limit: VIEW_PAGE,
                })
                .await?;
            if page.iter().any(|e| e.cursor > self.until) {
                return Ok(true);
            }
            match page.last() {
                Some(e) if page.len() == VIEW_PAGE => after_version = e.version,
                _ => return Ok(false),
            }
        }
    }
}

/// What could explain a difference on a ledger in use, once the projection has moved
/// past the checkpoint the fold stopped at.
enum Explained {
    /// Nothing: a projection never deletes a row.
    Never,
    /// The projection moving at all (a transfer made since).
    IfMoved,
    /// An event of the transfer's stream after the checkpoint.
    IfStreamMoved,
}

fn finding(transfer_id: &str, detail: String) -> Finding {
    let stream = crate::transfers::transfer_stream_of(transfer_id);
    crate::verify_models::finding(&stream, None, detail)
}
