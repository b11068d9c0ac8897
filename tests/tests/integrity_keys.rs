//! A change of signing key, on both backends: the seals before it and after it each
//! name the key that signed them, so `ledger verify` given both keys verifies them all,
//! and given one names the seals it cannot check (a seal's named key is compared too).

use std::time::Duration;

use ledger_tests::tamper::{new_key, sealed_ledger, verify, verify_with};
use ledger_tests::{json, on_both_backends, Backend};
use serde_json::{json, Value};

async fn seals_of_two_keys_verify_with_both(backend: Backend) {
    let (first, url, dir, key) = sealed_ledger(backend).await;
    let (new_dir, new) = new_key();
    let mut app = first.spawn_beside_signing_with(&new).await;
    let (s, b) = json(
        app.post("/accounts/acc-1/deposit", json!({"amount": "1.00"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    app.eventually("/events?limit=1000", |b: &Value| {
        b["events"]
            .as_array()
            .and_then(|e| e.last())
            .is_some_and(|e| e["event_type"] == "LedgerSealed" && e["stream_id"] == "$seals")
    })
    .await;
    app.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let new_arg = new.display().to_string();
    let (code, out) = verify_with(&url, Some(&key), &["--public-key", &new_arg]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(signatures checked)") && out.contains("no finding"),
        "{out}"
    );
    for one in [&key, &new] {
        let (code, out) = verify(&url, Some(one)).await;
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("FAILED: pass 3 (seals)") && out.contains("not one given"),
            "{out}"
        );
    }
    for d in [dir, new_dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}

on_both_backends!(seals_of_two_keys_verify_with_both);
