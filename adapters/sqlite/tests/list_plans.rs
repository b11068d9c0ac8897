//! Every list seeks its index from the filter it is given and from its cursor: the
//! plan SQLite makes of each list's text (before any value is bound) names an index
//! and scans no table.

use chrono::{NaiveDate, Utc};
use ledger_application::ports::readmodel::{AccountFilter, AuditFilter, DailyFilter};
use ledger_domain::{AccountStatus, Currency};
use ledger_sqlite::view_sql::{accounts_query, audit_query, daily_query};
use sqlx::SqlitePool;

mod common;
use common::TempDir;

/// The plan's lines for `sql`, one per step.
async fn plan(pool: &SqlitePool, sql: &str) -> Vec<String> {
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
        .fetch_all(pool)
        .await
        .expect("explain");
    rows.into_iter().map(|(_, _, _, detail)| detail).collect()
}

/// Each step of `plan` reads an index (the read models' tables hold no rows here, so
/// this is the plan SQLite makes from the text alone, as it does for every statement
/// it prepares), `index` among them, and nothing is sorted after reading.
fn assert_seeks(plan: &[String], index: &str) {
    assert!(plan.iter().any(|l| l.contains(index)), "{index}: {plan:?}");
    assert!(
        plan.iter().all(|l| l.starts_with("SEARCH")),
        "a step scans a table: {plan:?}"
    );
    assert!(
        !plan.iter().any(|l| l.contains("TEMP B-TREE")),
        "a step sorts: {plan:?}"
    );
}

#[tokio::test]
async fn lists_seek_their_indexes() {
    let dir = std::env::temp_dir().join(format!("ledger-sqlite-{}", uuid::Uuid::new_v4()));
    let store = ledger_sqlite::open(&format!("sqlite://{}/ledger.db", dir.display()))
        .await
        .expect("open");
    let read_models = ledger_sqlite::open_read_models(&store).await.expect("open");
    let _dir = TempDir(dir);
    let pool = read_models.reader();

    let accounts = |owner: Option<&str>, status| AccountFilter {
        owner: owner.map(str::to_owned),
        status,
        after: Some("acc-5".into()),
        limit: 50,
    };
    for (filter, index) in [
        (accounts(None, None), "sqlite_autoindex_current_state_1"),
        (accounts(Some("owner-1"), None), "current_state_owner_idx"),
        (
            accounts(Some("owner-1"), Some(AccountStatus::Open)),
            "current_state_owner_idx",
        ),
    ] {
        assert_seeks(&plan(pool, accounts_query(&filter).sql()).await, index);
    }

    let audit = |f: fn(&mut AuditFilter)| {
        let mut filter = AuditFilter {
            before: Some(1_000),
            limit: 50,
            ..AuditFilter::default()
        };
        f(&mut filter);
        filter
    };
    for (filter, index) in [
        (audit(|_| {}), "INTEGER PRIMARY KEY"),
        (
            audit(|f| f.account_id = Some("acc-1".into())),
            "audit_log_stream_idx",
        ),
        (
            audit(|f| f.request_id = Some("req-1".into())),
            "audit_log_request_idx",
        ),
        (
            audit(|f| f.event_type = Some("MoneyDeposited".into())),
            "audit_log_type_idx",
        ),
        (audit(|f| f.from = Some(Utc::now())), "INTEGER PRIMARY KEY"),
    ] {
        assert_seeks(&plan(pool, audit_query(&filter).sql()).await, index);
    }

    let day = NaiveDate::from_ymd_opt(2026, 1, 2).expect("day");
    let daily = DailyFilter {
        currency: None,
        from: Some(day),
        to: None,
        after: Some((day, Currency::parse("EUR").expect("EUR"))),
        limit: 50,
    };
    assert_seeks(
        &plan(pool, daily_query(&daily).sql()).await,
        "sqlite_autoindex_analytics_daily_1",
    );
}
