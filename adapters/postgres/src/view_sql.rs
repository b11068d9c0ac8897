//! The SQL of the read-model queries on PostgreSQL (`queries.rs` runs them).
//!
//! The lists are built with only the filters a request gives. A condition written
//! `($n IS NULL OR column > $n)` cannot be an index bound: once PostgreSQL keeps a
//! statement's generic plan (after five calls on a connection), such a list walks its
//! index from the start, filtering, instead of seeking the cursor or the filter's value.

use ledger_application::ports::readmodel::{AccountFilter, AuditFilter, DailyFilter};
use ledger_sql::{i64_of, limit};
use sqlx::{Postgres, QueryBuilder};

use crate::queries::ACCOUNT_COLUMNS;

/// `GET /accounts`: by id, byte by byte, from the cursor.
pub fn accounts_query(f: &AccountFilter) -> QueryBuilder<'_, Postgres> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {ACCOUNT_COLUMNS} FROM current_state WHERE TRUE"
    ));
    if let Some(owner) = &f.owner {
        q.push(" AND owner = ").push_bind(owner.as_str());
    }
    if let Some(status) = f.status {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(after) = &f.after {
        q.push(" AND account_id COLLATE \"C\" > ")
            .push_bind(after.as_str());
    }
    q.push(" ORDER BY account_id COLLATE \"C\" LIMIT ")
        .push_bind(limit(f.limit));
    q
}

/// `GET /audit` without an account or an owner: newest first over the whole log.
pub fn audit_query(f: &AuditFilter) -> QueryBuilder<'_, Postgres> {
    let mut q = QueryBuilder::new("SELECT * FROM audit_log WHERE TRUE");
    if let Some(event_type) = &f.event_type {
        q.push(" AND event_type = ").push_bind(event_type.as_str());
    }
    if let Some(from) = f.from {
        q.push(" AND recorded_at >= ").push_bind(from);
    }
    if let Some(to) = f.to {
        q.push(" AND recorded_at <= ").push_bind(to);
    }
    if let Some(request_id) = &f.request_id {
        q.push(" AND request_id = ").push_bind(request_id.as_str());
    }
    if let Some(before) = f.before {
        q.push(" AND position < ").push_bind(i64_of(before));
    }
    q.push(" ORDER BY position DESC LIMIT ")
        .push_bind(limit(f.limit));
    q
}

/// `GET /analytics/daily`: by day, then currency, from the cursor.
pub fn daily_query(f: &DailyFilter) -> QueryBuilder<'_, Postgres> {
    let mut q = QueryBuilder::new(
        "SELECT day, currency, deposit_count, deposit_volume::text AS deposit_volume, \
            withdrawal_count, withdrawal_volume::text AS withdrawal_volume, transfer_count, \
            transfer_volume::text AS transfer_volume FROM analytics_daily WHERE TRUE",
    );
    if let Some(currency) = f.currency {
        q.push(" AND currency = ").push_bind(currency.code());
    }
    if let Some(from) = f.from {
        q.push(" AND day >= ").push_bind(from);
    }
    if let Some(to) = f.to {
        q.push(" AND day <= ").push_bind(to);
    }
    if let Some((day, currency)) = f.after {
        q.push(" AND (day, currency) > (")
            .push_bind(day)
            .push(", ")
            .push_bind(currency.code())
            .push(")");
    }
    q.push(" ORDER BY day, currency LIMIT ")
        .push_bind(limit(f.limit));
    q
}

/// `GET /transfers` without an account: newest first over the whole view.
pub(crate) const TRANSFERS: &str = "SELECT view FROM transfers WHERE $1::text IS NULL \
    AND ($2::text IS NULL OR status = $2) \
      AND created_position < COALESCE($3, 9223372036854775807) \
      AND ($5::text IS NULL OR from_account_id IN (SELECT account_id FROM current_state WHERE owner = $5) \
        OR to_account_id IN (SELECT account_id FROM current_state WHERE owner = $5)) \
      ORDER BY created_position DESC LIMIT $4";

