//! The SQL of the read-model queries on SQLite (`queries.rs` runs them).
//!
//! The lists are built with only the filters a request gives. SQLite plans a statement
//! once, before its parameters are bound, so a condition written
//! `(?n IS NULL OR column = ?n)` can never be an index bound: such a list scanned
//! its whole table, or walked its index from the start, whatever the request asked.

use ledger_application::ports::readmodel::{AccountFilter, AuditFilter, DailyFilter};
use ledger_sql::{i64_of, limit};
use sqlx::{QueryBuilder, Sqlite};

use crate::queries::{day, micros};

/// `GET /accounts`: by id from the cursor (SQLite compares text byte by byte).
pub fn accounts_query(f: &AccountFilter) -> QueryBuilder<'_, Sqlite> {
    let mut q = QueryBuilder::new("SELECT * FROM current_state WHERE 1");
    if let Some(owner) = &f.owner {
        q.push(" AND owner = ").push_bind(owner.as_str());
    }
    if let Some(status) = f.status {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(after) = &f.after {
        q.push(" AND account_id > ").push_bind(after.as_str());
    }
    q.push(" ORDER BY account_id LIMIT ")
        .push_bind(limit(f.limit));
    q
}

/// `GET /audit`: newest first, from the cursor.
pub fn audit_query(f: &AuditFilter) -> QueryBuilder<'_, Sqlite> {
    let mut q = QueryBuilder::new("SELECT * FROM audit_log WHERE 1");
    if let Some(account) = &f.account_id {
        q.push(" AND stream_id = ").push_bind(account.as_str());
    }
    if let Some(event_type) = &f.event_type {
        q.push(" AND event_type = ").push_bind(event_type.as_str());
    }
    if let Some(from) = f.from {
        q.push(" AND recorded_at >= ").push_bind(micros(from));
    }
    if let Some(to) = f.to {
        q.push(" AND recorded_at <= ").push_bind(micros(to));
    }
    if let Some(request_id) = &f.request_id {
        q.push(" AND request_id = ").push_bind(request_id.as_str());
    }
    if let Some(before) = f.before {
        q.push(" AND position < ").push_bind(i64_of(before));
    }
    if let Some(owner) = &f.owner {
        q.push(" AND stream_id IN (SELECT account_id FROM current_state WHERE owner = ")
            .push_bind(owner.as_str())
            .push(")");
    }
    q.push(" ORDER BY position DESC LIMIT ")
        .push_bind(limit(f.limit));
    q
}

/// `GET /analytics/daily`: by day, then currency, from the cursor.
pub fn daily_query(f: &DailyFilter) -> QueryBuilder<'_, Sqlite> {
    let mut q = QueryBuilder::new("SELECT * FROM analytics_daily WHERE 1");
    if let Some(currency) = f.currency {
        q.push(" AND currency = ").push_bind(currency.code());
    }
    if let Some(from) = f.from {
        q.push(" AND day >= ").push_bind(day(from));
    }
    if let Some(to) = f.to {
        q.push(" AND day <= ").push_bind(day(to));
    }
    if let Some((after, currency)) = f.after {
        q.push(" AND (day, currency) > (")
            .push_bind(day(after))
            .push(", ")
            .push_bind(currency.code())
            .push(")");
    }
    q.push(" ORDER BY day, currency LIMIT ")
        .push_bind(limit(f.limit));
    q
}

/// `GET /transfers` without an account: newest first over the whole view.
pub(crate) const TRANSFERS: &str = "SELECT view FROM transfers WHERE ?1 IS NULL \
    AND (?2 IS NULL OR status = ?2) \
      AND created_position < COALESCE(?3, 9223372036854775807) \
      AND (?5 IS NULL OR from_account_id IN (SELECT account_id FROM current_state WHERE owner = ?5) \
        OR to_account_id IN (SELECT account_id FROM current_state WHERE owner = ?5)) \
      ORDER BY created_position DESC LIMIT ?4";

/// `GET /transfers?account_id=`: the newest of its transfers out and of its transfers in.
pub(crate) const TRANSFERS_OF_ACCOUNT: &str = "SELECT view FROM ( \
    SELECT * FROM (SELECT view, created_position FROM transfers WHERE from_account_id = ?1 \
      AND (?2 IS NULL OR status = ?2) \
      AND created_position < COALESCE(?3, 9223372036854775807) \
      AND (?5 IS NULL OR from_account_id IN (SELECT account_id FROM current_state WHERE owner = ?5) \
        OR to_account_id IN (SELECT account_id FROM current_state WHERE owner = ?5)) \
      ORDER BY created_position DESC LIMIT ?4) AS outgoing \
    UNION ALL \
    SELECT * FROM (SELECT view, created_position FROM transfers WHERE to_account_id = ?1 \
      AND from_account_id <> ?1 AND (?2 IS NULL OR status = ?2) \
      AND created_position < COALESCE(?3, 9223372036854775807) \
      AND (?5 IS NULL OR from_account_id IN (SELECT account_id FROM current_state WHERE owner = ?5) \
        OR to_account_id IN (SELECT account_id FROM current_state WHERE owner = ?5)) \
      ORDER BY created_position DESC LIMIT ?4) AS incoming \
    ) AS both_ways ORDER BY created_position DESC LIMIT ?4";
