//! Pass 4 of `ledger verify`: the audit log against the events. Each event up to the
//! audit projection's checkpoint (as it was when verification started), seals aside, gives the
//! entry the projection writes for it ([`AuditEntry::from_parts`]); the log's entries
//! at each page's positions are read while the page is checked and compared with
//! them. (By position, not by a range of them: the feed's order is the writing
//! transactions', in which positions need not rise.) An entry that differs and one
//! missing are findings; so, when the checkpoint has not moved meanwhile, is an entry
//! more than the events up to it give (an entry no event made), and in any case a
//! checkpoint past the store's last event.

use std::collections::HashMap;

use ledger_domain::integrity::SEAL_STREAM_TYPE;

use crate::ports::readmodel::{Projection, ProjectionStore, ReadModelError, ReadModels};
use crate::ports::store::{FeedCursor, RecordedEvent};
use crate::queries::QueryError;
use crate::verify::{Finding, Pass};
use crate::verify_models::{ahead_of_the_store, checkpoint, differences, Decoded};
use crate::views::AuditEntry;

/// The audit entries the events up to a checkpoint give, a page at a time.
pub(crate) struct AuditFold {
    until: FeedCursor,
    /// The last event read, of any stream.
    read_up_to: FeedCursor,
    /// This page's events up to the checkpoint, by position: the entry each gives
    /// (`None`: the event cannot be read, so its entry is not compared).
    expected: Vec<(u64, Option<AuditEntry>)>,
    /// Events up to the checkpoint.
    events: u64,
    /// Entries compared.
    compared: u64,
}

impl AuditFold {
    /// A fold up to the audit projection's checkpoint now.
    pub(crate) async fn start(checkpoints: &dyn ProjectionStore) -> Result<Self, QueryError> {
        Ok(Self {
            until: checkpoint(checkpoints, Projection::AuditLog).await?,
            read_up_to: FeedCursor::START,
            expected: Vec::new(),
            events: 0,
            compared: 0,
        })
    }

    /// Whether the log has an entry for this event: every event up to the checkpoint
    /// but the seals (which are about the feed, not about accounts).
    fn logged(&self, e: &RecordedEvent) -> bool {
        e.cursor <= self.until && e.stream_type != SEAL_STREAM_TYPE
    }

    /// The positions of a page's events whose entries are compared.
    pub(crate) fn positions(&self, page: &[RecordedEvent]) -> Vec<u64> {
        page.iter()
            .filter(|e| self.logged(e))
            .map(|e| e.cursor.position)
            .collect()
    }

    /// Takes one event (one the log has an entry for).
    pub(crate) fn apply(&mut self, e: &RecordedEvent, decoded: &Decoded) {
        self.read_up_to = self.read_up_to.max(e.cursor);
        if !self.logged(e) {
            return;
        }
        self.events += 1;
        let entry = decoded
            .as_ref()
            .ok()
            .map(|(event, currency)| AuditEntry::from_parts(e, event, *currency));
        self.expected.push((e.cursor.position, entry));
    }

    /// Compares the page's events with the log's entries at their positions (read by
    /// [`entries_at`] over [`Self::positions`]; entries at other positions are not
    /// this page's).
    pub(crate) fn compare_page(&mut self, rows: Vec<AuditEntry>, findings: &mut Vec<Finding>) {
        let mut rows: HashMap<u64, AuditEntry> =
            rows.into_iter().map(|r| (r.position, r)).collect();
        for (at, entry) in std::mem::take(&mut self.expected) {
            // An event that cannot be read (its own finding) is not compared.
            let Some(entry) = entry else { continue };
            match rows.remove(&at) {
                Some(row) => {
                    self.compared += 1;
                    if row != entry {
                        // Named by the event's stream and version, whatever the row says.
                        let detail = differences("audit log", &row, &entry);
                        findings.push(finding(&entry, detail));
                    }
                }
                None => {
                    let detail = "the event is missing from the audit log".to_owned();
                    findings.push(finding(&entry, detail));
                }
            }
        }
    }

