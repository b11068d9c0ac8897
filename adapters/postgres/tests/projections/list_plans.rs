//! The lists as the service builds them seek their cursor and their filter in every
//! plan PostgreSQL may use for them.

use super::*;

/// The plans of the prepared `sql` with `args`, its first one and the generic one a
/// connection may keep after five calls: each reads `index` with a condition (`Index
/// Cond`) on `bound`. (A filter written `($n IS NULL OR column > $n)` is a bound of
/// the first plans only, made with the values.)
async fn assert_seeks(
    pool: &sqlx::PgPool,
    sql: &str,
    args: &str,
    index: &str,
    bound: &str,
) -> Vec<String> {
    use ledger_postgres::testing::{generic_plan, plan_of_prepared};
    let mut plans = Vec::new();
    for plan in [
        plan_of_prepared(pool, sql, args).await,
        generic_plan(pool, sql, args).await,
    ] {
        assert!(plan.contains(index), "{sql}: {plan}");
        assert!(
            plan.lines()
                .any(|l| l.contains("Index Cond") && l.contains(bound)),
            "{sql}: not a bound of the index scan: {plan}"
        );
        plans.push(plan);
    }
    plans
}

/// As [`assert_seeks`], and the index gives the rows in the list's order: nothing
/// sorts them.
async fn assert_seeks_in_order(
    pool: &sqlx::PgPool,
    sql: &str,
    args: &str,
    index: &str,
    bound: &str,
) {
    for plan in assert_seeks(pool, sql, args, index, bound).await {
        assert!(!plan.contains("Sort"), "{sql}: {plan}");
    }
}

/// The lists as the service builds them, on tables with statistics, seek their
/// cursor (and their filter) in the plan of the first calls and in the one a
/// connection keeps later: a deep page costs what the first does.
#[tokio::test]
async fn lists_seek_their_cursors() {
    use ledger_application::ports::readmodel::{AccountFilter, AuditFilter, DailyFilter};
    use ledger_domain::{AccountStatus, Currency};
    use ledger_postgres::testing::{accounts_query, audit_query, daily_query};
    let (_db, pool) = TestDatabase::migrated(4).await;
    sqlx::raw_sql(
        "INSERT INTO current_state (account_id, owner, currency, balance, status, version, \
            total_deposits, total_withdrawals, transaction_count, opened_at, updated_at) \
         SELECT 'acc-' || i, 'owner-' || (i % 2), 'USD', 0, \
            CASE WHEN i % 10 = 0 THEN 'closed' ELSE 'open' END, 1, 0, 0, 0, now(), now() \
         FROM generate_series(1, 20000) AS i; \
         INSERT INTO audit_log (position, event_id, event_type, stream_id, version, actor, \
            request_id, recorded_at) \
         SELECT i, gen_random_uuid(), 'MoneyDeposited', 'acc-' || (i % 100), i, 'a', \
            'req-' || i, now() FROM generate_series(1, 20000) AS i; \
         INSERT INTO analytics_daily (day, currency) \
         SELECT DATE '2000-01-01' + i, c FROM generate_series(0, 4999) AS i, \
            unnest(ARRAY['EUR', 'GBP', 'JPY', 'USD']) AS c; \
         ANALYZE",
    )
    .execute(&pool)
    .await
    .expect("rows");
    let accounts = |owner: Option<&str>, status| AccountFilter {
        owner: owner.map(str::to_owned),
        status,
        after: Some("acc-5".into()),
        limit: 50,
    };
    for (filter, args, index) in [
        (
            accounts(None, None),
            "'acc-5', 50",
            "current_state_id_bytes_idx",
        ),
        (
            accounts(Some("owner-1"), None),
            "'owner-1', 'acc-5', 50",
            "current_state_owner_idx",
        ),
        (
            accounts(None, Some(AccountStatus::Closed)),
            "'closed', 'acc-5', 50",
            "current_state_status_idx",
        ),
    ] {
        let sql = accounts_query(&filter).sql().to_owned();
        assert_seeks_in_order(&pool, &sql, args, index, "account_id").await;
    }
    let audit = AuditFilter {
        before: Some(10_000),
        limit: 50,
        ..AuditFilter::default()
    };
    let sql = audit_query(&audit).sql().to_owned();
    assert_seeks_in_order(&pool, &sql, "10000, 50", "audit_log_pkey", "position").await;
    let by_request = AuditFilter {
        request_id: Some("req-7".into()),
        ..audit
    };
    let sql = audit_query(&by_request).sql().to_owned();
    // A request's few entries are sorted once read.
    let args = "'req-7', 10000, 50";
    assert_seeks(&pool, &sql, args, "audit_log_request_idx", "request_id").await;
    let day = chrono::NaiveDate::from_ymd_opt(2010, 1, 1).expect("day");
    let daily = DailyFilter {
        currency: None,
        from: None,
        to: None,
        after: Some((day, Currency::parse("GBP").expect("GBP"))),
        limit: 50,
    };
    let sql = daily_query(&daily).sql().to_owned();
    let args = "'2010-01-01', 'GBP', 50";
    assert_seeks_in_order(&pool, &sql, args, "analytics_daily_pkey", "day").await;
}
