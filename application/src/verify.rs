//! `ledger verify`: reads the whole feed once, a page at a time (memory grows with
//! the number of streams and accounts, never with the number of events), and checks
//! (1) every stream's versions run 1, 2, 3 … in feed order; (2) every event's
//! `prev_hash` is its predecessor's `hash` and its `hash` is what its fields give;
//! (3) every seal: the feed digest and event count up to its cursor, and its Ed25519
//! signature; (4) the accounts, transfers and analytics views and the audit log equal
//! a fresh fold of the events (`verify_models`, `verify_transfers`, `verify_analytics`,
//! `verify_audit`), and each transfer's legs agree with its record (`verify_legs`).

use std::collections::HashMap;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use ledger_domain::integrity::{feed_digest, SEAL_STREAM};
use ledger_domain::ChainHash;

use crate::decode::FeedDecoder;
use crate::ports::readmodel::{ProjectionStore, ReadModels};
use crate::ports::store::{EventStore, FeedCursor, StoreError, StreamQuery};
use crate::ports::system::Spawner;
use crate::queries::QueryError;
use crate::verify_analytics::AnalyticsFold;
use crate::verify_audit::{entries_at, AuditFold};
use crate::verify_chain::check_event;
use crate::verify_legs::LegsFold;
use crate::verify_models::{decode_for_folds, failed_projections, unreadable, AccountsFold};
use crate::verify_read::read_ahead;
pub use crate::verify_report::{Finding, Pass, Report, MAX_FINDINGS};
use crate::verify_seals::check_kept;
pub use crate::verify_seals::KeptSeal;
use crate::verify_transfers::TransfersFold;

/// Events a page of the feed `ledger verify` reads holds (a shorter page is the end).
pub const PAGE: usize = 2_000;

/// What `ledger verify` reads.
pub struct Verifier {
    /// The events.
    pub store: Arc<dyn EventStore>,
    /// The read models and their checkpoints (pass 4).
    pub models: Arc<dyn ReadModels>,
    /// The projections' checkpoints.
    pub checkpoints: Arc<dyn ProjectionStore>,
    /// The keys seals may be signed with (more than one after a change of signing
    /// key); each seal must name one of them and verify with it. None: signatures are
    /// not checked.
    pub public_keys: Vec<VerifyingKey>,
    /// A seal kept outside the store (the whole feed's check only): the feed up to its
    /// cursor must still give its count and digest, even with every stored seal gone.
    pub kept_seal: Option<KeptSeal>,
    /// Reads and hashes the next pages on tasks of their own while a page is checked
    /// (`None`: beside the checks, on the caller's task).
    pub spawner: Option<Arc<dyn Spawner>>,
}

/// Per stream: its last version and hash.
pub(crate) type Heads = HashMap<String, (u64, ChainHash)>;