    /// After the whole feed: the checkpoint past the store's last event is a finding,
    /// and, when the checkpoint has not moved, more entries than events up to it.
    /// Returns the entries compared and whether the log's size was.
    pub(crate) async fn finish(
        self,
        models: &dyn ReadModels,
        checkpoints: &dyn ProjectionStore,
        findings: &mut Vec<Finding>,
    ) -> Result<(u64, bool), QueryError> {
        if self.until > self.read_up_to {
            findings.push(ahead_of_the_store(
                Projection::AuditLog,
                self.until,
                self.read_up_to,
            ));
        }
        let held = models.audit_count().await?;
        let moved = checkpoint(checkpoints, Projection::AuditLog).await? != self.until;
        if !moved && held > self.events {
            findings.push(Finding {
                pass: Pass::ReadModels,
                stream_id: None,
                version: None,
                position: Some(self.until.position),
                detail: format!(
                    "the audit log holds {held} entries, but the events up to its \
                     checkpoint give {}: entries no event made",
                    self.events
                ),
            });
        }
        Ok((self.compared, !moved))
    }
}

/// Positions further apart than this are read by queries of their own: a page's
/// positions run nearly one after another, but an event of a transaction that
/// committed late sits far from the others.
const GAP: u64 = 64;

/// The log's entries at these positions (and any between them a few apart): each run
/// of positions read as one range of the log's key, far cheaper than a lookup each.
pub(crate) async fn entries_at(
    models: &dyn ReadModels,
    mut positions: Vec<u64>,
) -> Result<Vec<AuditEntry>, ReadModelError> {
    positions.sort_unstable();
    let mut rows = Vec::with_capacity(positions.len());
    let mut runs = positions.iter().peekable();
    while let Some(&first) = runs.next() {
        let mut last = first;
        while let Some(&&next) = runs.peek() {
            if next - last > GAP {
                break;
            }
            last = next;
            runs.next();
        }
        rows.extend(models.audit_between(first, last).await?);
    }
    Ok(rows)
}

fn finding(row: &AuditEntry, detail: String) -> Finding {
    Finding {
        pass: Pass::ReadModels,
        stream_id: Some(row.stream_id.clone()),
        version: Some(row.version),
        position: Some(row.position),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(position: u64, actor: &str) -> AuditEntry {
        AuditEntry {
            position,
            event_id: uuid::Uuid::from_u128(u128::from(position)),
            event_type: "MoneyDeposited".into(),
            stream_id: "acc-1".into(),
            version: position,
            actor: actor.into(),
            request_id: None,
            recorded_at: chrono::DateTime::UNIX_EPOCH,
            amount: None,
            currency: None,
        }
    }

    #[test]
    fn each_entry_is_matched_by_its_position() {
        // Events at 5, 2, 3 and 9 (in the feed's order; 9 cannot be read); entries at
        // 2 (changed), 5 and 9; 3's is missing.
        let mut audit = AuditFold {
            until: FeedCursor::START,
            read_up_to: FeedCursor::START,
            expected: vec![
                (5, Some(entry(5, "ada"))),
                (2, Some(entry(2, "ada"))),
                (3, Some(entry(3, "ada"))),
                (9, None),
            ],
            events: 4,
            compared: 0,
        };
        let rows = vec![entry(9, "ada"), entry(5, "ada"), entry(2, "mallory")];
        let mut findings = Vec::new();
        audit.compare_page(rows, &mut findings);
        let found: Vec<(Option<u64>, &str)> = findings
            .iter()
            .map(|f| (f.position, f.detail.as_str()))
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, Some(2));
        assert!(found[0]
            .1
            .contains("actor: view \"mallory\", events \"ada\""));
        assert_eq!(
            found[1],
            (Some(3), "the event is missing from the audit log")
        );
        assert_eq!(audit.compared, 2);
        assert!(audit.expected.is_empty());
    }
}
