//! Pass 4 of `ledger verify`, continued: the analytics view (per-currency totals and
//! per-day volumes) against a fresh fold of the events, through the projection's own
//! function ([`AnalyticsDelta::add`]).
//!
//! The fold takes the events up to the analytics projection's checkpoint as it was
//! when verification started. Its figures are sums over the whole feed, so a
//! projection that moved past that point meanwhile (a ledger in use) leaves nothing to
//! compare them with: they are compared only when the checkpoint is where it was.

use crate::analytics::{AnalyticsDelta, CurrencyTotals, DayTotals};
use crate::ports::readmodel::{Projection, ProjectionStore, ReadModels};
use crate::ports::store::{FeedCursor, RecordedEvent};
use crate::queries::QueryError;
use crate::verify::{Finding, Pass};
use crate::verify_models::{checkpoint, differences};
use crate::verify_read::Decoded;

/// The analytics as the events up to a checkpoint give them.
pub(crate) struct AnalyticsFold {
    until: FeedCursor,
    read_up_to: FeedCursor,
    delta: AnalyticsDelta,
    /// Why the fold could not go on (a sum beyond any legal ledger).
    failed: Option<Finding>,
}

impl AnalyticsFold {
    /// A fold up to the analytics projection's checkpoint now.
    pub(crate) async fn start(checkpoints: &dyn ProjectionStore) -> Result<Self, QueryError> {
        Ok(Self {
            until: checkpoint(checkpoints, Projection::Analytics).await?,
            read_up_to: FeedCursor::START,
            delta: AnalyticsDelta::default(),
            failed: None,
        })
    }

    /// Folds one event (up to the checkpoint). One that cannot be read is the accounts'
    /// or the transfers' fold's finding.
    pub(crate) fn apply(&mut self, e: &RecordedEvent, decoded: &Decoded) {
        self.read_up_to = self.read_up_to.max(e.cursor);
        if e.cursor > self.until || self.failed.is_some() {
            return;
        }
        let Ok((event, currency)) = decoded else {
            return;
        };
        if let Err(why) = self.delta.add(event, *currency, e.recorded_at) {
            self.failed = Some(Finding {
                pass: Pass::ReadModels,
                stream_id: Some(e.stream_id.clone()),
                version: Some(e.version),
                position: Some(e.cursor.position),
                detail: format!("the analytics cannot add the event: {why}"),
            });
        }
    }

    /// Compares the view with the fold: each currency's totals and each day's volumes.
    /// Returns whether they were compared (not when the projection moved on meanwhile,
    /// nor past the store's last event: the accounts' fold reports that).
    pub(crate) async fn compare(
        self,
        models: &dyn ReadModels,
        checkpoints: &dyn ProjectionStore,
        findings: &mut Vec<Finding>,
    ) -> Result<bool, QueryError> {
        if let Some(failed) = self.failed {
            findings.push(failed);
            return Ok(true);
        }
        if self.until > self.read_up_to {
            return Ok(false);
        }
        let summary = models.summary().await?;
        let daily = models.daily(None, None, None).await?;
        if checkpoint(checkpoints, Projection::Analytics).await? != self.until {
            return Ok(false);
        }
        let finding = |row: String, detail: String| Finding {
            pass: Pass::ReadModels,
            stream_id: Some(row),
            version: None,
            position: None,
            detail,
        };
        let mut expected = self.delta;
        for line in summary {
            let folded = expected.currencies.remove(&line.currency);
            if folded != Some(line.totals) {
                let row = format!("analytics/{}", line.currency.code());
                let folded = folded.unwrap_or_default();
                let detail = differences("analytics", &line.totals, &folded);
                findings.push(finding(row, detail));
            }
        }
        for (currency, folded) in expected.currencies {
            let row = format!("analytics/{}", currency.code());
            let detail = differences("analytics", &CurrencyTotals::default(), &folded);
            findings.push(finding(row, format!("{detail}: the currency is missing")));
        }
        for line in daily {
            let folded = expected.days.remove(&(line.date, line.currency));
            if folded != Some(line.totals) {
                let row = format!("analytics/{}/{}", line.currency.code(), line.date);
                let folded = folded.unwrap_or_default();
                let detail = differences("analytics", &line.totals, &folded);
                findings.push(finding(row, detail));
            }
        }
        for ((date, currency), folded) in expected.days {
            let row = format!("analytics/{}/{date}", currency.code());
            let detail = differences("analytics", &DayTotals::default(), &folded);
            findings.push(finding(row, format!("{detail}: the day is missing")));
        }
        Ok(true)
    }
}
