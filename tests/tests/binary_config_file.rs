//! The `--config` file and the values read from it, through the compiled binary: every
//! failure names the file and none prints a secret.

use std::process::Command;

use ledger_tests::ledger_binary;

#[test]
fn a_configuration_file_is_named_and_its_secrets_never_print() {
    let dir = std::env::temp_dir().join(format!("ledger-file-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sqlite = format!("sqlite://{}/l.db", dir.display());
    // A file's syntax error said where, quoting the line, secret and all.
    let file = dir.join("ledger.toml");
    std::fs::write(&file, "[auth]\nadmin_token = \"secret-pw\"x\"\n").expect("file");
    let out = Command::new(ledger_binary())
        .args(["--config", file.to_str().expect("path"), "migrate"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("line 2"), "{err}");
    assert!(
        !err.contains("secret-pw"),
        "the file's line never prints: {err}"
    );
    assert!(err.contains("ledger.toml: "), "the file is named: {err}");
    // A value of the wrong type names the file; under a key that may be secret, it is
    // not quoted (a string of tokens where a list is asked for printed them).
    for (text, named, hidden) in [
        ("[projections]\nenabled = \"maybe\"\n", "maybe", ""),
        (
            "[auth]\napi_tokens = \"tok-1,tok-2\"\n",
            "auth.api_tokens",
            "tok-1",
        ),
        // Read as the texts "true", "5" (a working token) and a relay to host "5".
        (
            "[auth]\nadmin_token = true\n",
            "auth.admin_token must be text",
            "",
        ),
        (
            "[auth]\napi_tokens = [\"tok-1\", 5]\n",
            "auth.api_tokens must be a list of texts",
            "tok-1",
        ),
        ("[relay.nats]\nurl = 5\n", "relay.nats.url must be text", ""),
    ] {
        std::fs::write(&file, text).expect("file");
        let out = Command::new(ledger_binary())
            .args(["--config", file.to_str().expect("path"), "migrate"])
            .env("LEDGER__STORAGE__URL", &sqlite)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(named), "{err}");
        // (serde's own refusals, a string for a list, carry no origin to name.)
        assert!(named != "maybe" || err.contains("ledger.toml"), "{err}");
        assert!(hidden.is_empty() || !err.contains(hidden), "{err}");
    }
    // Spaces around a filter's directives are dropped (the filter read `info ` as a
    // target, silencing every line); one with none is refused; levels may be numbers.
    for (level, ok) in [(" ", false), ("INFO , sqlx=warn", true), ("3", true)] {
        let out = Command::new(ledger_binary())
            .arg("migrate")
            .env("LEDGER__STORAGE__URL", &sqlite)
            .env("LEDGER__LOG__LEVEL", level)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.success(), ok, "{level:?}: {err}");
    }
    // Every file that cannot be read is named with what it is; a pipe is not waited on
    // (it was read as a file "not found"), and `/dev/null` is an empty configuration.
    let fifo = dir.join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let missing = dir.join("missing.toml");
    for (path, said) in [
        (&missing, "no such file"),
        (&dir, "a directory"),
        (&fifo, "a pipe or socket"),
    ] {
        let out = Command::new(ledger_binary())
            .args(["--config", path.to_str().expect("path"), "migrate"])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        let named = format!("--config {}: {said}", path.display());
        assert!(!out.status.success() && err.contains(&named), "{err}");
    }
    let out = Command::new(ledger_binary())
        .args(["--config", "/dev/null", "migrate"])
        .env("LEDGER__STORAGE__URL", &sqlite)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
