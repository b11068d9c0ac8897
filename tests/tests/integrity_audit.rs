//! `ledger verify` compares the audit log with the events, on both backends: an entry
//! changed and one removed are each found, named by the event; one no event made is
//! found by the log's size.

use ledger_tests::tamper::{assert_caught, sealed_ledger, verify, Store};
use ledger_tests::{on_both_backends, Backend};

/// The audit entry of `acc-2`'s opening, by its stream and version.
const ACC_2_OPENED: &str = "stream_id = 'acc-2' AND version = 1";

async fn a_changed_audit_entry_is_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(" audit entries and the analytics compared"),
        "{out}"
    );
    Store::at(&url)
        .exec_read_models(&format!(
            "UPDATE audit_log SET actor = 'mallory' WHERE {ACC_2_OPENED}"
        ))
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 4 (read models), stream acc-2, version 1");
    assert!(
        out.contains("the audit log view differs from the events (actor: view \"mallory\""),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

async fn a_removed_audit_entry_is_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    Store::at(&url)
        .exec_read_models(&format!("DELETE FROM audit_log WHERE {ACC_2_OPENED}"))
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 4 (read models), stream acc-2, version 1");
    assert!(
        out.contains("the event is missing from the audit log"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// An entry copied to a position no event holds: more entries than the events up to
/// the projection's checkpoint give.
async fn an_entry_no_event_made_is_found(backend: Backend) {
    let (_app, url, dir, key) = sealed_ledger(backend).await;
    Store::at(&url)
        .exec_read_models(&format!(
            "INSERT INTO audit_log SELECT position + 1000000, event_id, event_type, \
             stream_id, version, actor, request_id, recorded_at, amount, currency \
             FROM audit_log WHERE {ACC_2_OPENED}"
        ))
        .await;
    let (code, out) = verify(&url, Some(&key)).await;
    assert_caught(code, &out, "pass 4 (read models)");
    assert!(
        out.contains("the audit log holds 9 entries, but the events up to its checkpoint give 8: entries no event made"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

on_both_backends!(
    a_changed_audit_entry_is_found,
    a_removed_audit_entry_is_found,
    an_entry_no_event_made_is_found,
);
