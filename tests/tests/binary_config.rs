//! The compiled `ledger` binary's start-up: settings read from the environment and
//! refused with one clear line, stores that cannot be reached, processes that start
//! together on a new file.

use std::process::Command;

use ledger_tests::ledger_binary;

/// A P-256 private key (PKCS#8 PEM), made for this test only.
const P256_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwvy/AO6DC5m2wVum
cmyGr2AaTDULg5YsnmvuNP7g2hqhRANCAASB6r/ExGusjD0RivfHBIiuYb6gQMDo
lw2JQRrqOWst75yfDvVbnD+9TrmNcNvbnP2/npFHdynrr/f+h/VC60uB
-----END PRIVATE KEY-----";

#[test]
fn a_bad_configuration_is_one_clear_line_and_a_failure() {
    let out = Command::new(ledger_binary())
        .arg("migrate")
        .env("LEDGER__STORAGE__URL", "mysql://nope")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("storage.url"), "{err}");
}

/// A key no setting has is refused, not ignored: a misspelt `auth.api_token` once left
/// the API open, `server.adress` served on the default address (black-box testing).
/// So is a log filter that cannot be read.
#[test]
fn an_unknown_setting_is_an_error_not_ignored() {
    let dir = std::env::temp_dir().join(format!("ledger-conf-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("ledger.toml");
    std::fs::write(&file, "[auth]\napi_token = \"s3cret\"\n").expect("file");
    let sqlite = format!("sqlite://{}/l.db", dir.display());
    let runs: [(&[&str], (&str, &str), &str); 10] = [
        (
            &["--config", file.to_str().unwrap(), "migrate"],
            ("LEDGER__LOG__LEVEL", "info"),
            "api_token",
        ),
        (
            &["migrate"],
            ("LEDGER__SERVER__ADRESS", "127.0.0.1:1"),
            "adress",
        ),
        (&["migrate"], ("LEDGER__LOG__LEVEL", "[[["), "log.level"),
        // A misspelt level was read as a target's name, silencing every log line.
        (
            &["migrate"],
            ("LEDGER__LOG__LEVEL", "ledger_http=debug,verbose"),
            "log.level `verbose` names no level",
        ),
        // 0 once answered every request 503.
        (
            &["migrate"],
            ("LEDGER__SERVER__REQUEST_TIMEOUT_MS", "0"),
            "server.request_timeout_ms must be at least 1",
        ),
        // 0 would refuse every live stream.
        (
            &["migrate"],
            ("LEDGER__SERVER__MAX_LIVE_STREAMS", "0"),
            "server.max_live_streams must be at least 1",
        ),
        // 0 would accept no connection at all.
        (
            &["migrate"],
            ("LEDGER__SERVER__MAX_CONNECTIONS", "0"),
            "server.max_connections must be at least 1",
        ),
        (
            &["migrate"],
            ("LEDGER__SERVER__MAX_LIVE_STREAMS_PER_KEY", "0"),
            "server.max_live_streams_per_key must be at least 1",
        ),
        // Black-box testing found `migrate` making a new ledger under a key that
        // `serve` refuses.
        (
            &["migrate"],
            ("LEDGER__INTEGRITY__SIGNING_KEY", "/nonexistent/seal.pem"),
            "integrity.signing_key is neither PEM text",
        ),
        // Named as the Ed25519 identifier it expected, which read as if refused.
        (
            &["migrate"],
            ("LEDGER__INTEGRITY__SIGNING_KEY", P256_KEY),
            "a key of another algorithm",
        ),
    ];
    for (args, (name, value), named) in runs {
        let out = Command::new(ledger_binary())
            .args(args)
            .env("LEDGER__STORAGE__URL", &sqlite)
            .env(name, value)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} {name}: {err}");
        assert!(err.starts_with("error: ") && err.contains(named), "{err}");
    }
    assert!(!dir.join("l.db").exists(), "nothing was made");
    // A PostgreSQL pool of 0 once panicked; of 1, every request waited for the
    // connection the listener keeps.
    let out = Command::new(ledger_binary())
        .arg("migrate")
        .env(
            "LEDGER__STORAGE__URL",
            "postgres://postgres@127.0.0.1:1/ledger",
        )
        .env("LEDGER__STORAGE__MAX_CONNECTIONS", "1")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("at least 2 on PostgreSQL"),
        "{err}"
    );
    // A directory once became a file named like it, beside which no lock could be
    // taken (pending transfers never expired); in memory, every event is lost at exit.
    let urls = [
        (format!("sqlite://{}/", dir.display()), "names a directory"),
        ("sqlite://:memory:".to_owned(), "in-memory"),
        ("sqlite://".to_owned(), "names no file"),
    ];
    for (url, named) in urls {
        let out = Command::new(ledger_binary())
            .arg("migrate")
            .env("LEDGER__STORAGE__URL", &url)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(named), "{url}: {err}");
    }
    // Commands that read or rebuild what is there once made a mistyped path a ledger.
    let typo = format!("sqlite://{}/typo/l.db", dir.display());
    for args in [&["projections", "status"][..], &["projections", "rebuild"]] {
        let out = Command::new(ledger_binary())
            .args(args)
            .env("LEDGER__STORAGE__URL", &typo)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("no ledger at"),
            "{args:?}: {err}"
        );
    }
    assert!(!dir.join("typo").exists(), "nothing was made");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Processes starting together on a new SQLite file: each migrates it in turn (one
/// used to stop at the tables the other had just made).
#[test]
fn processes_starting_together_on_a_new_file_all_start() {
    for round in 0..4 {
        let dir = std::env::temp_dir().join(format!("ledger-race-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}/l.db", dir.display());
        let started: Vec<_> = (0..3)
            .map(|_| {
                Command::new(ledger_binary())
                    .arg("migrate")
                    .env("LEDGER__STORAGE__URL", &url)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("runs")
            })
            .collect();
        for child in started {
            let out = child.wait_with_output().expect("ends");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "round {round}: {err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn an_unreachable_store_is_one_clear_line_and_a_failure() {
    let out = Command::new(ledger_binary())
        .arg("migrate")
        .env(
            "LEDGER__STORAGE__URL",
            "postgres://postgres:secret-pw@127.0.0.1:1/ledger",
        )
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach"), "{err}");
    // Why, not only that the pool's wait ran out.
    assert!(err.contains("Connection refused"), "{err}");
    assert!(!err.contains("secret-pw"), "passwords never print: {err}");
    // Nor a password given as a query parameter, one of the relay's URL, or a signing
    // key's text that is not PEM (it was read as a path and printed).
    let secrets = [
        (
            "LEDGER__STORAGE__URL",
            "postgres://127.0.0.1:1/ledger?user=postgres&password=secret-pw",
            "migrate",
            "event store",
        ),
        (
            "LEDGER__RELAY__NATS__URL",
            "nats://user:secret-pw@127.0.0.1:4222x",
            "relay",
            "relay.nats.url",
        ),
        (
            "LEDGER__INTEGRITY__SIGNING_KEY",
            "MC4CAQAwBQYDK2VwBCIEIsecret-pw",
            "verify",
            "integrity.signing_key",
        ),
    ];
    let dir = std::env::temp_dir().join(format!("ledger-secrets-{}", uuid::Uuid::new_v4()));
    let sqlite = format!("sqlite://{}/l.db", dir.display());
    let made = Command::new(ledger_binary())
        .arg("migrate")
        .env("LEDGER__STORAGE__URL", &sqlite)
        .output()
        .expect("runs");
    assert!(made.status.success(), "a ledger for the relay and verify");
    for (name, value, command, named) in secrets {
        let out = Command::new(ledger_binary())
            .arg(command)
            .env("LEDGER__STORAGE__URL", &sqlite)
            .env(name, value)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(named),
            "{name}: {err}"
        );
        assert!(!err.contains("secret-pw"), "{name} never prints: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `projections status` only reads: on a store of an older schema it changes nothing
/// (it once applied the new migrations, after which the older instances still running
/// on the store could not start again).
#[tokio::test]
async fn projections_status_upgrades_no_schema() {
    use sqlx::Connection;
    let dir = std::env::temp_dir().join(format!("ledger-status-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("l.db");
    let url = format!("sqlite://{}", file.display());
    let run = |args: &[&str]| {
        let out = Command::new(ledger_binary())
            .args(args)
            .env("LEDGER__STORAGE__URL", &url)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["migrate"]);
    // The latest migration undone by hand: the schema of the version before.
    let latest = "SELECT max(version) FROM _sqlx_migrations";
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let was: i64 = sqlx::query_scalar(latest).fetch_one(&mut db).await.unwrap();
    sqlx::raw_sql(&format!(
        "DROP TRIGGER events_no_replace_version; DROP TRIGGER events_no_replace_other; \
         DELETE FROM _sqlx_migrations WHERE version = {was}"
    ))
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    run(&["projections", "status"]);
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let now: i64 = sqlx::query_scalar(latest).fetch_one(&mut db).await.unwrap();
    assert_eq!(now, was - 1, "status migrated the store");
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A storage URL that holds no ledger gets a new, empty one, and the log says so
/// (black-box testing: a mistyped path took deposits into a ledger no one expected,
/// the log naming neither the store nor that it was new); the next start says which
/// ledger it opened.
#[test]
fn a_new_ledger_is_announced_as_new() {
    let dir = std::env::temp_dir().join(format!("ledger-new-{}", uuid::Uuid::new_v4()));
    let sqlite = format!("sqlite://{}/typo/ledgr.db", dir.display());
    let migrate = || {
        let out = Command::new(ledger_binary())
            .arg("migrate")
            .env("LEDGER__STORAGE__URL", &sqlite)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let first = migrate();
    assert!(first.contains("a new, empty one was made"), "{first}");
    assert!(first.contains("typo/ledgr.db"), "{first}");
    let second = migrate();
    assert!(second.contains("ledger opened"), "{second}");
    assert!(!second.contains("a new, empty one"), "{second}");
    let _ = std::fs::remove_dir_all(&dir);
}
