//! `ledger verify` on a ledger in use (PostgreSQL: the service goes on writing while it
//! runs, so the projection's checkpoint moves past the one its fold stopped at). A view
//! row changed by hand with its version raised, on an account no event reaches after
//! that checkpoint, is still a finding: only an event of the row's own stream after the
//! checkpoint explains a newer row (review found any move of the checkpoint excused it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ledger_tests::tamper::{assert_caught, sealed_ledger, verify, Store};
use ledger_tests::{json, Backend};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_row_is_found_while_the_ledger_is_in_use() {
    let (first, url, dir, key) = sealed_ledger(Backend::PostgresRedis).await;
    Store::at(&url)
        .exec_read_models(
            "UPDATE current_state SET balance = balance + 100000, version = version + 1 \
             WHERE account_id = 'acc-2'",
        )
        .await;
    let app = Arc::new(first.spawn_beside().await);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (app, stop) = (app.clone(), stop.clone());
        tokio::spawn(async move {
            let mut written = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let r = app.post("/accounts/acc-1/deposit", json!({"amount": "0.01"}));
                let (s, b) = json(r.await).await;
                assert_eq!(s, 200, "{b}");
                written += 1;
            }
            written
        })
    };
    let (code, out) = verify(&url, Some(&key)).await;
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.expect("the writer");
    assert!(written > 0, "the ledger was in use");
    assert_caught(code, &out, "pass 4 (read models), stream acc-2");
    assert!(out.contains("balance"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}
