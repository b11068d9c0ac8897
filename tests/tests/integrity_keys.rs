//! Seals and keys, on both backends. A change of signing key: the seals before it and
//! after it each name the key that signed them, so `ledger verify` given both keys
//! verifies them all, and given one names the seals it cannot check. A seal kept
//! outside the store (`--seal`): the feed up to its cursor must still give its count
//! and digest, whatever the stored seals say.

use ledger_tests::tamper::{new_key, sealed_ledger, verify, verify_with, Store};
use ledger_tests::{json, on_both_backends, Backend};
use serde_json::{json, Value};

async fn seals_of_two_keys_verify_with_both(backend: Backend) {
    let (first, url, dir, key) = sealed_ledger(backend).await;
    let (new_dir, new) = new_key();
    let mut app = first.spawn_beside_signing_with(&new).await;
    let (s, b) = json(
        app.post("/accounts/acc-1/deposit", json!({"amount": "1.23"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // A seal by the new key: one that counts every event before it, the deposit among
    // them (the feed may show the deposit a moment after its answer; until then it
    // ends with the old key's seal).
    app.eventually("/events?limit=1000", |b: &Value| {
        b["events"].as_array().is_some_and(|events| {
            events.iter().any(|e| e["data"]["amount"] == "1.23")
                && events.last().is_some_and(|e| {
                    e["event_type"] == "LedgerSealed"
                        && e["data"]["events"].as_u64() == Some(events.len() as u64 - 1)
                })
        })
    })
    .await;
    app.stop_and_wait().await;
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

async fn a_seal_kept_outside_is_checked_against_the_feed(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    let seals = store.events("$seals").await;
    let kept: Value = serde_json::from_str(&seals.last().expect("a seal").data).expect("JSON");
    // The history unchanged: the kept seal matches the feed up to its cursor.
    let file = dir.join("kept-seal.json");
    let check = |seal: Value| {
        std::fs::write(&file, seal.to_string()).expect("written");
        let (url, file, key) = (url.clone(), file.display().to_string(), key.clone());
        async move { verify_with(&url, Some(&key), &["--seal", &file]).await }
    };
    let (code, out) = check(kept.clone()).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(signatures checked; the seal kept outside compared)"),
        "{out}"
    );
    // A history changed and sealed again gives another digest up to that cursor.
    let mut changed = kept.clone();
    changed["digest"] = json!("00".repeat(32));
    let (code, out) = check(changed).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED: pass 3 (seals)") && out.contains("the history it sealed was changed"),
        "{out}"
    );
    // A history cut short no longer holds its cursor.
    let mut gone = kept;
    gone["cursor"] = json!("999999999-999999999");
    let (code, out) = check(gone).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("which is no event of the feed"), "{out}");
    assert!(out.contains("the seal kept outside NOT compared"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

on_both_backends!(
    seals_of_two_keys_verify_with_both,
    a_seal_kept_outside_is_checked_against_the_feed,
);
