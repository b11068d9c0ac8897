//! The event-store conformance suite on the in-memory store.

use std::sync::Arc;

use ledger_conformance::store as suite;
use ledger_conformance::store_concurrency as concurrency;
use ledger_memory::MemoryEventStore;

fn store() -> suite::Store {
    Arc::new(MemoryEventStore::new())
}

#[tokio::test]
async fn append_and_read_back() {
    suite::append_and_read_back(store()).await;
}

#[tokio::test]
async fn stale_expected_version_is_a_conflict() {
    suite::stale_expected_version_is_a_conflict(store()).await;
}

#[tokio::test]
async fn multi_stream_conflict_writes_nothing() {
    suite::multi_stream_conflict_writes_nothing(store()).await;
}

#[tokio::test]
async fn idempotency_records_are_stored_with_the_events() {
    suite::idempotency_records_are_stored_with_the_events(store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_keep_streams_contiguous() {
    concurrency::concurrent_appends_keep_streams_contiguous(store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_concurrent_appends_each_get_their_own_answer() {
    concurrency::concurrent_mixed_appends_each_get_their_own_answer(store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_tail_sees_every_event_once() {
    for _ in 0..5 {
        concurrency::feed_tail_sees_every_event_once(store()).await;
    }
}

#[tokio::test]
async fn seed_format_events_read_back_upcast() {
    suite::seed_format_events_read_back_upcast(store()).await;
}

#[tokio::test]
async fn the_key_store_contract() {
    let keys = Arc::new(ledger_memory::MemoryKeyStore::new());
    ledger_conformance::keys::the_key_store_contract(keys).await;
}

#[tokio::test]
async fn lag_is_exact_up_to_its_bound_and_bounded_below_beyond() {
    ledger_conformance::lag::lag_is_exact_up_to_its_bound_and_bounded_below_beyond(store()).await;
}
