//! The read-model queries on PostgreSQL (always from the live tables).

use crate::time::{StoredDate, StoredTime};
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
    account_view, audit_entry, currency_summary, daily_volume, i64_of, limit, transfer_checked,
    transfer_row, Columns,
};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::guarded::Guarded;
use crate::projections::rm_error;
use crate::view_sql::{accounts_query, audit_query, daily_query, TRANSFERS, TRANSFERS_OF_ACCOUNT};
pub use crate::view_sql::{
    AUDIT_BETWEEN, AUDIT_OF_OWNER, AUDIT_OF_STREAM, AUDIT_OF_STREAM_ALONE,
    TRANSFERS_OF_ACCOUNT_ALONE,
};

/// The columns of a `current_state` row, its wide sums (NUMERIC) read as text.
pub(crate) const ACCOUNT_COLUMNS: &str = "account_id, owner, currency, balance, pending_out, \
    pending_in, overdraft_limit, status, version, \
    total_deposits::text AS total_deposits, total_withdrawals::text AS total_withdrawals, \
    transaction_count, opened_at, updated_at, closed_at";

/// A PostgreSQL row as the shared row mapping reads it.
pub(crate) struct PgColumns<'r>(pub(crate) &'r PgRow);

impl Columns for PgColumns<'_> {
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
        Ok(self.0.try_get::<StoredTime, _>(column)?.0)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        Ok(self
            .0
            .try_get::<Option<StoredTime>, _>(column)?
            .map(|t| t.0))
    }
    fn uuid(&self, column: &str) -> Result<uuid::Uuid, sqlx::Error> {
        self.0.try_get(column)
    }
    fn date(&self, column: &str) -> Result<NaiveDate, sqlx::Error> {
        Ok(self.0.try_get::<StoredDate, _>(column)?.0)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.0.try_get(column)
    }
}

/// Maps a `current_state` row (selected with [`ACCOUNT_COLUMNS`]).
pub(crate) fn account_row(r: &PgRow) -> Result<AccountView, sqlx::Error> {
    account_view(&PgColumns(r))
}

/// Maps every row with the shared mapping `f`.
fn all<'r, T>(
    rows: &'r [PgRow],
    f: impl Fn(&PgColumns<'r>) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, ReadModelError> {
    rows.iter()
        .map(|r| f(&PgColumns(r)))
        .collect::<Result<_, _>>()
        .map_err(rm_error)
}

/// Read-model queries on PostgreSQL.
#[derive(Clone)]
pub struct PgReadModels {
    pool: PgPool,
}

impl PgReadModels {
    /// Queries on a migrated database.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// A page of one account's rows by `sql`, whose parameters are the account, the
    /// cursor and the limit ([`AUDIT_OF_STREAM_ALONE`], [`TRANSFERS_OF_ACCOUNT_ALONE`]).
    async fn page_of_account(
        &self,
        sql: &'static str,
        account: &str,
        before: Option<u64>,
        max: usize,
    ) -> Result<Vec<PgRow>, ReadModelError> {
        sqlx::query(sql)
            .bind(account)
            .bind(before.map(i64_of))
            .bind(limit(max))
            .fetch_all(Guarded(&self.pool))
            .await
            .map_err(rm_error)
    }
}