/// `GET /transfers?account_id=`: the newest of its transfers out and of its transfers in.
pub(crate) const TRANSFERS_OF_ACCOUNT: &str = "SELECT view FROM ( \
    SELECT * FROM (SELECT view, created_position FROM transfers WHERE from_account_id = $1 \
      AND ($2::text IS NULL OR status = $2) \
      AND created_position < COALESCE($3, 9223372036854775807) \
      AND ($5::text IS NULL OR from_account_id IN (SELECT account_id FROM current_state WHERE owner = $5) \
        OR to_account_id IN (SELECT account_id FROM current_state WHERE owner = $5)) \
      ORDER BY created_position DESC LIMIT $4) AS outgoing \
    UNION ALL \
    SELECT * FROM (SELECT view, created_position FROM transfers WHERE to_account_id = $1 \
      AND from_account_id <> $1 AND ($2::text IS NULL OR status = $2) \
      AND created_position < COALESCE($3, 9223372036854775807) \
      AND ($5::text IS NULL OR from_account_id IN (SELECT account_id FROM current_state WHERE owner = $5) \
        OR to_account_id IN (SELECT account_id FROM current_state WHERE owner = $5)) \
      ORDER BY created_position DESC LIMIT $4) AS incoming \
    ) AS both_ways ORDER BY created_position DESC LIMIT $4";

/// [`TRANSFERS_OF_ACCOUNT`] without a status or an owner, as `/transfers?account_id=`
/// asks: no `IS NULL OR` filters (the cursor a bound the index seeks to), so that
/// PostgreSQL's generic plan of it costs what a custom one does and a connection keeps
/// it after five calls instead of planning every call (as [`AUDIT_OF_STREAM_ALONE`]).
pub const TRANSFERS_OF_ACCOUNT_ALONE: &str = "SELECT view FROM ( \
    SELECT * FROM (SELECT view, created_position FROM transfers WHERE from_account_id = $1 \
      AND created_position < COALESCE($2, 9223372036854775807) \
      ORDER BY created_position DESC LIMIT $3) AS outgoing \
    UNION ALL \
    SELECT * FROM (SELECT view, created_position FROM transfers WHERE to_account_id = $1 \
      AND from_account_id <> $1 AND created_position < COALESCE($2, 9223372036854775807) \
      ORDER BY created_position DESC LIMIT $3) AS incoming \
    ) AS both_ways ORDER BY created_position DESC LIMIT $3";

/// One stream's entries, newest first, read from the events' own `(stream_id, version)`
/// index and joined to the log by position (the log keeps no index by stream: one
/// fewer written per event). A stream's positions grow with its versions, so the
/// cursor becomes a version bound the index seeks to (`ledger_stream_version_before`,
/// a binary search: every page costs the same however deep).
pub const AUDIT_OF_STREAM: &str = "SELECT a.* FROM events e \
    JOIN audit_log a ON a.position = e.position \
    WHERE e.stream_id = $1 AND e.version <= ledger_stream_version_before($1, $6) \
    AND ($2::text IS NULL OR a.event_type = $2) \
    AND ($3::timestamptz IS NULL OR a.recorded_at >= $3) \
    AND ($4::timestamptz IS NULL OR a.recorded_at <= $4) \
    AND ($5::text IS NULL OR a.request_id = $5) \
    AND ($8::text IS NULL OR EXISTS (SELECT 1 FROM current_state s \
        WHERE s.account_id = $1 AND s.owner = $8)) \
    ORDER BY e.version DESC LIMIT $7";

/// [`AUDIT_OF_STREAM`] without the other filters, the way `/audit?account_id=` asks:
/// with no `IS NULL OR` filters, PostgreSQL's generic plan of it costs what a custom
/// plan does, so after five calls a connection keeps one plan instead of planning every
/// call (0.13 ms a call at ten million events, BENCHMARKS.md).
pub const AUDIT_OF_STREAM_ALONE: &str = "SELECT a.* FROM events e \
    JOIN audit_log a ON a.position = e.position \
    WHERE e.stream_id = $1 AND e.version <= ledger_stream_version_before($1, $2) \
    ORDER BY e.version DESC LIMIT $3";

/// An owner's entries: the newest of each of its accounts' streams (as above), merged.
pub const AUDIT_OF_OWNER: &str = "SELECT x.* FROM current_state s CROSS JOIN LATERAL ( \
    SELECT a.* FROM events e JOIN audit_log a ON a.position = e.position \
    WHERE e.stream_id = s.account_id \
    AND e.version <= ledger_stream_version_before(s.account_id, $6::bigint) \
    AND ($2::text IS NULL OR a.event_type = $2) \
    AND ($3::timestamptz IS NULL OR a.recorded_at >= $3) \
    AND ($4::timestamptz IS NULL OR a.recorded_at <= $4) \
    AND ($5::text IS NULL OR a.request_id = $5) \
    ORDER BY e.version DESC LIMIT $7) x \
    WHERE $1::text IS NULL AND s.owner = $8 \
    ORDER BY x.position DESC LIMIT $7";

/// Verify's read of the audit log: a run of positions, oldest first, from its key.
pub const AUDIT_BETWEEN: &str =
    "SELECT * FROM audit_log WHERE position BETWEEN $1 AND $2 ORDER BY position";
