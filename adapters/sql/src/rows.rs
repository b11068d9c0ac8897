//! Read-model rows into views, once for both dialects.

use chrono::{DateTime, NaiveDate, Utc};
use ledger_application::transfer_views::TransferRow;
use ledger_application::views::{
    AccountView, AuditEntry, CurrencySummary, CurrencyTotals, DailyVolume, DayTotals,
};
use ledger_domain::{AccountStatus, Currency, Money, MoneyTotal};

use crate::{decode_error, u64_of};

/// Typed column access; each dialect maps its own storage (PostgreSQL `timestamptz`,
/// `uuid` and `NUMERIC`; SQLite microseconds, text and decimal text) to these types.
pub trait Columns {
    /// A text column.
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    /// A nullable text column.
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// An integer column.
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    /// A nullable integer column.
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    /// A wide sum in minor units (selected as decimal text on both dialects).
    fn wide(&self, column: &str) -> Result<i128, sqlx::Error> {
        let text = self.text(column)?;
        text.parse()
            .map_err(|_| decode_error(format!("{column} is not an integer: {text}")))
    }
    /// An instant.
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error>;
    /// A nullable instant.
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
    /// A UUID.
    fn uuid(&self, column: &str) -> Result<uuid::Uuid, sqlx::Error>;
    /// A calendar day.
    fn date(&self, column: &str) -> Result<NaiveDate, sqlx::Error>;
    /// A byte string (`BYTEA`, `BLOB`).
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error>;
}

fn currency(code: &str) -> Result<Currency, sqlx::Error> {
    Currency::parse(code).map_err(decode_error)
}

/// Maps a `current_state` row.
pub fn account_view(r: &impl Columns) -> Result<AccountView, sqlx::Error> {
    let c = currency(&r.text("currency")?)?;
    let status = r.text("status")?;
    let status = AccountStatus::parse(&status)
        .ok_or_else(|| decode_error(format!("unknown account status {status}")))?;
    Ok(AccountView {
        account_id: r.text("account_id")?,
        owner: r.text("owner")?,
        currency: c,
        balance: Money::from_minor(r.int("balance")?, c),
        pending_out: Money::from_minor(r.int("pending_out")?, c),
        pending_in: Money::from_minor(r.int("pending_in")?, c),
        overdraft_limit: Money::from_minor(r.int("overdraft_limit")?, c),
        status,
        version: u64_of(r.int("version")?),
        total_deposits: MoneyTotal::from_minor(r.wide("total_deposits")?, c),
        total_withdrawals: MoneyTotal::from_minor(r.wide("total_withdrawals")?, c),
        transaction_count: u64_of(r.int("transaction_count")?),
        opened_at: r.time("opened_at")?,
        updated_at: r.time("updated_at")?,
        closed_at: r.opt_time("closed_at")?,
    })
}

/// Maps an `audit_log` row.
pub fn audit_entry(r: &impl Columns) -> Result<AuditEntry, sqlx::Error> {
    let currency = r
        .opt_text("currency")?
        .as_deref()
        .map(currency)
        .transpose()?;
    let amount = match (r.opt_int("amount")?, currency) {
        (Some(a), Some(c)) => Some(Money::from_minor(a, c)),
        _ => None,
    };
    Ok(AuditEntry {
        position: u64_of(r.int("position")?),
        event_id: r.uuid("event_id")?,
        event_type: r.text("event_type")?,
        stream_id: r.text("stream_id")?,
        version: u64_of(r.int("version")?),
        actor: r.text("actor")?,
        request_id: r.opt_text("request_id")?,
        recorded_at: r.time("recorded_at")?,
        amount,
        currency,
    })
}

/// Maps a `transfers` row (its `view` column: the JSON of the view).
pub fn transfer_row(r: &impl Columns) -> Result<TransferRow, sqlx::Error> {
    serde_json::from_str(&r.text("view")?).map_err(decode_error)
}

/// A `transfers` row, and what its filter columns (what `GET /transfers` and the
/// expirer select by) say that its `view` does not, if anything.
pub fn transfer_checked(r: &impl Columns) -> Result<(TransferRow, Option<String>), sqlx::Error> {
    let row = transfer_row(r)?;
    let id = r.text("transfer_id")?;
    let micros = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros());
    let pairs = [
        ("transfer_id", id, row.view.transfer_id.clone()),
        ("status", r.text("status")?, row.view.status.as_str().into()),
        (
            "from_account_id",
            r.text("from_account_id")?,
            row.view.from_account_id.clone(),
        ),
        (
            "to_account_id",
            r.text("to_account_id")?,
            row.view.to_account_id.clone(),
        ),
        (
            "expires_at",
            format!("{:?}", micros(r.opt_time("expires_at")?)),
            format!("{:?}", micros(row.view.expires_at)),
        ),
        (
            "created_position",
            r.int("created_position")?.to_string(),
            row.created_position.to_string(),
        ),
    ];
    let apart: Vec<String> = pairs
        .into_iter()
        .filter(|(_, column, view)| column != view)
        .map(|(name, column, view)| format!("{name}: column {column:?}, view {view:?}"))
        .collect();
    Ok((row, (!apart.is_empty()).then(|| apart.join("; "))))
}

/// A transfers row's `view` column.
pub fn transfer_json(row: &TransferRow) -> String {
    // A struct of strings, numbers and options: serializing cannot fail.
    serde_json::to_string(row).unwrap_or_default()
}

/// Maps an `analytics_currency` row.
pub fn currency_summary(r: &impl Columns) -> Result<CurrencySummary, sqlx::Error> {
    Ok(CurrencySummary {
        currency: currency(&r.text("currency")?)?,
        totals: currency_totals(r)?,
    })
}

/// Maps an `analytics_currency` row's totals.
pub fn currency_totals(r: &impl Columns) -> Result<CurrencyTotals, sqlx::Error> {
    Ok(CurrencyTotals {
        open_accounts: r.int("open_accounts")?,
        closed_accounts: r.int("closed_accounts")?,
        total_balance: r.wide("total_balance")?,
        total_deposited: r.wide("total_deposited")?,
        total_withdrawn: r.wide("total_withdrawn")?,
        transfer_volume: r.wide("transfer_volume")?,
        pending_volume: r.wide("pending_volume")?,
        event_count: r.int("event_count")?,
    })
}

/// Maps an `analytics_daily` row.
pub fn daily_volume(r: &impl Columns) -> Result<DailyVolume, sqlx::Error> {
    Ok(DailyVolume {
        date: r.date("day")?,
        currency: currency(&r.text("currency")?)?,
        totals: day_totals(r)?,
    })
}

/// Maps an `analytics_daily` row's volumes.
pub fn day_totals(r: &impl Columns) -> Result<DayTotals, sqlx::Error> {
    Ok(DayTotals {
        deposit_count: r.int("deposit_count")?,
        deposit_volume: r.wide("deposit_volume")?,
        withdrawal_count: r.int("withdrawal_count")?,
        withdrawal_volume: r.wide("withdrawal_volume")?,
        transfer_count: r.int("transfer_count")?,
        transfer_volume: r.wide("transfer_volume")?,
    })
}
