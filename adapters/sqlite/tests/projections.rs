//! The read-model conformance suite on a SQLite file.

use std::sync::Arc;

use ledger_conformance::projections as suite;
use ledger_conformance::projections_failures as failures;
use ledger_conformance::projections_interrupted as interrupted;

mod common;
use common::TempDir;

async fn harness() -> (TempDir, suite::Harness) {
    let dir = std::env::temp_dir().join(format!("ledger-sqlite-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let store = ledger_sqlite::open(&url).await.expect("open");
    let read_models = ledger_sqlite::open_read_models(&store).await.expect("open");
    let h = suite::Harness {
        projections: Arc::new(ledger_sqlite::SqliteProjectionStore::new(
            &read_models,
            &store,
        )),
        read: Arc::new(ledger_sqlite::SqliteReadModels::new(&read_models)),
        store: Arc::new(store),
    };
    (TempDir(dir), h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn views_equal_a_fold_of_all_events() {
    let (_d, h) = harness().await;
    suite::views_equal_a_fold_of_all_events(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aborted_runs_count_nothing_twice() {
    let (_d, h) = harness().await;
    interrupted::aborted_runs_count_nothing_twice(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilds_are_complete_and_never_partial() {
    let (_d, h) = harness().await;
    interrupted::rebuilds_are_complete_and_never_partial(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_projection_stops_alone() {
    let (_d, h) = harness().await;
    failures::a_failing_projection_stops_alone(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_step_without_a_rebuild_is_an_error() {
    let (_d, h) = harness().await;
    failures::a_rebuild_step_without_a_rebuild_is_an_error(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stepping_together_equals_a_fold() {
    let (_d, h) = harness().await;
    failures::stepping_together_equals_a_fold(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stepping_together_isolates_a_failing_projection() {
    let (_d, h) = harness().await;
    failures::stepping_together_isolates_a_failing_projection(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_behind_the_live_view_is_not_swapped_in() {
    let (_d, h) = harness().await;
    failures::a_rebuild_behind_the_live_view_is_not_swapped_in(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_cut_off_anywhere_leaves_the_store_usable() {
    let (_d, h) = harness().await;
    let cut_offs = interrupted::a_step_cut_off_anywhere_leaves_the_store_usable(h, 20).await;
    assert!(
        cut_offs.values().all(|&n| n > 0),
        "every step was cut off at least once: {cut_offs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_claim_is_exclusive() {
    let dir = std::env::temp_dir().join(format!("ledger-sqlite-{}", uuid::Uuid::new_v4()));
    let _d = TempDir(dir.clone());
    let url = format!("sqlite://{}/ledger.db", dir.display());
    // Two opens of one file, as two processes have.
    let open = || async {
        let events = ledger_sqlite::open(&url).await.expect("open");
        let read_models = ledger_sqlite::open_read_models(&events)
            .await
            .expect("open");
        Arc::new(ledger_sqlite::SqliteProjectionStore::new(
            &read_models,
            &events,
        ))
    };
    let (a, b) = (open().await, open().await);
    ledger_conformance::rebuild::a_rebuild_claim_is_exclusive(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pending_views_match_the_aggregates() {
    let (_d, h) = harness().await;
    ledger_conformance::pending::pending_views_match_the_aggregates(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_folds_transfers_as_the_projection_does() {
    let (_d, h) = harness().await;
    ledger_conformance::verify::verify_folds_transfers_as_the_projection_does(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_of_many_accounts_equal_a_fold() {
    let (_d, h) = harness().await;
    ledger_conformance::projections_wide::batches_of_many_accounts_equal_a_fold(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filtered_audit_pages_equal_the_full_log() {
    let (_d, h) = harness().await;
    ledger_conformance::audit_paging::filtered_audit_pages_equal_the_full_log(h).await;
}

/// One process relays per file: a second open of the file is refused the relay's lease
/// while the first holds it, and takes it once the first is gone; other roles run in
/// both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_lease_is_held_by_one_open_of_the_file() {
    use ledger_application::ports::readmodel::{Lease, Projection, ProjectionStore};
    let dir = std::env::temp_dir().join(format!("ledger-sqlite-{}", uuid::Uuid::new_v4()));
    let _cleanup = TempDir(dir.clone());
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let open = || async {
        let events = ledger_sqlite::open(&url).await.expect("open");
        let read_models = ledger_sqlite::open_read_models(&events)
            .await
            .expect("open");
        ledger_sqlite::SqliteProjectionStore::new(&read_models, &events)
    };
    let (a, b) = (open().await, open().await);
    assert!(a.try_lead(Lease::Relay).await.expect("lease"));
    assert!(
        a.clone().try_lead(Lease::Relay).await.expect("lease"),
        "held"
    );
    assert!(!b.try_lead(Lease::Relay).await.expect("lease"), "exclusive");
    let other = Lease::Projection(Projection::CurrentState);
    assert!(b.try_lead(other).await.expect("lease"));
    drop(a);
    assert!(b.try_lead(Lease::Relay).await.expect("lease"), "taken over");
}
