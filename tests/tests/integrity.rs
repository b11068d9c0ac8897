//! Tamper evidence end to end, on both backends: a sealed ledger verifies clean; then,
//! each on a ledger of its own, what a database superuser could do to it makes
//! `ledger verify` exit 1 naming the pass that caught it.

use std::time::Duration;

use ledger_application::ports::store::RecordedEvent;
use ledger_tests::tamper::{assert_caught, new_key, rechain, sealed_ledger, verify, Store};
use ledger_tests::{json, on_both_backends, Backend, TestApp};
use serde_json::json;

/// A deposit nobody made: a copy of `acc-1`'s first deposit with a new id, chained
/// correctly after the stream's last event.
async fn forged_deposit(store: &Store) -> RecordedEvent {
    let mut events = store.events("acc-1").await;
    let mut forged = events[1].clone();
    forged.event_id = uuid::Uuid::new_v4();
    forged.version = events.len() as u64 + 1;
    events.push(forged);
    rechain(&mut events);
    events.pop().expect("the forged event")
}

async fn a_sealed_ledger_verifies_clean(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("signatures checked") && out.contains("no finding"),
        "{out}"
    );
    // Another key's public half does not verify the seals.
    let (other_dir, other) = new_key();
    let (code, out) = verify(&url, Some(&other)).await;
    assert_caught(code, &out, "pass 3 (seals)");
    assert!(out.contains("signature"), "{out}");
    for d in [dir, other_dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}

async fn a_changed_amount_breaks_the_chain(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    let mut events = store.events("acc-1").await;
    events[2].data = events[2].data.replace("20.00", "90.00");
    store.rewrite(&events[2]).await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 2 (hashes), stream acc-1, version 3");
    let _ = std::fs::remove_dir_all(dir);
}

async fn a_deleted_event_leaves_a_hole(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    Store::at(&url)
        .exec("DELETE FROM events WHERE stream_id = 'acc-1' AND version = 2")
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 1 (versions), stream acc-1, version 3");
    let _ = std::fs::remove_dir_all(dir);
}

async fn swapped_data_breaks_the_chain(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    let mut events = store.events("acc-1").await;
    let (a, b) = (events[1].data.clone(), events[2].data.clone());
    events[1].data = b;
    events[2].data = a;
    store.rewrite(&events[1]).await;
    store.rewrite(&events[2]).await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 2 (hashes), stream acc-1, version 2");
    let _ = std::fs::remove_dir_all(dir);
}