impl Verifier {
    /// Checks everything (or one stream: passes 1, 2 and 4 on it alone), calling
    /// `progress` with the events read so far after each page.
    pub async fn run(
        &self,
        stream: Option<&str>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Report, QueryError> {
        let mut report = Report {
            signatures_checked: !self.public_keys.is_empty(),
            ..Report::default()
        };
        let mut findings = Vec::new();
        let mut accounts = AccountsFold::start(self.checkpoints.as_ref()).await?;
        let mut transfers = TransfersFold::until(accounts.until());
        let mut analytics = AnalyticsFold::start(self.checkpoints.as_ref()).await?;
        let mut audit = AuditFold::start(self.checkpoints.as_ref()).await?;
        let mut heads = Heads::new();
        match stream {
            Some(s) => {
                self.one_stream(
                    s,
                    &mut heads,
                    &mut accounts,
                    &mut findings,
                    &mut report,
                    progress,
                )
                .await?
            }
            None => {
                self.whole_feed(
                    &mut heads,
                    (&mut accounts, &mut transfers, &mut analytics, &mut audit),
                    &mut findings,
                    &mut report,
                    progress,
                )
                .await?
            }
        }
        report.streams = heads.len() as u64;
        // One stream's check compares its account or its transfer alone; the whole
        // feed's, every account and transfer, the analytics and the audit log too.
        let (models, checkpoints) = (self.models.as_ref(), self.checkpoints.as_ref());
        let stores = (self.store.as_ref(), models, checkpoints);
        report.accounts = accounts.compare(stores, &mut findings, stream).await?;
        match stream.map(crate::transfers::transfer_id_of_stream) {
            Some(Some(id)) => {
                report.transfers = transfers.compare_one(stores, id, &mut findings).await?;
            }
            Some(None) => {}
            None => {
                report.transfers = transfers.compare(stores, &mut findings).await?;
                report.analytics = analytics
                    .compare(models, checkpoints, &mut findings)
                    .await?;
                (report.audit_entries, report.audit_counted) =
                    audit.finish(models, checkpoints, &mut findings).await?;
                failed_projections(checkpoints, &mut findings).await?;
            }
        }
        findings.sort_by_key(|f| (f.pass, f.position.unwrap_or(u64::MAX)));
        findings.truncate(MAX_FINDINGS);
        report.findings = findings;
        Ok(report)
    }

    async fn whole_feed(
        &self,
        heads: &mut Heads,
        (accounts, transfers, analytics, audit): (
            &mut AccountsFold,
            &mut TransfersFold,
            &mut AnalyticsFold,
            &mut AuditFold,
        ),
        findings: &mut Vec<Finding>,
        report: &mut Report,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), QueryError> {
        let mut seals = self.seals(findings).await?;
        let mut digest = ChainHash::ZERO;
        // The next pages are read and hashed (on tasks of their own, with a spawner)
        // while this one is checked; each event is decoded here, once for the four
        // folds (decoded in the read-ahead instead, it measured slower: BENCHMARKS.md).
        let mut decoder = FeedDecoder::default();
        let mut legs = LegsFold::default();
        let (pages, stages) = read_ahead(
            self.store.clone(),
            FeedCursor::START,
            PAGE,
            self.spawner.as_ref(),
        );
        let check = async {
            // Owned here: dropped as the checks end (an error included), which stops
            // the stages.
            let mut pages = pages;
            let mut cursor = FeedCursor::START;
            loop {
                let page = pages.recv().await.unwrap_or_else(|| {
                    Err(StoreError::Unavailable(
                        "the feed's read-ahead ended without an answer".into(),
                    ))
                });
                let Some(page) = page? else {
                    return Ok::<_, QueryError>(cursor);
                };
                // The audit log's entries of the page's positions are read while the
                // page is checked.
                let entries = entries_at(self.models.as_ref(), audit.positions(&page.events));
                let checks = async {
                    for (e, computed) in page.events.iter().zip(&page.computed) {
                        check_event(e, *computed, heads, findings);
                        digest = feed_digest(digest, e.hash);
                        report.events += 1;
                        if let Some(kept) = self.kept_seal.filter(|k| k.cursor == e.cursor) {
                            report.kept_seal_compared = true;
                            check_kept(&kept, report.events, digest, findings);
                        }
                        if let Some(seal) = seals.remove(&e.cursor) {
                            report.seals += 1;
                            self.check_seal(&seal, report.events, digest, findings);
                        }
                        let store = self.store.as_ref();
                        let decoded = decode_for_folds(&mut decoder, store, e).await?;
                        findings.extend(unreadable(e, &decoded));
                        accounts.apply(e, &decoded, findings);
                        transfers.apply(e, &decoded);
                        analytics.apply(e, &decoded);
                        audit.apply(e, &decoded);
                        legs.apply(e, &decoded);
                    }
                    Ok::<_, QueryError>(())
                };
                let (entries, checked) = futures_util::future::join(entries, checks).await;
                checked?;
                audit.compare_page(entries?, findings);
                cursor = page.next;
                progress(report.events);
                // A short page is the feed's end as it was a moment ago: what was
                // written since is not waited for (dropping the pages stops the stages).
                if page.events.len() < PAGE {
                    return Ok(cursor);
                }
            }
        };
        let (_, checked) = futures_util::future::join(stages, check).await;
        let cursor = checked?;
        legs.finish(findings);
        self.kept_seal_unmet(report, findings);
        self.hidden_events(heads, cursor, report.events, findings)
            .await?;
        for seal in seals.into_values() {
            report.seals += 1;
            findings.push(Finding {
                pass: Pass::Seals,
                stream_id: Some(SEAL_STREAM.into()),
                version: Some(seal.version),
                // The seal's own place (its cursor's is in the detail).
                position: Some(seal.position),
                detail: format!(
                    "the seal's cursor {} names no event of the feed",
                    seal.seal.cursor
                ),
            });
        }
        Ok(())
    }

    async fn one_stream(
        &self,
        stream: &str,
        heads: &mut Heads,
        accounts: &mut AccountsFold,
        findings: &mut Vec<Finding>,
        report: &mut Report,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), QueryError> {
        let mut after = 0;
        let mut decoder = FeedDecoder::default();
        loop {
            let page = self
                .store
                .read_stream(StreamQuery {
                    stream_id: stream,
                    after_version: after,
                    until: None,
                    limit: PAGE,
                })
                .await?;
            let n = page.len();
            for e in &page {
                check_event(e, e.computed_hash(e.prev_hash), heads, findings);
                let decoded = decode_for_folds(&mut decoder, self.store.as_ref(), e).await?;
                findings.extend(unreadable(e, &decoded));
                accounts.apply(e, &decoded, findings);
                after = e.version;
                report.events += 1;
            }
            progress(report.events);
            if n < PAGE {
                return Ok(());
            }
        }
    }
}
