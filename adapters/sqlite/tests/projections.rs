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
async fn accounts_are_listed_in_byte_order() {
    let (_d, h) = harness().await;
    suite::accounts_are_listed_in_byte_order(h).await;
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
async fn a_failure_seen_before_a_swap_marks_nothing() {
    let (_d, h) = harness().await;
    failures::a_failure_seen_before_a_swap_marks_nothing(h).await;
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

/// A store on the file in `dir` (an open of it, as a process has).
async fn open_at(dir: &TempDir) -> ledger_sqlite::SqliteProjectionStore {
    let url = format!("sqlite://{}/ledger.db", dir.0.display());
    let events = ledger_sqlite::open(&url).await.expect("open");
    let read_models = ledger_sqlite::open_read_models(&events)
        .await
        .expect("open");
    ledger_sqlite::SqliteProjectionStore::new(&read_models, &events)
}

/// Two opens of one fresh file, as two processes have.
async fn two_opens() -> (
    TempDir,
    ledger_sqlite::SqliteProjectionStore,
    ledger_sqlite::SqliteProjectionStore,
) {
    let dir = TempDir::new();
    let (a, b) = (open_at(&dir).await, open_at(&dir).await);
    (dir, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_claim_is_exclusive() {
    let (_d, a, b) = two_opens().await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    ledger_conformance::rebuild::a_rebuild_claim_is_exclusive(a, b).await;
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
    let (_d, h) = harness().await;
    ledger_conformance::projections_wide::batches_of_many_accounts_equal_a_fold(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filtered_audit_pages_equal_the_full_log() {
    let (_d, h) = harness().await;
    ledger_conformance::audit_paging::filtered_audit_pages_equal_the_full_log(h).await;
}

/// One process per file relays, expires and seals: a second open of the file is
/// refused each of those leases while the first holds it, and takes it once the first
/// is gone; each role's lease is apart from the others'; projections run in both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_writing_roles_are_each_held_by_one_open_of_the_file() {
    use ledger_application::ports::readmodel::{Lease, Projection, ProjectionStore};
    let (dir, a, b) = two_opens().await;
    assert!(a.try_lead(Lease::Relay).await.expect("lease"));
    assert!(
        a.clone().try_lead(Lease::Relay).await.expect("lease"),
        "held"
    );
    assert!(!b.try_lead(Lease::Relay).await.expect("lease"), "exclusive");
    // Apart: the second open takes the expirer's while the first keeps the relay's.
    assert!(b.try_lead(Lease::Expirer).await.expect("lease"));
    assert!(
        !a.try_lead(Lease::Expirer).await.expect("lease"),
        "exclusive"
    );
    assert!(a.try_lead(Lease::Sealer).await.expect("lease"));
    assert!(
        !b.try_lead(Lease::Sealer).await.expect("lease"),
        "exclusive"
    );
    let projection = Lease::Projection(Projection::CurrentState);
    assert!(a.try_lead(projection).await.expect("lease"));
    assert!(b.try_lead(projection).await.expect("lease"));
    drop(a);
    assert!(b.try_lead(Lease::Relay).await.expect("lease"), "taken over");
    assert!(
        b.try_lead(Lease::Sealer).await.expect("lease"),
        "taken over"
    );
    // A lock file removed under its holder: the holder takes the new one, so no other
    // open can lock it beside it.
    std::fs::remove_file(dir.0.join("ledger.db-relay.lock")).expect("remove");
    assert!(
        b.try_lead(Lease::Relay).await.expect("lease"),
        "taken again"
    );
    let c = open_at(&dir).await;
    for lease in [Lease::Relay, Lease::Expirer, Lease::Sealer] {
        assert!(
            !c.try_lead(lease).await.expect("lease"),
            "{lease:?} still exclusive"
        );
    }
}