async fn a_forged_event_is_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    // A deposit nobody made, correctly chained, put where the seals cover it.
    store.insert_first(&forged_deposit(&store).await).await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED: pass 1 (versions), stream acc-1"),
        "{out}"
    );
    if backend == Backend::PostgresRedis {
        // In the feed (the oldest transaction id): the seal's digest no longer matches.
        assert!(out.contains("pass 3 (seals)"), "{out}");
    } else {
        // At position 0, before every feed cursor: the stream shows it, the feed never.
        assert!(out.contains("where the feed never shows it"), "{out}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

async fn an_event_the_feed_never_shows_is_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    // A deposit nobody made, correctly chained (commands would decide on it), but
    // where the feed, the projections and the seals never look.
    store.insert_hidden(&forged_deposit(&store).await).await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 1 (versions), stream acc-1");
    assert!(out.contains("the feed never shows it"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The same before the feed's start (a review found a negative PostgreSQL transaction
/// id unseen by the check).
async fn an_event_before_the_feed_is_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    store
        .insert_before_the_feed(&forged_deposit(&store).await)
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 1 (versions), stream acc-1");
    assert!(out.contains("the feed never shows it"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

async fn a_recomputed_chain_is_caught_by_the_seal(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    let mut events = store.events("acc-1").await;
    events[2].data = events[2].data.replace("20.00", "90.00");
    rechain(&mut events);
    for e in &events[2..] {
        store.rewrite(e).await;
    }
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 3 (seals)");
    assert!(out.contains("digest"), "{out}");
    assert!(
        !out.contains("pass 2"),
        "the chain itself is consistent: {out}"
    );
    // The deposit still records the balance the real one left: its figures do not add
    // up, whatever the seals say.
    assert!(
        out.contains("pass 4 (read models), stream acc-1, version 3")
            && out.contains("balance: recorded 30.00, but 10.00 + 90.00 is 100.00"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The credit leg of the transfer made bigger than its debit leg and its record, and
/// chained again: each account's figures still add up, yet money was made.
async fn legs_that_disagree_with_their_transfer_are_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    let mut events = store.events("acc-2").await;
    let credit = events.last_mut().expect("the credit leg");
    assert_eq!(credit.event_type, "TransferCredited");
    credit.data = credit.data.replace("\"5.00\"", "\"1000.00\"");
    rechain(&mut events);
    store.rewrite(events.last().expect("the credit leg")).await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "the transfer's legs and record disagree: moved: 5.00 on its record, \
             5.00 on its debit leg, 1000.00 on its credit leg"
        ),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The transfer's debit leg rewritten to 100.00, its balance with it (its figures add
/// up): the account is left 40.00 below an overdraft limit of zero, which the service
/// refuses. And a projection marked failed is named.
async fn an_overdrawn_account_and_a_failed_projection_are_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    let mut events = store.events("acc-1").await;
    let debit = events.last_mut().expect("the debit leg");
    assert_eq!(debit.event_type, "TransferDebited");
    debit.data = debit
        .data
        .replace("\"5.00\"", "\"100.00\"")
        .replace("\"55.00\"", "\"-40.00\"");
    rechain(&mut events);
    store.rewrite(events.last().expect("the debit leg")).await;
    store
        .exec_read_models(
            "UPDATE projections SET state = 'failed', last_error = 'forged' \
             WHERE name = 'audit_log'",
        )
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stream acc-1, version 5")
            && out.contains(
                "the event leaves balance -40.00 with 0.00 held, beyond the overdraft limit 0.00"
            ),
        "{out}"
    );
    assert!(
        out.contains("the audit_log projection failed after this position: forged"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

async fn a_changed_read_model_row_is_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    Store::at(&url)
        .exec_read_models(
            "UPDATE current_state SET balance = balance + 100000 WHERE account_id = 'acc-2'",
        )
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 4 (read models), stream acc-2");
    assert!(out.contains("balance"), "{out}");
    // The analytics: a currency's totals and a day's volumes.
    Store::at(&url)
        .exec_read_models(
            "UPDATE analytics_currency SET event_count = event_count + 1; \
             UPDATE analytics_daily SET deposit_count = deposit_count - 1; \
             INSERT INTO analytics_daily (day, currency) VALUES ('2020-01-01', 'USD')",
        )
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 4 (read models), stream acc-2");
    assert!(
        out.contains("stream analytics/USD: the analytics view differs from the events (event_count: view 9, events 8)")
            && out.contains("stream analytics/USD/")
            && out.contains("deposit_count: view ")
            && out.contains("analytics/USD/2020-01-01")
            && out.contains("the view holds a line no event made"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The transfers view is compared too: a transfer shown voided that the events posted,
/// and then one the view lost.
async fn changed_and_deleted_transfer_rows_are_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    // The filter columns alone (what `GET /transfers?status=` selects by).
    store
        .exec_read_models("UPDATE transfers SET status = 'voided', from_account_id = 'acc-9'")
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 4 (read models), stream transfer/");
    assert!(
        out.contains(r#"status: column "voided", view "posted""#)
            && out.contains(r#"from_account_id: column "acc-9", view "acc-1""#),
        "{out}"
    );
    store
        .exec_read_models(r#"UPDATE transfers SET view = replace(view, '"posted"', '"voided"')"#)
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 4 (read models), stream transfer/");
    assert!(
        out.contains("status: view \"voided\", events \"posted\""),
        "{out}"
    );
    store.exec_read_models("DELETE FROM transfers").await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 4 (read models), stream transfer/");
    assert!(out.contains("missing from the transfers view"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

async fn a_renamed_read_model_row_is_found_both_ways(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    Store::at(&url)
        .exec_read_models(
            "UPDATE current_state SET account_id = 'ghost-1' WHERE account_id = 'acc-2'",
        )
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 4 (read models), stream");
    assert!(
        out.contains("stream acc-2") && out.contains("missing from the accounts view"),
        "{out}"
    );
    assert!(
        out.contains("stream ghost-1") && out.contains("no event opened"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The newest events removed (the transfer, which the accounts view shows, and the
/// seal after it): the projections have applied events the store no longer holds. On
/// SQLite verify once stopped at opening the read models (exit 2), with advice to
/// remove them that would have erased the evidence.
async fn the_newest_events_removed_are_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    Store::at(&url)
        .exec(
            "DELETE FROM events WHERE position >= \
             (SELECT min(position) FROM events WHERE stream_id LIKE 'transfer/%')",
        )
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 4 (read models)");
    assert!(out.contains("events were removed from the store"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

async fn without_a_key_there_is_no_public_key_and_no_seal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"account_id": "k-1", "owner": "Ada", "currency": "USD"});
    assert_eq!(json(app.post("/accounts", body).await).await.0, 201);
    let (status, problem) = json(app.get("/integrity/public-key").await).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, feed) = json(app.get("/events").await).await;
    let sealed = feed["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["event_type"] == "LedgerSealed");
    assert!(!sealed, "no key, no seal: {feed}");
}

on_both_backends!(
    without_a_key_there_is_no_public_key_and_no_seal,
    a_sealed_ledger_verifies_clean,
    a_renamed_read_model_row_is_found_both_ways,
    a_changed_amount_breaks_the_chain,
    a_deleted_event_leaves_a_hole,
    swapped_data_breaks_the_chain,
    a_forged_event_is_found,
    legs_that_disagree_with_their_transfer_are_found,
    an_overdrawn_account_and_a_failed_projection_are_found,
    an_event_the_feed_never_shows_is_found,
    an_event_before_the_feed_is_found,
    a_recomputed_chain_is_caught_by_the_seal,
    a_changed_read_model_row_is_found,
    changed_and_deleted_transfer_rows_are_found,
    the_newest_events_removed_are_found,
);
