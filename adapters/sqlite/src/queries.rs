//! The read-model queries on SQLite (always from the live tables).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use ledger_application::ports::readmodel::TransferFilter;
use ledger_application::ports::readmodel::{
    AccountFilter, AuditFilter, DailyFilter, DueTransfer, ReadModelError, ReadModels,
};
use ledger_application::transfer_views::TransferRow;
use ledger_application::views::{AccountView, AuditEntry, CurrencySummary, DailyVolume};
use ledger_domain::TransferStatus;
use ledger_sql::{
    account_view, audit_entry, currency_summary, daily_volume, decode_error, i64_of, limit,
    transfer_checked, transfer_row, Columns,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use crate::projections::rm_error;
use crate::view_sql::{accounts_query, audit_query, daily_query, TRANSFERS, TRANSFERS_OF_ACCOUNT};

/// An instant as stored: microseconds since the epoch.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A calendar day as stored.
pub(crate) fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn time(v: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| decode_error(format!("bad time {v}")))
}

/// A SQLite row as the shared row mapping reads it.
pub(crate) struct SqliteColumns<'r>(pub(crate) &'r SqliteRow);

impl Columns for SqliteColumns<'_> {
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.0.try_get(column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.0.try_get(column)
    }
    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.0.try_get(column)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.0.try_get(column)
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        time(self.0.try_get(column)?)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.0
            .try_get::<Option<i64>, _>(column)?
            .map(time)
            .transpose()
    }
    fn uuid(&self, column: &str) -> Result<uuid::Uuid, sqlx::Error> {
        self.0
            .try_get::<String, _>(column)?
            .parse()
            .map_err(decode_error)
    }
    fn date(&self, column: &str) -> Result<NaiveDate, sqlx::Error> {
        let text: String = self.0.try_get(column)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(decode_error)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.0.try_get(column)
    }
}

/// Maps every row with the shared mapping `f`.
pub(crate) fn all<'r, T>(
    rows: &'r [SqliteRow],
    f: impl Fn(&SqliteColumns<'r>) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, ReadModelError> {
    rows.iter()
        .map(|r| f(&SqliteColumns(r)))
        .collect::<Result<_, _>>()
        .map_err(rm_error)
}

/// Maps one row, if any, with the shared mapping `f`.
pub(crate) fn one<'r, T>(
    row: Option<&'r SqliteRow>,
    f: impl Fn(&SqliteColumns<'r>) -> Result<T, sqlx::Error>,
) -> Result<Option<T>, ReadModelError> {
    row.map(|r| f(&SqliteColumns(r)))
        .transpose()
        .map_err(rm_error)
}

/// Read-model queries on SQLite.
#[derive(Clone)]
pub struct SqliteReadModels {
    reader: SqlitePool,
}

impl SqliteReadModels {
    /// Queries on the read models' file.
    pub fn new(read_models: &crate::ReadModelFile) -> Self {
        Self {
            reader: read_models.reader().clone(),
        }
    }
}

