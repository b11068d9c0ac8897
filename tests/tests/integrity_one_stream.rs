//! `ledger verify --stream`, on both backends: one stream's chain and its read-model
//! row, an account's or a transfer's.

use ledger_tests::tamper::{assert_caught, sealed_ledger, verify_with, Store};
use ledger_tests::{on_both_backends, Backend};

/// `--stream` on a stream whose every event was removed: its row in the accounts view
/// has no events behind it (once "verified: no finding").
async fn one_streams_check_finds_a_row_whose_events_are_gone(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let (code, out) = verify_with(&url, Some(&key), &["--stream", "acc-2"]).await;
    assert_eq!(code, 0, "{out}");
    // A stream the store never held is not a clean check (it once said "verified").
    let (code, out) = verify_with(&url, Some(&key), &["--stream", "acc-9"]).await;
    assert!(
        code == 2 && out.contains("no event of stream acc-9"),
        "{out}"
    );
    Store::at(&url)
        .exec("DELETE FROM events WHERE stream_id = 'acc-2'")
        .await;
    let (code, out) = verify_with(&url, Some(&key), &["--stream", "acc-2"]).await;
    assert_caught(code, &out, "pass 4 (read models), stream acc-2");
    assert!(out.contains("no event opened"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

/// `--stream transfer/<id>` compares the transfer's row (black-box testing found it
/// compared nothing and said "verified: no finding" over a changed amount).
async fn one_transfers_check_compares_its_row(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let stream = "transfer/t-1";
    let (code, out) = verify_with(&url, Some(&key), &["--stream", stream]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 transfer compared"), "{out}");
    // `verify --stream transfer/t-1` finds the row changed as `said`.
    let caught = |said: &'static str| {
        let (url, key) = (url.clone(), key.clone());
        async move {
            let (code, out) = verify_with(&url, Some(&key), &["--stream", stream]).await;
            assert_caught(
                code,
                &out,
                &format!("pass 4 (read models), stream {stream}"),
            );
            assert!(out.contains(said), "{out}");
        }
    };
    let store = Store::at(&url);
    store
        .exec_read_models(r#"UPDATE transfers SET view = replace(view, '"5.00"', '"6.00"')"#)
        .await;
    caught(r#"amount: view {"amount":"6.00","currency":"USD"}, events {"amount":"5.00""#).await;
    // The filter columns alone.
    store
        .exec_read_models(r#"UPDATE transfers SET view = replace(view, '"6.00"', '"5.00"')"#)
        .await;
    store
        .exec_read_models("UPDATE transfers SET to_account_id = 'acc-9'")
        .await;
    caught(r#"to_account_id: column "acc-9", view "acc-2""#).await;
    store.exec_read_models("DELETE FROM transfers").await;
    caught("missing from the transfers view").await;
    let _ = std::fs::remove_dir_all(dir);
}

on_both_backends!(
    one_streams_check_finds_a_row_whose_events_are_gone,
    one_transfers_check_compares_its_row,
);
