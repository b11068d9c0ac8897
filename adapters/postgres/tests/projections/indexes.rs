//! The indexes a rebuild keeps, and the plans the audit log's and transfers' filtered
//! reads use on a table with statistics.

use super::*;

/// Rebuild tables are filled without their secondary indexes, which are built at the
/// end: after two rebuilds the live tables have exactly the indexes (names and
/// definitions) the migrations gave them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilt_tables_keep_every_index() {
    use ledger_application::ports::readmodel::PROJECTIONS;
    use ledger_application::projection::ProjectionRunner;
    let (db, pool) = TestDatabase::migrated(20).await;
    let indexes = || async {
        sqlx::query_as::<_, (String, String)>(
            "SELECT indexname::text, regexp_replace(indexdef, '__rebuild', '', 'g') \
             FROM pg_indexes WHERE schemaname = 'public' AND tablename IN \
             ('current_state', 'analytics_currency', 'analytics_daily', 'audit_log') \
             ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    // Constraints too: the audit log's copy is filled without its primary key, which
    // is added back from an index built at the end.
    let constraints = || async {
        sqlx::query_as::<_, (String, String, String)>(
            "SELECT conrelid::regclass::text, conname::text, \
                    regexp_replace(pg_get_constraintdef(oid), '__rebuild', '', 'g') \
             FROM pg_constraint WHERE conrelid IN ('current_state'::regclass, \
                'analytics_currency'::regclass, 'analytics_daily'::regclass, \
                'audit_log'::regclass) ORDER BY 1, 2",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let before = indexes().await;
    assert!(
        before.iter().any(|(n, _)| n == "audit_log_request_idx"),
        "{before:?}"
    );
    let constraints_before = constraints().await;
    assert!(
        constraints_before
            .iter()
            .any(|(t, n, d)| t == "audit_log" && n == "audit_log_pkey" && d.contains("PRIMARY")),
        "{constraints_before:?}"
    );
    let runner = ProjectionRunner::new(
        Arc::new(PgEventStore::new(pool.clone())),
        Arc::new(PgProjectionStore::new(pool.clone())),
        100,
    );
    // Whether each live table was analyzed (autovacuum is not fast enough to have).
    let analyzed = || async {
        sqlx::query_as::<_, (String, bool)>(
            "SELECT relname::text, last_analyze IS NOT NULL FROM pg_stat_user_tables \
             WHERE relname IN ('current_state', 'analytics_currency', 'analytics_daily', \
                   'audit_log', 'transfers') AND schemaname = 'public' ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    for _ in 0..2 {
        runner
            .rebuild_many(&PROJECTIONS, &|_| {})
            .await
            .expect("rebuild");
        assert_eq!(indexes().await, before);
        assert_eq!(constraints().await, constraints_before);
        // Swapped in analyzed: the planner has statistics at once.
        let live = analyzed().await;
        assert_eq!(live.len(), 5, "{live:?}");
        assert!(live.iter().all(|(_, yes)| *yes), "{live:?}");
    }
    drop(db);
}

/// The audit log's filters by request id and by time use their indexes (a B-tree on the
/// id, and BRIN).
#[tokio::test]
async fn audit_filters_use_their_indexes() {
    let (_db, pool) = TestDatabase::migrated(4).await;
    let plan = |sql: &'static str| ledger_postgres::testing::plan_without_seqscan(&pool, sql);
    let by_request = plan("SELECT * FROM audit_log WHERE request_id = 'r-1'").await;
    assert!(by_request.contains("audit_log_request_idx"), "{by_request}");
    let by_time = plan(
        "SELECT * FROM audit_log WHERE recorded_at >= '2026-01-01' \
         AND recorded_at <= '2026-01-02'",
    )
    .await;
    assert!(by_time.contains("audit_log_time_idx"), "{by_time}");
}

/// One stream's audit entries (and an owner's) are read from the events' own
/// `(stream_id, version)` index, backwards from the cursor's version, and the log's
/// primary key, on a table with statistics: the log keeps no index by stream, and
/// nothing sorts a stream. The cursor's version is found by a binary search.
#[tokio::test]
async fn audit_of_a_stream_reads_the_events_index() {
    use ledger_postgres::testing::{
        plan_after_executions, plan_of_prepared, AUDIT_OF_OWNER, AUDIT_OF_STREAM,
        AUDIT_OF_STREAM_ALONE,
    };
    let (_db, pool) = TestDatabase::migrated(4).await;
    let audit_indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'audit_log' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("indexes");
    assert!(
        !audit_indexes.iter().any(|i| i == "audit_log_stream_idx"),
        "{audit_indexes:?}"
    );
    // 20 streams of 1,000 events each, interleaved, and their audit rows.
    for sql in [
        "INSERT INTO events (stream_id, stream_type, version, event_id, event_type, \
            schema_version, data, metadata, recorded_at) \
         SELECT 'acc-' || (i % 20), 'account', i / 20 + 1, gen_random_uuid(), \
            'MoneyDeposited', 1, '{}', '{}', now() FROM generate_series(0, 19999) i \
         ORDER BY i",
        "INSERT INTO audit_log (position, event_id, event_type, stream_id, version, actor, \
            recorded_at) SELECT position, event_id, event_type, stream_id, version, 'a', \
            recorded_at FROM events",
        "INSERT INTO current_state (account_id, owner, currency, balance, status, version, \
            total_deposits, total_withdrawals, transaction_count, opened_at, updated_at) \
         SELECT 'acc-' || i, 'owner-' || (i % 10), 'EUR', 0, 'open', 1000, 0, 0, 0, now(), \
            now() FROM generate_series(0, 19) i",
        "ANALYZE",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    let version_before = |p: Option<i64>| {
        sqlx::query_scalar::<_, i64>("SELECT ledger_stream_version_before('acc-7', $1)")
            .bind(p)
            .fetch_one(&pool)
    };
    let position_of = |v: i64| {
        sqlx::query_scalar::<_, i64>(
            "SELECT position FROM events WHERE stream_id = 'acc-7' AND version = $1",
        )
        .bind(v)
        .fetch_one(&pool)
    };
    for v in [1, 2, 57, 999, 1000] {
        let p = position_of(v).await.expect("position");
        assert_eq!(version_before(Some(p)).await.expect("before"), v - 1);
        assert_eq!(version_before(Some(p + 1)).await.expect("before"), v);
    }
    assert_eq!(version_before(None).await.expect("all"), i64::MAX);
    assert_eq!(version_before(Some(i64::MAX)).await.expect("end"), 1000);

    let cursor = position_of(750).await.expect("position");
    for args in [
        "'acc-1', NULL, NULL, NULL, NULL, NULL, 100, NULL".to_owned(),
        format!("'acc-7', 'MoneyDeposited', NULL, NULL, NULL, {cursor}, 100, 'owner-7'"),
    ] {
        let plan = plan_of_prepared(&pool, AUDIT_OF_STREAM, &args).await;
        assert!(
            plan.contains("Index Scan Backward using events_stream_version_key on events e"),
            "{plan}"
        );
        assert!(plan.contains("audit_log_pkey"), "{plan}");
        assert!(!plan.contains("Sort"), "{plan}");
    }
    // A stream's page without other filters: the same plan, and after PostgreSQL's
    // five custom plans a generic one (`$1` in its conditions), kept without planning.
    for args in [
        "'acc-1', NULL, 100".to_owned(),
        format!("'acc-7', {cursor}, 100"),
    ] {
        let first = plan_of_prepared(&pool, AUDIT_OF_STREAM_ALONE, &args).await;
        let later = plan_after_executions(&pool, AUDIT_OF_STREAM_ALONE, &args, 6).await;
        for plan in [&first, &later] {
            assert!(
                plan.contains("Index Scan Backward using events_stream_version_key on events e"),
                "{plan}"
            );
            assert!(plan.contains("audit_log_pkey"), "{plan}");
            assert!(!plan.contains("Sort"), "{plan}");
        }
        assert!(!first.contains("$1"), "the first plans are custom: {first}");
        assert!(later.contains("stream_id = $1"), "then generic: {later}");
    }
    let by_owner = format!("NULL, NULL, NULL, NULL, NULL, {cursor}, 100, 'owner-7'");
    let plan = plan_of_prepared(&pool, AUDIT_OF_OWNER, &by_owner).await;
    assert!(
        plan.contains("Index Scan Backward using events_stream_version_key on events e"),
        "{plan}"
    );
    assert!(plan.contains("audit_log_pkey"), "{plan}");
}

/// One account's transfers without a status or an owner are read from the two
/// indexes by account, newest first from the cursor, and after PostgreSQL's five
/// custom plans the connection keeps a generic one (`$1` in its conditions) instead of
/// planning every call.
#[tokio::test]
async fn transfers_of_an_account_keep_one_plan() {
    use ledger_postgres::testing::{
        plan_after_executions, plan_of_prepared, TRANSFERS_OF_ACCOUNT_ALONE,
    };
    let (_db, pool) = TestDatabase::migrated(4).await;
    // 20,000 transfers among 200 accounts, with statistics.
    for sql in [
        "INSERT INTO transfers (transfer_id, from_account_id, to_account_id, status, \
            created_position, view) \
         SELECT 't-' || i, 'acc-' || (i % 200), 'acc-' || ((i * 7 + 1) % 200), 'posted', \
            i, '{}' FROM generate_series(1, 20000) i",
        "ANALYZE transfers",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    for args in ["'acc-3', NULL, 50", "'acc-3', 10000, 50"] {
        let first = plan_of_prepared(&pool, TRANSFERS_OF_ACCOUNT_ALONE, args).await;
        let later = plan_after_executions(&pool, TRANSFERS_OF_ACCOUNT_ALONE, args, 6).await;
        for plan in [&first, &later] {
            assert!(plan.contains("using transfers_from_idx"), "{plan}");
            assert!(plan.contains("using transfers_to_idx"), "{plan}");
            assert!(!plan.contains("Seq Scan"), "{plan}");
        }
        assert!(!first.contains("$1"), "the first plans are custom: {first}");
        assert!(
            later.contains("from_account_id = $1"),
            "then generic: {later}"
        );
    }
}

/// An index left on a rebuild's copy by an older version (whose live index a migration
/// has changed since, as `0019` put the accounts' ids in byte order) is built again as
/// the live one now is, not swapped in as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leftover_copy_index_is_built_as_the_live_one_is() {
    use ledger_application::ports::readmodel::Projection;
    use ledger_application::projection::ProjectionRunner;
    let (_db, pool) = TestDatabase::migrated(20).await;
    let runner = ProjectionRunner::new(
        Arc::new(PgEventStore::new(pool.clone())),
        Arc::new(PgProjectionStore::new(pool.clone())),
        100,
    );
    let started = runner
        .begin_rebuild(&[Projection::CurrentState])
        .await
        .expect("begin")
        .expect("the claim");
    sqlx::query(
        "CREATE INDEX current_state_owner_idx__rebuild \
         ON current_state__rebuild (owner, account_id)",
    )
    .execute(&pool)
    .await
    .expect("the leftover index");
    runner.run_rebuild(started, &|_| {}).await.expect("rebuild");
    let live: String = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'current_state_owner_idx'",
    )
    .fetch_one(&pool)
    .await
    .expect("the live index");
    assert!(live.contains("account_id COLLATE \"C\""), "{live}");
}
