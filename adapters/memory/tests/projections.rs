//! The read-model conformance suite on the in-memory adapters.

use std::sync::Arc;

use ledger_conformance::projections as suite;
use ledger_conformance::projections_failures as failures;
use ledger_conformance::projections_interrupted as interrupted;
use ledger_memory::{MemoryEventStore, MemoryReadModels};

fn harness() -> suite::Harness {
    let models = Arc::new(MemoryReadModels::new());
    suite::Harness {
        store: Arc::new(MemoryEventStore::new()),
        projections: models.clone(),
        read: models,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_are_listed_in_byte_order() {
    suite::accounts_are_listed_in_byte_order(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn views_equal_a_fold_of_all_events() {
    suite::views_equal_a_fold_of_all_events(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aborted_runs_count_nothing_twice() {
    interrupted::aborted_runs_count_nothing_twice(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilds_are_complete_and_never_partial() {
    interrupted::rebuilds_are_complete_and_never_partial(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_projection_stops_alone() {
    failures::a_failing_projection_stops_alone(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_step_without_a_rebuild_is_an_error() {
    failures::a_rebuild_step_without_a_rebuild_is_an_error(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stepping_together_equals_a_fold() {
    failures::stepping_together_equals_a_fold(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stepping_together_isolates_a_failing_projection() {
    failures::stepping_together_isolates_a_failing_projection(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_behind_the_live_view_is_not_swapped_in() {
    failures::a_rebuild_behind_the_live_view_is_not_swapped_in(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_seen_before_a_swap_marks_nothing() {
    failures::a_failure_seen_before_a_swap_marks_nothing(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_cut_off_anywhere_leaves_the_store_usable() {
    interrupted::a_step_cut_off_anywhere_leaves_the_store_usable(harness(), 20).await;
}

#[tokio::test]
async fn a_rebuild_claim_is_exclusive() {
    let models = Arc::new(MemoryReadModels::new());
    ledger_conformance::rebuild::a_rebuild_claim_is_exclusive(models.clone(), models).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pending_views_match_the_aggregates() {
    ledger_conformance::pending::pending_views_match_the_aggregates(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_expiries_is_recorded_once_in_due_order() {
    let h = harness();
    ledger_conformance::expiry_burst::a_burst_of_expiries_is_recorded_once_in_due_order(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_burst_goes_on_where_the_last_step_stopped() {
    let h = harness();
    ledger_conformance::expiry_burst::a_long_burst_goes_on_where_the_last_step_stopped(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_that_cannot_be_written_is_written_one_at_a_time() {
    let h = harness();
    ledger_conformance::expiry_faults::a_group_that_cannot_be_written_is_written_one_at_a_time(h)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_whose_answer_was_lost_is_not_written_again() {
    let h = harness();
    ledger_conformance::expiry_faults::a_group_whose_answer_was_lost_is_not_written_again(h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_folds_transfers_as_the_projection_does() {
    ledger_conformance::verify::verify_folds_transfers_as_the_projection_does(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_of_many_accounts_equal_a_fold() {
    ledger_conformance::projections_wide::batches_of_many_accounts_equal_a_fold(harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filtered_audit_pages_equal_the_full_log() {
    ledger_conformance::audit_paging::filtered_audit_pages_equal_the_full_log(harness()).await;
}
