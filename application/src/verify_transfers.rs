//! Pass 4 of `ledger verify`, continued: the transfers view against a fresh fold of the
//! transfers' events.
//!
//! As for the accounts (`verify_models.rs`): the fold takes the events up to the
//! current-state projection's checkpoint (the projection that keeps both views) as it
//! was when verification started, through the projection's own function
//! (`project_transfer`); a row the projection moved past that point meanwhile is
//! skipped, any other difference is a finding.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use ledger_domain::{Aggregate, Transfer, TransferStatus};

use crate::decode::LedgerEvent;
use crate::ports::readmodel::{ProjectionStore, ReadModels};
use crate::ports::store::{EventStore, FeedCursor, RecordedEvent};
use crate::queries::QueryError;
use crate::transfer_views::{project_transfer, TransferRow};
use crate::verify::Finding;
use crate::verify_models::{differences, Decoded};
use crate::verify_moved::{keep_unexplained, stream_events, Explained};

/// The transfers as the events up to a checkpoint give them, by transfer id.
///
/// A transfer that ended (posted in full, voided, expired) takes no more events, so
/// its row is final: the fold keeps a 64-bit digest of it instead of the row (with a
/// key drawn at random per run, so no row can be made to match a digest it was not
/// folded from), and folds it again from its stream only when the view differs. An
/// ended transfer that does get another event (a store the service did not write) is
/// folded again from its stream too.
pub(crate) struct TransfersFold {
    until: FeedCursor,
    /// Pending transfers, whose rows may still change.
    open: HashMap<String, TransferRow>,
    /// Ended transfers: their rows' digests.
    ended: HashMap<String, u64>,
    /// Transfers with an event after their end.
    refold: HashSet<String>,
    digests: RandomState,
}

/// Rows read from the view per query.
const VIEW_PAGE: usize = 1_000;

impl TransfersFold {
    /// A fold up to `until` (the current-state projection's checkpoint).
    pub(crate) fn until(until: FeedCursor) -> Self {
        Self {
            until,
            open: HashMap::new(),
            ended: HashMap::new(),
            refold: HashSet::new(),
            digests: RandomState::new(),
        }
    }

    /// Folds one event (if it is a transfer's, up to the checkpoint).
    pub(crate) fn apply(&mut self, e: &RecordedEvent, decoded: &Decoded) {
        if e.cursor > self.until || e.stream_type != Transfer::STREAM_TYPE {
            return;
        }
        // One that cannot be read is a finding of its own (`verify_models::unreadable`).
        let Ok((LedgerEvent::Transfer(event), _)) = decoded else {
            return;
        };
        let id = event.transfer_id().as_str();
        if self.refold.contains(id) {
            return;
        }
        if self.ended.remove(id).is_some() {
            self.refold.insert(id.to_owned());
            return;
        }
        let row = self.open.remove(id);
        if let Some(row) = project_transfer(row, event, e.cursor.position, e.recorded_at) {
            if row.view.status == TransferStatus::Pending {
                self.open.insert(id.to_owned(), row);
            } else {
                self.ended
                    .insert(id.to_owned(), self.digests.hash_one(&row));
            }
        }
    }

    /// Compares the whole view with the fold, a page at a time (newest first): a
    /// differing row, one no event made and a folded transfer the view lacks are
    /// findings. Whether the projection went past the checkpoint meanwhile is asked
    /// after every row is read; if it did, a differing row, or one no event made, is
    /// skipped when its stream has an event after the checkpoint (made or moved since).
    /// Returns how many transfers were folded.
    pub(crate) async fn compare(
        mut self,
        (store, models, checkpoints): (&dyn EventStore, &dyn ReadModels, &dyn ProjectionStore),
        findings: &mut Vec<Finding>,
    ) -> Result<u64, QueryError> {
        for id in std::mem::take(&mut self.refold) {
            if let Some(row) = self.fold_from_store(store, &id).await? {
                self.open.insert(id, row);
            }
        }
        let folded = (self.open.len() + self.ended.len()) as u64;
        // Each difference, and what could explain it on a ledger in use.
        let mut found: Vec<(Finding, Explained)> = Vec::new();
        let mut before = None;
        loop {
            let page = models.transfers_checked(before, VIEW_PAGE).await?;
            for (row, columns_apart) in &page {
                found.extend(filter_columns(row, columns_apart));
                let (detail, explained) = match self.expected(store, row).await? {
                    Expected::Equal => continue,
                    Expected::Row(expected) => (
                        differences("transfers", row, &expected),
                        Explained::IfStreamMoved { after_version: 0 },
                    ),
                    Expected::Nothing => (
                        "the transfers view holds a transfer no event made".to_owned(),
                        Explained::IfStreamMoved { after_version: 0 },
                    ),
                    Expected::NotTheFeeds => (
                        "the transfers view differs from the feed's events of the transfer \
                         (its stream's events, read alone, agree with the view)"
                            .to_owned(),
                        Explained::IfStreamMoved { after_version: 0 },
                    ),
                };
                found.push((finding(&row.view.transfer_id, detail), explained));
            }
            if page.len() < VIEW_PAGE {
                break;
            }
            before = page.last().map(|(r, _)| r.created_position);
        }
        let mut missing: Vec<String> = self.open.drain().map(|(id, _)| id).collect();
        missing.extend(self.ended.drain().map(|(id, _)| id));
        missing.sort();
        for id in missing {
            found.push((finding(&id, MISSING.to_owned()), Explained::Never));
        }
        keep_unexplained((store, checkpoints), self.until, found, findings).await?;
        Ok(folded)
    }

