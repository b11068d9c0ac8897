//! The read-model queries on PostgreSQL (always from the live tables).

use async_trait::async_trait;
use chrono::NaiveDate;
use ledger_application::ports::readmodel::{
    AccountFilter, AuditFilter, ReadModelError, ReadModels,
};
use ledger_application::views::{
    AccountView, AuditEntry, CurrencySummary, CurrencyTotals, DailyVolume, DayTotals,
};
use ledger_domain::{AccountStatus, Currency, Money, MoneyTotal};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::projections::rm_error;

fn decode_err(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(e.to_string().into())
}

fn currency(code: &str) -> Result<Currency, sqlx::Error> {
    Currency::parse(code).map_err(decode_err)
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The columns of a `current_state` row, its wide sums (NUMERIC) read as text.
pub(crate) const ACCOUNT_COLUMNS: &str = "account_id, owner, currency, balance, status, version, \
    total_deposits::text AS total_deposits, total_withdrawals::text AS total_withdrawals, \
    transaction_count, opened_at, updated_at, closed_at";

/// A wide sum (a NUMERIC column selected as text) in minor units.
fn wide(r: &PgRow, column: &str) -> Result<i128, sqlx::Error> {
    let text: &str = r.try_get(column)?;
    text.parse()
        .map_err(|_| decode_err(format!("{column} is not an integer: {text}")))
}

/// Maps a `current_state` row (selected with [`ACCOUNT_COLUMNS`]).
pub(crate) fn account_row(r: &PgRow) -> Result<AccountView, sqlx::Error> {
    let c = currency(r.try_get("currency")?)?;
    let status: &str = r.try_get("status")?;
    let status = AccountStatus::parse(status)
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
        opened_at: r.try_get("opened_at")?,
        updated_at: r.try_get("updated_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

fn audit_row(r: &PgRow) -> Result<AuditEntry, sqlx::Error> {
    let amount: Option<i64> = r.try_get("amount")?;
    let code: Option<String> = r.try_get("currency")?;
    let currency = code.as_deref().map(currency).transpose()?;
    let amount = match (amount, currency) {
        (Some(a), Some(c)) => Some(Money::from_minor(a, c)),
        _ => None,
    };
    Ok(AuditEntry {
        position: u64_of(r.try_get("position")?),
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        stream_id: r.try_get("stream_id")?,
        version: u64_of(r.try_get("version")?),
        actor: r.try_get("actor")?,
        request_id: r.try_get("request_id")?,
        recorded_at: r.try_get("recorded_at")?,
        amount,
        currency,
    })
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
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl ReadModels for PgReadModels {
    async fn account(&self, account_id: &str) -> Result<Option<AccountView>, ReadModelError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM current_state WHERE account_id = $1"
        ))
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(rm_error)?;
        row.as_ref().map(account_row).transpose().map_err(rm_error)
    }

    async fn accounts(&self, f: AccountFilter) -> Result<Vec<AccountView>, ReadModelError> {
        let status = f.status.map(AccountStatus::as_str);
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM current_state WHERE ($1::text IS NULL OR owner = $1) \
             AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR account_id > $3) \
             ORDER BY account_id LIMIT $4",
        ))
        .bind(f.owner)
        .bind(status)
        .bind(f.after)
        .bind(limit(f.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(rm_error)?;
        rows.iter()
            .map(account_row)
            .collect::<Result<_, _>>()
            .map_err(rm_error)
    }

    async fn audit(&self, f: AuditFilter) -> Result<Vec<AuditEntry>, ReadModelError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_log WHERE ($1::text IS NULL OR stream_id = $1) \
             AND ($2::text IS NULL OR event_type = $2) \
             AND ($3::timestamptz IS NULL OR recorded_at >= $3) \
             AND ($4::timestamptz IS NULL OR recorded_at <= $4) \
             AND ($5::text IS NULL OR (hashtext(request_id) = hashtext($5) AND request_id = $5)) \
             AND ($6::bigint IS NULL OR position < $6) \
             ORDER BY position DESC LIMIT $7",
        )
        .bind(f.account_id)
        .bind(f.event_type)
        .bind(f.from)
        .bind(f.to)
        .bind(f.request_id)
        .bind(f.before.map(|b| i64::try_from(b).unwrap_or(i64::MAX)))
        .bind(limit(f.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(rm_error)?;
        rows.iter()
            .map(audit_row)
            .collect::<Result<_, _>>()
            .map_err(rm_error)
    }

    async fn summary(&self) -> Result<Vec<CurrencySummary>, ReadModelError> {
        let rows = sqlx::query(
            "SELECT currency, open_accounts, closed_accounts, total_balance::text AS total_balance, \
                total_deposited::text AS total_deposited, total_withdrawn::text AS total_withdrawn, \
                transfer_volume::text AS transfer_volume, event_count \
             FROM analytics_currency ORDER BY currency",
        )
            .fetch_all(&self.pool)
            .await
            .map_err(rm_error)?;
        rows.iter()
            .map(|r| {
                Ok(CurrencySummary {
                    currency: currency(r.try_get("currency")?)?,
                    totals: CurrencyTotals {
                        open_accounts: r.try_get("open_accounts")?,
                        closed_accounts: r.try_get("closed_accounts")?,
                        total_balance: wide(r, "total_balance")?,
                        total_deposited: wide(r, "total_deposited")?,
                        total_withdrawn: wide(r, "total_withdrawn")?,
                        transfer_volume: wide(r, "transfer_volume")?,
                        event_count: r.try_get("event_count")?,
                    },
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
        let rows = sqlx::query(
            "SELECT day, currency, deposit_count, deposit_volume::text AS deposit_volume, \
                withdrawal_count, withdrawal_volume::text AS withdrawal_volume, transfer_count, \
                transfer_volume::text AS transfer_volume \
             FROM analytics_daily WHERE ($1::text IS NULL OR currency = $1) \
             AND ($2::date IS NULL OR day >= $2) AND ($3::date IS NULL OR day <= $3) \
             ORDER BY day, currency LIMIT 10000",
        )
        .bind(c.map(|c| c.code()))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(rm_error)?;
        rows.iter()
            .map(|r| {
                Ok(DailyVolume {
                    date: r.try_get("day")?,
                    currency: currency(r.try_get("currency")?)?,
                    totals: DayTotals {
                        deposit_count: r.try_get("deposit_count")?,
                        deposit_volume: wide(r, "deposit_volume")?,
                        withdrawal_count: r.try_get("withdrawal_count")?,
                        withdrawal_volume: wide(r, "withdrawal_volume")?,
                        transfer_count: r.try_get("transfer_count")?,
                        transfer_volume: wide(r, "transfer_volume")?,
                    },
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(rm_error)
    }
}
