//! The read-model conformance suite on a real PostgreSQL.
//! `indexes.rs`: the indexes rebuilds keep and the plans the filtered reads use;
//! `list_plans.rs`: the plans of the lists as the service builds them;
//! `stopped_holder.rs`: a lease holder that stops without dying loses its leases;
//! `rebuild_feed.rs`: a rebuild's index builds leave the feed moving, and it holds
//! every event committed before it began.

mod indexes;
mod list_plans;
mod rebuild_feed;
mod stopped_holder;

use std::sync::Arc;

use ledger_conformance::projections as suite;
use ledger_conformance::projections_failures as failures;
use ledger_conformance::projections_interrupted as interrupted;
use ledger_postgres::testing::TestDatabase;
use ledger_postgres::{PgEventStore, PgProjectionStore, PgReadModels};

async fn harness() -> (TestDatabase, suite::Harness) {
    harness_with(20).await
}

async fn harness_with(max_connections: u32) -> (TestDatabase, suite::Harness) {
    let (db, pool) = TestDatabase::migrated(max_connections).await;
    let h = suite::Harness {
        store: Arc::new(PgEventStore::new(pool.clone())),
        projections: Arc::new(PgProjectionStore::new(pool.clone())),
        read: Arc::new(PgReadModels::new(pool)),
    };
    (db, h)
}

/// On a database whose collation is a language's (ICU `en-US` from PostgreSQL 15 on,
/// the system's `en_US.UTF-8` before), not bytes'.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_are_listed_in_byte_order() {
    let (_db, pool) = TestDatabase::migrated_with(20, language_collation().await).await;
    let h = suite::Harness {
        store: Arc::new(PgEventStore::new(pool.clone())),
        projections: Arc::new(PgProjectionStore::new(pool.clone())),
        read: Arc::new(PgReadModels::new(pool)),
    };
    suite::accounts_are_listed_in_byte_order(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn views_equal_a_fold_of_all_events() {
    let (_db, h) = harness().await;
    suite::views_equal_a_fold_of_all_events(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aborted_runs_count_nothing_twice() {
    let (_db, h) = harness().await;
    interrupted::aborted_runs_count_nothing_twice(h).await;
}

/// Two connections, so that the calls after a cut-off step get the connection that
/// step used: one left mid-COPY would answer the next query with the COPY's reply.
/// (How many waits a step has depends on the timing: a reply already in the socket
/// is read without one. Without the connection being closed after a cut, this test
/// failed in 5 of 6 runs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_cut_off_anywhere_leaves_the_store_usable() {
    let (_db, h) = harness_with(2).await;
    let cut_offs = interrupted::a_step_cut_off_anywhere_leaves_the_store_usable(h, 300).await;
    assert!(
        cut_offs.values().all(|&n| n > 0),
        "every step was cut off at least once: {cut_offs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilds_are_complete_and_never_partial() {
    let (_db, h) = harness().await;
    interrupted::rebuilds_are_complete_and_never_partial(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_projection_stops_alone() {
    let (_db, h) = harness().await;
    failures::a_failing_projection_stops_alone(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_step_without_a_rebuild_is_an_error() {
    let (_db, h) = harness().await;
    failures::a_rebuild_step_without_a_rebuild_is_an_error(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stepping_together_equals_a_fold() {
    let (_db, h) = harness().await;
    failures::stepping_together_equals_a_fold(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stepping_together_isolates_a_failing_projection() {
    let (_db, h) = harness().await;
    failures::stepping_together_isolates_a_failing_projection(h).await;
}

#[tokio::test]
async fn one_instance_leads_each_projection() {
    let (_db, pool) = TestDatabase::migrated(5).await;
    let first = PgProjectionStore::new(pool.clone());
    let second = PgProjectionStore::new(pool);
    use ledger_application::ports::readmodel::{Lease, Projection, ProjectionStore};
    assert!(first
        .try_lead(Lease::Projection(Projection::Analytics))
        .await
        .unwrap());
    assert!(
        first
            .try_lead(Lease::Projection(Projection::Analytics))
            .await
            .unwrap(),
        "the leader keeps its lease"
    );
    assert!(
        !second
            .try_lead(Lease::Projection(Projection::Analytics))
            .await
            .unwrap(),
        "the other stands by"
    );
    assert!(second
        .try_lead(Lease::Projection(Projection::AuditLog))
        .await
        .unwrap());
    drop(first);
    let mut took_over = false;
    for _ in 0..50 {
        if second
            .try_lead(Lease::Projection(Projection::Analytics))
            .await
            .unwrap()
        {
            took_over = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        took_over,
        "the lock is released with its holder's connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_behind_the_live_view_is_not_swapped_in() {
    let (_db, h) = harness().await;
    failures::a_rebuild_behind_the_live_view_is_not_swapped_in(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_seen_before_a_swap_marks_nothing() {
    let (_db, h) = harness().await;
    failures::a_failure_seen_before_a_swap_marks_nothing(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_claim_is_exclusive() {
    let (_db, pool) = TestDatabase::migrated(5).await;
    ledger_conformance::rebuild::a_rebuild_claim_is_exclusive(
        std::sync::Arc::new(PgProjectionStore::new(pool.clone())),
        std::sync::Arc::new(PgProjectionStore::new(pool)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pending_views_match_the_aggregates() {
    let (_d, h) = harness().await;
    ledger_conformance::pending::pending_views_match_the_aggregates(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_expiries_is_recorded_once_in_due_order() {
    let (_d, h) = harness().await;
    ledger_conformance::expiry_burst::a_burst_of_expiries_is_recorded_once_in_due_order(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_folds_transfers_as_the_projection_does() {
    let (_d, h) = harness().await;
    ledger_conformance::verify::verify_folds_transfers_as_the_projection_does(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_of_many_accounts_equal_a_fold() {
    let (_db, h) = harness().await;
    ledger_conformance::projections_wide::batches_of_many_accounts_equal_a_fold(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filtered_audit_pages_equal_the_full_log() {
    let (_d, h) = harness().await;
    ledger_conformance::audit_paging::filtered_audit_pages_equal_the_full_log(h).await;
}

/// `CREATE DATABASE` options for a collation that is not byte order.
async fn language_collation() -> &'static str {
    use sqlx::Connection;
    let url = ledger_postgres::testing::admin_url();
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("PostgreSQL");
    let version: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&mut conn)
        .await
        .expect("version");
    if version.parse::<u32>().expect("a number") >= 150_000 {
        "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    } else {
        "TEMPLATE template0 LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'"
    }
}
