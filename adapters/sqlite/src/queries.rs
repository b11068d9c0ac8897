//! The read-model queries on SQLite (always from the live tables).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use ledger_application::ports::readmodel::{
    AccountFilter, AuditFilter, ReadModelError, ReadModels,
};
use ledger_application::views::{
    AccountView, AuditEntry, CurrencySummary, CurrencyTotals, DailyVolume, DayTotals,
};
use ledger_domain::{AccountStatus, Currency, Money, MoneyTotal};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use crate::projections::rm_error;

fn decode_err(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(e.to_string().into())
}

fn currency(code: &str) -> Result<Currency, sqlx::Error> {
    Currency::parse(code).map_err(decode_err)
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(v: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| decode_err(format!("bad time {v}")))
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A wide sum (decimal text of minor units, see migration 0003).
pub(crate) fn wide(r: &SqliteRow, column: &str) -> Result<i128, sqlx::Error> {
    let text: &str = r.try_get(column)?;
    text.parse()
        .map_err(|_| decode_err(format!("{column} is not an integer: {text}")))
}

/// Maps an `analytics_currency` row's totals.
pub(crate) fn currency_totals(r: &SqliteRow) -> Result<CurrencyTotals, sqlx::Error> {
    Ok(CurrencyTotals {
        open_accounts: r.try_get("open_accounts")?,
        closed_accounts: r.try_get("closed_accounts")?,
        total_balance: wide(r, "total_balance")?,
        total_deposited: wide(r, "total_deposited")?,
        total_withdrawn: wide(r, "total_withdrawn")?,
        transfer_volume: wide(r, "transfer_volume")?,
        event_count: r.try_get("event_count")?,
    })
}

/// Maps an `analytics_daily` row's volumes.
pub(crate) fn day_totals(r: &SqliteRow) -> Result<DayTotals, sqlx::Error> {
    Ok(DayTotals {
        deposit_count: r.try_get("deposit_count")?,
        deposit_volume: wide(r, "deposit_volume")?,
        withdrawal_count: r.try_get("withdrawal_count")?,
        withdrawal_volume: wide(r, "withdrawal_volume")?,
        transfer_count: r.try_get("transfer_count")?,
        transfer_volume: wide(r, "transfer_volume")?,
    })
}

/// Maps a `current_state` row.
pub(crate) fn account_row(r: &SqliteRow) -> Result<AccountView, sqlx::Error> {
    let c = currency(r.try_get("currency")?)?;
    let status: String = r.try_get("status")?;
    let status = AccountStatus::parse(&status)
        .ok_or_else(|| decode_err(format!("unknown account status {status}")))?;
    Ok(AccountView {
        account_id: r.try_get("account_id")?,
        owner: r.try_get("owner")?,
        currency: c,
        balance: Money::from_minor(r.try_get("balance")?, c),
        status,
        version: u64_of(r.try_get("version")?),
        total_deposits: MoneyTotal::from_minor(wide(r, "total_deposits")?, c),
        total_withdrawals: MoneyTotal::from_minor(wide(r, "total_withdrawals")?, c),
        transaction_count: u64_of(r.try_get("transaction_count")?),
        opened_at: time(r.try_get("opened_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
        closed_at: r
            .try_get::<Option<i64>, _>("closed_at")?
            .map(time)
            .transpose()?,
    })
}

fn audit_row(r: &SqliteRow) -> Result<AuditEntry, sqlx::Error> {
    let amount: Option<i64> = r.try_get("amount")?;
    let code: Option<String> = r.try_get("currency")?;
    let currency = code.as_deref().map(currency).transpose()?;
    let amount = match (amount, currency) {
        (Some(a), Some(c)) => Some(Money::from_minor(a, c)),
        _ => None,
    };
    let event_id: String = r.try_get("event_id")?;
    Ok(AuditEntry {
        position: u64_of(r.try_get("position")?),
        event_id: event_id.parse().map_err(decode_err)?,
        event_type: r.try_get("event_type")?,
        stream_id: r.try_get("stream_id")?,
        version: u64_of(r.try_get("version")?),
        actor: r.try_get("actor")?,
        request_id: r.try_get("request_id")?,
        recorded_at: time(r.try_get("recorded_at")?)?,
        amount,
        currency,
    })
}

/// Read-model queries on SQLite.
#[derive(Clone)]
pub struct SqliteReadModels {
    reader: SqlitePool,
}

impl SqliteReadModels {
    /// Queries on the store's reader pool.
    pub fn new(reader: SqlitePool) -> Self {
        Self { reader }
    }
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl ReadModels for SqliteReadModels {
    async fn account(&self, account_id: &str) -> Result<Option<AccountView>, ReadModelError> {
        let row = sqlx::query("SELECT * FROM current_state WHERE account_id = ?1")
            .bind(account_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(rm_error)?;
        row.as_ref().map(account_row).transpose().map_err(rm_error)
    }

    async fn accounts(&self, f: AccountFilter) -> Result<Vec<AccountView>, ReadModelError> {
        let rows = sqlx::query(
            "SELECT * FROM current_state WHERE (?1 IS NULL OR owner = ?1) \
             AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR account_id > ?3) \
             ORDER BY account_id LIMIT ?4",
        )
        .bind(f.owner)
        .bind(f.status.map(AccountStatus::as_str))
        .bind(f.after)
        .bind(limit(f.limit))
        .fetch_all(&self.reader)
        .await
        .map_err(rm_error)?;
        rows.iter()
            .map(account_row)
            .collect::<Result<_, _>>()
            .map_err(rm_error)
    }

    async fn audit(&self, f: AuditFilter) -> Result<Vec<AuditEntry>, ReadModelError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_log WHERE (?1 IS NULL OR stream_id = ?1) \
             AND (?2 IS NULL OR event_type = ?2) AND (?3 IS NULL OR recorded_at >= ?3) \
             AND (?4 IS NULL OR recorded_at <= ?4) AND (?5 IS NULL OR request_id = ?5) \
             AND (?6 IS NULL OR position < ?6) ORDER BY position DESC LIMIT ?7",
        )
        .bind(f.account_id)
        .bind(f.event_type)
        .bind(f.from.map(micros))
        .bind(f.to.map(micros))
        .bind(f.request_id)
        .bind(f.before.map(|b| i64::try_from(b).unwrap_or(i64::MAX)))
        .bind(limit(f.limit))
        .fetch_all(&self.reader)
        .await
        .map_err(rm_error)?;
        rows.iter()
            .map(audit_row)
            .collect::<Result<_, _>>()
            .map_err(rm_error)
    }

    async fn summary(&self) -> Result<Vec<CurrencySummary>, ReadModelError> {
        let rows = sqlx::query("SELECT * FROM analytics_currency ORDER BY currency")
            .fetch_all(&self.reader)
            .await
            .map_err(rm_error)?;
        rows.iter()
            .map(|r| {
                Ok(CurrencySummary {
                    currency: currency(r.try_get("currency")?)?,
                    totals: currency_totals(r)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(rm_error)
    }

    async fn daily(
        &self,
        c: Option<Currency>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<DailyVolume>, ReadModelError> {
        let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        let rows = sqlx::query(
            "SELECT * FROM analytics_daily WHERE (?1 IS NULL OR currency = ?1) \
             AND (?2 IS NULL OR day >= ?2) AND (?3 IS NULL OR day <= ?3) \
             ORDER BY day, currency LIMIT 10000",
        )
        .bind(c.map(|c| c.code()))
        .bind(from.map(day))
        .bind(to.map(day))
        .fetch_all(&self.reader)
        .await
        .map_err(rm_error)?;
        rows.iter()
            .map(|r| {
                let d: String = r.try_get("day")?;
                Ok(DailyVolume {
                    date: NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(decode_err)?,
                    currency: currency(r.try_get("currency")?)?,
                    totals: day_totals(r)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(rm_error)
    }
}
