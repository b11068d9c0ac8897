//! The command line itself (this test also makes `cargo test` build the `ledger` binary
//! that the end-to-end tests launch).

use std::process::Command;

fn ledger() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ledger"))
}

#[test]
fn help_lists_the_commands() {
    let out = ledger().arg("--help").output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "migrate", "relay", "projections"] {
        assert!(text.contains(command), "{command} missing from --help");
    }
}

#[test]
fn migrate_then_status_on_a_fresh_sqlite_file() {
    let dir = std::env::temp_dir().join(format!("ledger-cli-{}", std::process::id()));
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let migrate = ledger()
        .arg("migrate")
        .env("LEDGER__STORAGE__URL", &url)
        .output()
        .expect("runs");
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let status = ledger()
        .args(["projections", "status"])
        .env("LEDGER__STORAGE__URL", &url)
        .output()
        .expect("runs");
    assert!(status.status.success());
    let text = String::from_utf8_lossy(&status.stdout);
    for p in ["current_state", "analytics", "audit_log"] {
        assert!(text.contains(p) && text.contains("live"), "{text}");
    }
    let rebuild = ledger()
        .args(["projections", "rebuild", "--name", "analytics"])
        .env("LEDGER__STORAGE__URL", &url)
        .output()
        .expect("runs");
    assert!(
        rebuild.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuild.stderr)
    );
    let unknown = ledger()
        .args(["projections", "rebuild", "--name", "nope"])
        .env("LEDGER__STORAGE__URL", &url)
        .output()
        .expect("runs");
    assert!(!unknown.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn relay_needs_a_nats_url_and_a_valid_prefix() {
    let dir = std::env::temp_dir().join(format!("ledger-cli-relay-{}", std::process::id()));
    let url = format!("sqlite://{}/ledger.db", dir.display());
    // On a ledger (on none, the relay refuses before its settings are read).
    let made = ledger()
        .arg("migrate")
        .env("LEDGER__STORAGE__URL", &url)
        .output()
        .expect("runs");
    assert!(made.status.success());
    let out = ledger()
        .arg("relay")
        .env("LEDGER__STORAGE__URL", &url)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("relay.nats.url"), "{text}");
    let out = ledger()
        .arg("relay")
        .env("LEDGER__STORAGE__URL", &url)
        .env("LEDGER__RELAY__NATS__URL", "nats://127.0.0.1:1")
        .env("LEDGER__RELAY__NATS__SUBJECT_PREFIX", "ledger.>")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("subject_prefix"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