#[async_trait]
impl ReadModels for SqliteReadModels {
    async fn account(&self, account_id: &str) -> Result<Option<AccountView>, ReadModelError> {
        let row = sqlx::query("SELECT * FROM current_state WHERE account_id = ?1")
            .bind(account_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(rm_error)?;
        one(row.as_ref(), account_view)
    }

    async fn accounts(&self, f: AccountFilter) -> Result<Vec<AccountView>, ReadModelError> {
        let rows = accounts_query(&f)
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(rm_error)?;
        all(&rows, account_view)
    }

    async fn audit(&self, f: AuditFilter) -> Result<Vec<AuditEntry>, ReadModelError> {
        let rows = audit_query(&f)
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(rm_error)?;
        all(&rows, audit_entry)
    }

    async fn audit_between(
        &self,
        first: u64,
        last: u64,
    ) -> Result<Vec<AuditEntry>, ReadModelError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_log WHERE position BETWEEN ?1 AND ?2 ORDER BY position",
        )
        .bind(i64_of(first))
        .bind(i64_of(last))
        .fetch_all(&self.reader)
        .await
        .map_err(rm_error)?;
        all(&rows, audit_entry)
    }

    async fn audit_count(&self) -> Result<u64, ReadModelError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
            .fetch_one(&self.reader)
            .await
            .map_err(rm_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn transfers(&self, f: TransferFilter) -> Result<Vec<TransferRow>, ReadModelError> {
        // One account's: its transfers out and in, each read newest first from its own
        // index, then merged (an OR over both columns lets the planner walk the whole
        // table by position, looking for an old account's rows).
        let sql = match f.account_id {
            Some(_) => TRANSFERS_OF_ACCOUNT,
            None => TRANSFERS,
        };
        let rows = sqlx::query(sql)
            .bind(f.account_id)
            .bind(f.status.map(TransferStatus::as_str))
            .bind(f.before.map(i64_of))
            .bind(limit(f.limit))
            .bind(f.owner)
            .fetch_all(&self.reader)
            .await
            .map_err(rm_error)?;
        all(&rows, transfer_row)
    }

    async fn transfers_checked(
        &self,
        before: Option<u64>,
        max: usize,
    ) -> Result<Vec<(TransferRow, Option<String>)>, ReadModelError> {
        let rows = sqlx::query(
            "SELECT transfer_id, status, from_account_id, to_account_id, expires_at, \
             created_position, view FROM transfers \
             WHERE created_position < COALESCE(?1, 9223372036854775807) \
             ORDER BY created_position DESC LIMIT ?2",
        )
        .bind(before.map(i64_of))
        .bind(limit(max))
        .fetch_all(&self.reader)
        .await
        .map_err(rm_error)?;
        all(&rows, transfer_checked)
    }

    async fn due_transfers<'a>(
        &self,
        now: DateTime<Utc>,
        after: Option<&'a DueTransfer>,
        max: usize,
    ) -> Result<Vec<DueTransfer>, ReadModelError> {
        // Two texts, so that each plan seeks the index (`transfers_due_idx`). A time
        // before any the service can read (never written by it: a row changed by hand)
        // would come first on every page and, unreadable, stop every expiry; it is
        // passed over.
        let text = match after {
            None => {
                "SELECT expires_at, transfer_id FROM transfers \
                 WHERE status = 'pending' AND expires_at <= ?1 AND expires_at >= ?3 \
                 ORDER BY expires_at, transfer_id LIMIT ?2"
            }
            Some(_) => {
                "SELECT expires_at, transfer_id FROM transfers \
                 WHERE status = 'pending' AND expires_at <= ?1 AND expires_at >= ?5 \
                    AND (expires_at, transfer_id) > (?3, ?4) \
                 ORDER BY expires_at, transfer_id LIMIT ?2"
            }
        };
        let mut query = sqlx::query_as(text).bind(micros(now)).bind(limit(max));
        if let Some(a) = after {
            query = query
                .bind(micros(a.expires_at))
                .bind(a.transfer_id.as_str());
        }
        query = query.bind(micros(DateTime::<Utc>::MIN_UTC));
        let rows: Vec<(i64, String)> = query.fetch_all(&self.reader).await.map_err(rm_error)?;
        rows.into_iter()
            .map(|(at, transfer_id)| {
                Ok(DueTransfer {
                    expires_at: time(at).map_err(rm_error)?,
                    transfer_id,
                })
            })
            .collect()
    }

    async fn summary(&self) -> Result<Vec<CurrencySummary>, ReadModelError> {
        let rows = sqlx::query("SELECT * FROM analytics_currency ORDER BY currency")
            .fetch_all(&self.reader)
            .await
            .map_err(rm_error)?;
        all(&rows, currency_summary)
    }

    async fn daily(&self, f: DailyFilter) -> Result<Vec<DailyVolume>, ReadModelError> {
        let rows = daily_query(&f)
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(rm_error)?;
        all(&rows, daily_volume)
    }
}
