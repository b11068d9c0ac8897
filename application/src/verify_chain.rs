//! Passes 1 and 2 of `ledger verify`: each event after its stream's previous one
//! (versions without a hole, `prev_hash` and `hash`), and the events the store holds
//! that the feed does not show.

use ledger_domain::integrity::{SEAL_STREAM, SEAL_STREAM_TYPE};
use ledger_domain::ChainHash;

use crate::ports::store::{FeedCursor, RecordedEvent, StreamQuery};
use crate::queries::QueryError;
use crate::verify::{Finding, Heads, Pass, Verifier, MAX_FINDINGS};

impl Verifier {
    /// Pass 1, the other way round: events the store holds but the feed does not show.
    /// A stream holding an event past the last one the feed showed, from before the
    /// feed's end, has one; so has the store where the feed never looks. The streams
    /// are searched one by one only when the store holds more events up to the end
    /// than the feed showed (`seen`): two counts, not a query per stream.
    pub(crate) async fn hidden_events(
        &self,
        heads: &Heads,
        end: FeedCursor,
        seen: u64,
        findings: &mut Vec<Finding>,
    ) -> Result<(), QueryError> {
        // Counted after the end first: an event committed between the two counts can
        // only make the difference larger (a search for nothing), never hide one.
        let after_end = self.store.count_after(end).await?;
        let all = self.store.count_after(FeedCursor::START).await?;
        if all.saturating_sub(after_end) != seen {
            self.hidden_in_streams(heads, end, findings).await?;
        }
        for e in self.store.hidden_from_feed(MAX_FINDINGS).await? {
            findings.push(Finding {
                pass: Pass::Versions,
                stream_id: Some(e.stream_id.clone()),
                version: Some(e.version),
                position: Some(e.cursor.position),
                detail: "the event is stored where the feed never shows it".into(),
            });
        }
        Ok(())
    }

    /// Each stream's next event after the last one the feed showed, if it is from
    /// before the feed's end and the feed still does not show it.
    async fn hidden_in_streams(
        &self,
        heads: &Heads,
        end: FeedCursor,
        findings: &mut Vec<Finding>,
    ) -> Result<(), QueryError> {
        for (stream, (version, _)) in heads {
            let next = self
                .store
                .read_stream(StreamQuery {
                    stream_id: stream,
                    after_version: *version,
                    until: None,
                    limit: 1,
                })
                .await?;
            let Some(e) = next.first().filter(|e| e.cursor <= end) else {
                continue;
            };
            // A transaction that committed after the pass read past its place is in
            // the feed now; an event the feed still does not show is hidden.
            let just_before = FeedCursor {
                tx: e.cursor.tx,
                position: e.cursor.position.saturating_sub(1),
            };
            let now = self.store.read_feed(just_before, 1).await?;
            if now
                .events
                .first()
                .is_none_or(|shown| shown.event_id != e.event_id)
            {
                findings.push(Finding {
                    pass: Pass::Versions,
                    stream_id: Some(stream.clone()),
                    version: Some(e.version),
                    position: Some(e.cursor.position),
                    detail: "the stream holds an event the feed does not show".into(),
                });
            }
        }
        Ok(())
    }
}

/// Passes 1 and 2 for one event, after its stream's previous one; `computed` is
/// [`RecordedEvent::computed_hash`] after the event's own `prev_hash`.
pub(crate) fn check_event(
    e: &RecordedEvent,
    computed: ChainHash,
    heads: &mut Heads,
    findings: &mut Vec<Finding>,
) {
    let (last, head) = heads
        .get(&e.stream_id)
        .copied()
        .unwrap_or((0, ChainHash::ZERO));
    let at = |pass, detail| Finding {
        pass,
        stream_id: Some(e.stream_id.clone()),
        version: Some(e.version),
        position: Some(e.cursor.position),
        detail,
    };
    if e.version != last + 1 {
        findings.push(at(
            Pass::Versions,
            format!("version {} follows version {last}", e.version),
        ));
    }
    if e.prev_hash != head {
        findings.push(at(
            Pass::Hashes,
            format!(
                "prev_hash {} is not the previous event's hash {head}",
                e.prev_hash
            ),
        ));
    }
    if e.hash != computed {
        findings.push(at(
            Pass::Hashes,
            format!(
                "hash {} is not the hash of the event's content, {computed}",
                e.hash
            ),
        ));
    }
    if e.stream_type == SEAL_STREAM_TYPE && e.stream_id != SEAL_STREAM {
        findings.push(at(Pass::Seals, "a seal outside the seals stream".into()));
    }
    heads.insert(e.stream_id.clone(), (e.version, e.hash));
}