#[async_trait]
impl ReadModels for PgReadModels {
    async fn account(&self, account_id: &str) -> Result<Option<AccountView>, ReadModelError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM current_state WHERE account_id = $1"
        ))
        .bind(account_id)
        .fetch_optional(Guarded(&self.pool))
        .await
        .map_err(rm_error)?;
        row.as_ref().map(account_row).transpose().map_err(rm_error)
    }

    async fn accounts(&self, f: AccountFilter) -> Result<Vec<AccountView>, ReadModelError> {
        let rows = accounts_query(&f)
            .build()
            .fetch_all(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
        all(&rows, account_view)
    }

    async fn audit(&self, f: AuditFilter) -> Result<Vec<AuditEntry>, ReadModelError> {
        let only_a_stream = f.event_type.is_none()
            && f.from.is_none()
            && f.to.is_none()
            && f.request_id.is_none()
            && f.owner.is_none();
        if let (Some(account), true) = (&f.account_id, only_a_stream) {
            let rows = self
                .page_of_account(AUDIT_OF_STREAM_ALONE, account, f.before, f.limit)
                .await?;
            return all(&rows, audit_entry);
        }
        let sql = match (&f.account_id, &f.owner) {
            (Some(_), _) => AUDIT_OF_STREAM,
            (None, Some(_)) => AUDIT_OF_OWNER,
            (None, None) => {
                let rows = audit_query(&f)
                    .build()
                    .fetch_all(Guarded(&self.pool))
                    .await
                    .map_err(rm_error)?;
                return all(&rows, audit_entry);
            }
        };
        let rows = sqlx::query(sql)
            .bind(f.account_id)
            .bind(f.event_type)
            .bind(f.from)
            .bind(f.to)
            .bind(f.request_id)
            .bind(f.before.map(i64_of))
            .bind(limit(f.limit))
            .bind(f.owner)
            .fetch_all(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
        all(&rows, audit_entry)
    }

    async fn audit_between(
        &self,
        first: u64,
        last: u64,
    ) -> Result<Vec<AuditEntry>, ReadModelError> {
        let rows = sqlx::query(AUDIT_BETWEEN)
            .bind(i64_of(first))
            .bind(i64_of(last))
            .fetch_all(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
        all(&rows, audit_entry)
    }

    async fn audit_count(&self) -> Result<u64, ReadModelError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
            .fetch_one(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn transfers(&self, f: TransferFilter) -> Result<Vec<TransferRow>, ReadModelError> {
        // One account's: its transfers out and in, each read newest first from its own
        // index, then merged (an OR over both columns lets the planner walk the whole
        // table by position, looking for an old account's rows).
        if let (Some(account), None, None) = (&f.account_id, f.status, &f.owner) {
            let rows = self
                .page_of_account(TRANSFERS_OF_ACCOUNT_ALONE, account, f.before, f.limit)
                .await?;
            return all(&rows, transfer_row);
        }
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
            .fetch_all(Guarded(&self.pool))
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
             WHERE created_position < COALESCE($1, 9223372036854775807) \
             ORDER BY created_position DESC LIMIT $2",
        )
        .bind(before.map(i64_of))
        .bind(limit(max))
        .fetch_all(Guarded(&self.pool))
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
        // Two texts, so that each plan seeks the index (`transfers_due_idx`, whose ids
        // are in byte order, as the other stores order them). A `-infinity` (never
        // written by the service: a row changed by hand) would come first on every
        // page and, unreadable, stop every expiry; it is passed over.
        let text = match after {
            None => {
                "SELECT expires_at, transfer_id FROM transfers \
                 WHERE status = 'pending' AND expires_at <= $1 AND expires_at > '-infinity' \
                 ORDER BY expires_at, transfer_id COLLATE \"C\" LIMIT $2"
            }
            Some(_) => {
                "SELECT expires_at, transfer_id FROM transfers \
                 WHERE status = 'pending' AND expires_at <= $1 AND expires_at > '-infinity' \
                    AND (expires_at, transfer_id COLLATE \"C\") > ($3, $4) \
                 ORDER BY expires_at, transfer_id COLLATE \"C\" LIMIT $2"
            }
        };
        let mut query = sqlx::query_as(text).bind(now).bind(limit(max));
        if let Some(a) = after {
            query = query.bind(a.expires_at).bind(a.transfer_id.as_str());
        }
        let rows: Vec<(StoredTime, String)> = query
            .fetch_all(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
        Ok(rows
            .into_iter()
            .map(|(StoredTime(expires_at), transfer_id)| DueTransfer {
                expires_at,
                transfer_id,
            })
            .collect())
    }

    async fn summary(&self) -> Result<Vec<CurrencySummary>, ReadModelError> {
        let rows = sqlx::query(
            "SELECT currency, open_accounts, closed_accounts, total_balance::text AS total_balance, \
                total_deposited::text AS total_deposited, total_withdrawn::text AS total_withdrawn, \
                transfer_volume::text AS transfer_volume, \
                pending_volume::text AS pending_volume, event_count \
             FROM analytics_currency ORDER BY currency",
        )
            .fetch_all(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
        all(&rows, currency_summary)
    }

    async fn daily(&self, f: DailyFilter) -> Result<Vec<DailyVolume>, ReadModelError> {
        let rows = daily_query(&f)
            .build()
            .fetch_all(Guarded(&self.pool))
            .await
            .map_err(rm_error)?;
        all(&rows, daily_volume)
    }
}
