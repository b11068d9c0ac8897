//! Tampering `ledger verify` caught but misreported, as black-box testing found it.
//! Rows changed so that the service cannot read them: `verify` called them a store it
//! cannot check (exit 2), and panicked on a PostgreSQL `recorded_at` of `infinity`
//! (which also dropped the service's connections); now a finding, exit 1, and a read
//! answers an error, never a panic. A seal whose cursor's event was removed was named
//! by its cursor's position, not its own. A read-model row that cannot be read is a
//! finding of pass 4.

use std::process::{Command, Stdio};

use ledger_application::ports::store::{EventStore, StoreError, StreamQuery};
use ledger_tests::tamper::{sealed_ledger, verify, Store};
use ledger_tests::{ledger_binary, on_both_backends, Backend};

const ACC_1_SECOND: &str = "stream_id = 'acc-1' AND version = 2";

fn assert_unreadable(code: i32, out: &str) {
    assert_eq!(code, 1, "an unreadable event is a finding: {out}");
    assert!(
        out.contains("FAILED: a stored event cannot be read") && out.contains("position"),
        "{out}"
    );
    assert!(!out.contains("panicked"), "{out}");
}

async fn metadata_without_an_actor_is_a_finding(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let metadata = match backend {
        Backend::Sqlite => "'{\"request_id\": \"x\"}'",
        _ => "'{\"request_id\": \"x\"}'::jsonb",
    };
    Store::at(&url)
        .exec(&format!(
            "UPDATE events SET metadata = {metadata} WHERE {ACC_1_SECOND}"
        ))
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_unreadable(code, &out);
    let _ = std::fs::remove_dir_all(dir);
}

/// The same of a read-model row (it ended the check as a store it cannot read).
async fn an_unreadable_view_row_is_a_finding(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    Store::at(&url)
        .exec_read_models("UPDATE current_state SET status = 'frozen' WHERE account_id = 'acc-2'")
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED: pass 4 (read models): a read-model row cannot be read"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

async fn a_time_out_of_range_is_a_finding(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let (time, store): (&str, std::sync::Arc<dyn EventStore>) = match backend {
        Backend::Sqlite => (
            "9223372036854775807",
            std::sync::Arc::new(ledger_sqlite::open(&url).await.expect("open")),
        ),
        _ => (
            "'infinity'",
            std::sync::Arc::new(ledger_postgres::PgEventStore::direct(
                ledger_postgres::pool(&url, 2).expect("pool"),
            )),
        ),
    };
    Store::at(&url)
        .exec(&format!(
            "UPDATE events SET recorded_at = {time} WHERE {ACC_1_SECOND}"
        ))
        .await;
    let read = store
        .read_stream(StreamQuery {
            stream_id: "acc-1",
            after_version: 0,
            until: None,
            limit: 100,
        })
        .await;
    assert!(matches!(read, Err(StoreError::Unreadable(_))), "{read:?}");
    let (code, out) = verify(&url, Some(&key)).await;
    assert_unreadable(code, &out);
    let _ = std::fs::remove_dir_all(dir);
}

async fn a_seal_whose_event_is_gone_is_named_by_its_own_place(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let store = Store::at(&url);
    let last = store.events("$seals").await.pop().expect("a seal");
    let data: serde_json::Value = serde_json::from_str(&last.data).expect("seal data");
    let cursor = data["cursor"].as_str().expect("cursor").to_owned();
    let sealed_position = cursor.rsplit('-').next().expect("position").to_owned();
    store
        .exec(&format!(
            "DELETE FROM events WHERE position = {sealed_position}"
        ))
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_eq!(code, 1, "{out}");
    let named = format!(
        "stream $seals, version {}, position {}: the seal's cursor {cursor} names no event",
        last.version, last.cursor.position
    );
    assert!(out.contains(&named), "{named} in {out}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A reader of `verify`'s output that has gone (`ledger verify | head`) changes nothing
/// of its exit code (it panicked: 101).
async fn a_closed_output_keeps_the_exit_code(backend: Backend) {
    let (_app, url, dir, _key) = sealed_ledger(backend).await;
    for _ in 0..3 {
        let mut child = Command::new(ledger_binary())
            .arg("verify")
            .env("LEDGER__STORAGE__URL", &url)
            .env("LEDGER__LOG__LEVEL", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        drop(child.stdout.take());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("ends"))
            .await
            .expect("joined");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

on_both_backends!(
    metadata_without_an_actor_is_a_finding,
    a_time_out_of_range_is_a_finding,
    a_closed_output_keeps_the_exit_code,
    a_seal_whose_event_is_gone_is_named_by_its_own_place,
    an_unreadable_view_row_is_a_finding,
);