    /// One transfer's check (`ledger verify --stream transfer/<id>`): its row, read by
    /// the position that created it, against a fold of its stream's events up to the
    /// checkpoint. Returns how many transfers were compared: none when the checkpoint
    /// had not reached the transfer.
    pub(crate) async fn compare_one(
        self,
        (store, models, checkpoints): (&dyn EventStore, &dyn ReadModels, &dyn ProjectionStore),
        transfer_id: &str,
        findings: &mut Vec<Finding>,
    ) -> Result<u64, QueryError> {
        let Some(expected) = self.fold_from_store(store, transfer_id).await? else {
            return Ok(0);
        };
        let before = Some(expected.created_position + 1);
        let page = models.transfers_checked(before, 1).await?;
        let mut found = Vec::new();
        match page.iter().find(|(r, _)| r.view.transfer_id == transfer_id) {
            Some((row, columns_apart)) => {
                found.extend(filter_columns(row, columns_apart));
                if *row != expected {
                    let detail = differences("transfers", row, &expected);
                    found.push((
                        finding(transfer_id, detail),
                        Explained::IfStreamMoved { after_version: 0 },
                    ));
                }
            }
            None => found.push((finding(transfer_id, MISSING.to_owned()), Explained::Never)),
        }
        keep_unexplained((store, checkpoints), self.until, found, findings).await?;
        Ok(1)
    }

    /// What the fold says of a row of the view (taking the transfer out of the fold).
    async fn expected(
        &mut self,
        store: &dyn EventStore,
        row: &TransferRow,
    ) -> Result<Expected, QueryError> {
        let id = row.view.transfer_id.as_str();
        let expected = match (self.open.remove(id), self.ended.remove(id)) {
            (Some(expected), _) => Some(expected),
            (None, Some(digest)) if digest == self.digests.hash_one(row) => {
                return Ok(Expected::Equal)
            }
            // The row differs from the feed's fold: its events, read again, say how (a
            // fold of its stream alone that equals the view is still a difference: the
            // feed and the stream disagree).
            (None, Some(_)) => {
                return Ok(match self.fold_from_store(store, id).await? {
                    Some(expected) if expected != *row => Expected::Row(expected),
                    _ => Expected::NotTheFeeds,
                })
            }
            (None, None) => None,
        };
        Ok(match expected {
            Some(expected) if expected == *row => Expected::Equal,
            Some(expected) => Expected::Row(expected),
            None => Expected::Nothing,
        })
    }

    /// The transfer's row folded again from its stream's events up to the checkpoint.
    async fn fold_from_store(
        &self,
        store: &dyn EventStore,
        transfer_id: &str,
    ) -> Result<Option<TransferRow>, QueryError> {
        let stream_id = crate::transfers::transfer_stream_of(transfer_id);
        let mut row = None;
        for e in stream_events(store, &stream_id).await? {
            if e.cursor > self.until {
                break;
            }
            // As the feed's fold: the transfer's own events (one that cannot be read
            // was found there already).
            if e.stream_type != Transfer::STREAM_TYPE {
                continue;
            }
            match Transfer::default().decode(e.raw()) {
                Ok(event) if event.transfer_id().as_str() == transfer_id => {
                    row = project_transfer(row, &event, e.cursor.position, e.recorded_at);
                }
                _ => {}
            }
        }
        Ok(row)
    }
}

/// What the fold says of a row of the view.
enum Expected {
    /// The same row.
    Equal,
    /// Another row.
    Row(TransferRow),
    /// No transfer: no event made this one.
    Nothing,
    /// Another row than the feed's fold, though a fold of the stream alone equals it.
    NotTheFeeds,
}

const MISSING: &str = "the transfer is missing from the transfers view (one made before the \
    view existed appears after `ledger projections rebuild --name current_state`)";

/// The filter columns against the row's own view (which the fold checks): changed
/// alone they would move the transfer between the lists `GET /transfers` filters, and
/// hide it from the expirer.
fn filter_columns(
    row: &TransferRow,
    columns_apart: &Option<String>,
) -> Option<(Finding, Explained)> {
    let apart = columns_apart.as_ref()?;
    let detail = format!("the transfers view's filter columns differ from its row: {apart}");
    Some((finding(&row.view.transfer_id, detail), Explained::Never))
}

fn finding(transfer_id: &str, detail: String) -> Finding {
    let stream = crate::transfers::transfer_stream_of(transfer_id);
    crate::verify_models::finding(&stream, None, detail)
}
