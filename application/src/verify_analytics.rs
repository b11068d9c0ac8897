//! Pass 4 of `ledger verify`, continued: the analytics view (per-currency totals and
//! per-day volumes) against a fresh fold of the events, through the projection's own
//! function ([`AnalyticsDelta::add`]).
//!
//! The fold takes the events up to the analytics projection's checkpoint as it was
//! when verification started. Its figures are sums over the whole feed, so a
//! projection that moved past that point meanwhile (a ledger in use) leaves nothing to
//! compare them with: they are compared only when the checkpoint is where it was.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ledger_domain::Currency;

use crate::analytics::{AnalyticsDelta, DailyVolume};
use crate::ports::readmodel::{DailyFilter, Projection, ProjectionStore, ReadModels};
use crate::ports::store::{FeedCursor, RecordedEvent};
use crate::queries::QueryError;
use crate::verify::{Finding, Pass};
use crate::verify_models::{ahead_of_the_store, checkpoint, differences, Decoded};

/// Every line of the daily view, oldest first. A read answers a bounded number of
/// lines, so the next starts at the last day read, skipping as many of its lines as
/// were read already (not the lines equal to them: a line the view holds twice is
/// kept, to be found); a read with nothing new is the end. (A day with more lines
/// than a read answers, which only a forged view has, ends the reading there: the days
/// after it are then missing, a finding too.)
async fn all_days(models: &dyn ReadModels) -> Result<Vec<DailyVolume>, QueryError> {
    let mut all: Vec<DailyVolume> = Vec::new();
    loop {
        let from = all.last().map(|l| l.date);
        let read = all
            .iter()
            .rev()
            .take_while(|l| Some(l.date) == from)
            .count();
        let page = models
            .daily(DailyFilter {
                currency: None,
                from,
                to: None,
                after: None,
                limit: 10_000,
            })
            .await?;
        let before = all.len();
        all.extend(page.into_iter().skip(read));
        if all.len() == before {
            return Ok(all);
        }
    }
}

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
    /// Returns whether they were compared (not when the projection moved on meanwhile;
    /// a checkpoint past the store's last event is a finding).
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
            let found = ahead_of_the_store(Projection::Analytics, self.until, self.read_up_to);
            findings.push(found);
            return Ok(true);
        }
        let summary = models.summary().await?;
        let daily = all_days(models).await?;
        if checkpoint(checkpoints, Projection::Analytics).await? != self.until {
            return Ok(false);
        }
        let expected = self.delta;
        let currencies = summary.into_iter().map(|l| (l.currency, l.totals));
        let named = |c: &Currency| format!("analytics/{}", c.code());
        compare_lines(currencies, expected.currencies, named, findings);
        let days = daily.into_iter().map(|l| ((l.date, l.currency), l.totals));
        let named = |(d, c): &(NaiveDate, Currency)| format!("analytics/{}/{d}", c.code());
        compare_lines(days, expected.days, named, findings);
        Ok(true)
    }
}

/// Each line of the view against the line the events make (removed from `folded` as
/// it is met); a line no event made, and one the view lacks, say so (figures all zero
/// would show no difference of fields).
fn compare_lines<K: Ord, T: PartialEq + Default + serde::Serialize>(
    view: impl Iterator<Item = (K, T)>,
    mut folded: BTreeMap<K, T>,
    named: impl Fn(&K) -> String,
    findings: &mut Vec<Finding>,
) {
    let mut found = |key: &K, detail: String| {
        findings.push(Finding {
            pass: Pass::ReadModels,
            stream_id: Some(named(key)),
            version: None,
            position: None,
            detail,
        });
    };
    for (key, line) in view {
        match folded.remove(&key) {
            Some(expected) if expected == line => {}
            Some(expected) => found(&key, differences("analytics", &line, &expected)),
            None => {
                let detail = differences("analytics", &line, &T::default());
                found(
                    &key,
                    format!("{detail}: the view holds a line no event made"),
                );
            }
        }
    }
    for (key, expected) in folded {
        let detail = differences("analytics", &T::default(), &expected);
        found(&key, format!("{detail}: the line is missing from the view"));
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use ledger_domain::Currency;

    use super::*;
    use crate::analytics::DayTotals;
    use crate::ports::read_views::MockReadModels;

    /// The stores answer at most 10,000 lines a read: every line is read all the same,
    /// once (here four a read, over days of two currencies), and a line the view
    /// holds twice (a day written two ways in SQLite's text column) is read twice.
    #[tokio::test]
    async fn every_day_is_read_past_the_bound_of_a_read() {
        let mut lines: Vec<DailyVolume> = (1..=5)
            .flat_map(|d| {
                ["EUR", "USD"].map(|c| DailyVolume {
                    date: NaiveDate::from_ymd_opt(2026, 1, d).expect("date"),
                    currency: Currency::parse(c).expect("currency"),
                    totals: DayTotals::default(),
                })
            })
            .collect();
        lines.insert(5, lines[4].clone());
        let stored = lines.clone();
        let mut models = MockReadModels::new();
        models.expect_daily().returning(move |f| {
            let after = stored.iter().filter(|l| f.from.is_none_or(|d| l.date >= d));
            Ok(after.take(4).cloned().collect())
        });
        let read = all_days(&models).await.expect("read");
        assert_eq!(read, lines);
    }
}
