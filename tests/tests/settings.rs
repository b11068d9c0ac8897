//! Settings are checked before anything is opened or made: a wrong one is one error
//! line naming its key, and no ledger appears at the path. Black-box testing found each
//! of these making a ledger first, panicking (a cache of 2^64 slots), quietly rounding
//! (`0.4` requests a second turned the limit off) or turning another application's
//! SQLite database into a ledger.

use std::path::Path;
use std::process::{Command, Output};

use ledger_tests::ledger_binary;

/// `ledger <command>` on a SQLite file in `dir`, bounded (a check that no longer holds
/// would leave `serve` running).
fn ledger(dir: &Path, command: &str, env: &[(&str, &str)]) -> Output {
    Command::new("timeout")
        .arg("30")
        .arg(ledger_binary())
        .arg(command)
        .env(
            "LEDGER__STORAGE__URL",
            format!("sqlite://{}/l.db", dir.display()),
        )
        .env("LEDGER__SERVER__ADDRESS", "127.0.0.1:0")
        .envs(env.iter().copied())
        .output()
        .expect("runs")
}

#[test]
fn every_setting_is_checked_before_a_ledger_is_made() {
    let dir = std::env::temp_dir().join(format!("ledger-settings-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let nats = ("LEDGER__RELAY__NATS__URL", "nats://token@127.0.0.1:1");
    let runs: [(&[(&str, &str)], &str); 16] = [
        // PostgreSQL would take the user's own database (a ledger made in `root`).
        (
            &[("LEDGER__STORAGE__URL", "postgres://postgres@127.0.0.1:1")],
            "storage.url postgres://postgres@127.0.0.1:1 names no database",
        ),
        (
            &[("LEDGER__AUTH__API_TOKENS", "good,with space")],
            "auth.api_tokens must not hold spaces",
        ),
        // Entries, but no token: the API was open.
        (
            &[("LEDGER__AUTH__API_TOKENS", " , ")],
            "auth.api_tokens lists no token",
        ),
        // Quoted as written, with the bound (once quoted rounded through a float).
        (
            &[("LEDGER__SERVER__REQUEST_TIMEOUT_MS", "18446744073709551615")],
            "server.request_timeout_ms must be at most 9223372036854775807 (it is \
             18446744073709551615)",
        ),
        (
            &[("LEDGER__AUTH__RATE_LIMIT_PER_SECOND", "9007199254740993")],
            "auth.rate_limit_per_second must be at most 4294967295 (it is 9007199254740993)",
        ),
        (
            &[("LEDGER__AUTH__RATE_LIMIT_PER_SECOND", "0.4")],
            "auth.rate_limit_per_second must be a whole number",
        ),
        (
            &[("LEDGER__SERVER__REQUEST_TIMEOUT_MS", "inf")],
            "server.request_timeout_ms must be a whole number",
        ),
        (
            &[("LEDGER__SNAPSHOTS__EVERY", "+5")],
            "snapshots.every must be a whole number, digits only",
        ),
        (
            &[nats, ("LEDGER__RELAY__NATS__URL", "http://x")],
            "relay.nats.url is not a NATS server's address",
        ),
        (
            &[("LEDGER__SNAPSHOTS__CACHE_CAPACITY", "1000000000000")],
            "snapshots.cache_capacity must be at most 10000000",
        ),
        (
            &[("LEDGER__SNAPSHOTS__TTL_SECONDS", "9223372036854775807")],
            "snapshots.ttl_seconds must be at most",
        ),
        (
            &[("LEDGER__SNAPSHOTS__URL", "memcache://x")],
            "snapshots.url must be",
        ),
        (
            &[("LEDGER__SERVER__ADDRESS", "nonsense")],
            "server.address \"nonsense\"",
        ),
        (
            &[("LEDGER__INTEGRITY__SIGNING_KEY", "garbage")],
            "integrity.signing_key",
        ),
        (
            &[("LEDGER__AUTH__ADMIN_TOKEN", " ")],
            "auth.admin_token must not hold spaces",
        ),
        (
            &[nats, ("LEDGER__RELAY__NATS__STREAM", "BB x")],
            "relay.nats.stream \"BB x\"",
        ),
    ];
    for (env, said) in runs {
        let out = ledger(&dir, "serve", env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{env:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(said),
            "{env:?}: {err}"
        );
        assert!(
            !err.contains("token@"),
            "a NATS token is never shown: {err}"
        );
        let made: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
        assert!(made.is_empty(), "{env:?} made {made:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn another_applications_sqlite_database_is_not_made_a_ledger() {
    let dir = std::env::temp_dir().join(format!("ledger-foreign-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("l.db");
    let made = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect({:?}); c.execute('CREATE TABLE users (id INT)'); c.commit()",
            file.display().to_string()
        ))
        .status()
        .expect("python3 runs");
    assert!(made.success());
    let before = std::fs::read(&file).expect("read");
    for command in ["migrate", "serve"] {
        let out = ledger(&dir, command, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {err}");
        assert!(err.contains("holds tables of something else"), "{err}");
    }
    assert_eq!(std::fs::read(&file).expect("read"), before, "unchanged");
    let beside: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
    assert_eq!(beside.len(), 1, "nothing made beside it: {beside:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every command that opens PostgreSQL says why it could not: the pool alone says only
/// that it timed out (black-box testing found `verify` and `projections status` saying
/// just that, where `migrate` gave the cause).
#[test]
fn an_unreachable_postgres_is_named_with_its_cause() {
    let url = (
        "LEDGER__STORAGE__URL",
        "postgres://postgres@127.0.0.1:1/ledger",
    );
    for args in [&["migrate"][..], &["verify"], &["projections", "status"]] {
        let out = Command::new("timeout")
            .arg("30")
            .arg(ledger_binary())
            .args(args)
            .envs([url])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{args:?}: {:?} {err}",
            out.status
        );
        assert!(
            err.contains("cannot reach") && err.contains("Connection refused"),
            "{args:?}: {err}"
        );
    }
}

/// A ledger file a newer version migrated, and the read models' file named as the
/// ledger's, are refused with what to do (sqlx's own words said neither).
#[test]
fn migrations_this_version_cannot_run_say_what_to_do() {
    let dir = std::env::temp_dir().join(format!("ledger-newer-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    assert!(ledger(&dir, "migrate", &[]).status.success());
    let read_models = format!("sqlite://{}/l-read-models.db", dir.display());
    let out = ledger(&dir, "migrate", &[("LEDGER__STORAGE__URL", &read_models)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("storage.url names another database or file"),
        "{err}"
    );
    let newer = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect({:?}); c.execute(\"INSERT INTO _sqlx_migrations \
             SELECT 999, 'from a newer version', installed_on, 1, checksum, 0 FROM \
             _sqlx_migrations WHERE version = 1\"); c.commit()",
            dir.join("l.db").display().to_string()
        ))
        .status()
        .expect("python3 runs");
    assert!(newer.success());
    for command in ["migrate", "serve"] {
        let out = ledger(&dir, command, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {err}");
        assert!(
            err.contains("a newer version of ledger migrated it"),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Read models that applied events the store no longer holds (the events' file
/// restored from an earlier moment) are reported by `projections status`, which
/// fails: it said `live`, lag 0, while `serve` refused to start on them.
#[test]
fn projections_status_reports_read_models_ahead_of_the_events() {
    let dir = std::env::temp_dir().join(format!("ledger-ahead-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    assert!(ledger(&dir, "migrate", &[]).status.success());
    let moved = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect({:?}); \
             c.execute(\"UPDATE projections SET position = 9 WHERE name = 'current_state'\"); \
             c.commit(); assert c.total_changes == 1",
            dir.join("l-read-models.db").display().to_string()
        ))
        .status()
        .expect("python3 runs");
    assert!(moved.success());
    let out = Command::new(ledger_binary())
        .args(["projections", "status"])
        .env(
            "LEDGER__STORAGE__URL",
            format!("sqlite://{}/l.db", dir.display()),
        )
        .output()
        .expect("runs");
    let (said, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{said}{err}");
    assert!(
        said.contains("ahead of the events, which end at 0"),
        "{said}"
    );
    assert!(
        err.contains("current_state applied events the store no longer holds"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PostgreSQL database holding another application's tables and no ledger is not
/// made into one (SQLite refused such a file; PostgreSQL mixed the ledger's tables in).
#[tokio::test]
async fn another_applications_postgres_database_is_not_made_a_ledger() {
    use sqlx::Connection;
    let db = ledger_postgres::testing::TestDatabase::create().await;
    let mut conn = sqlx::PgConnection::connect_with(&db.options)
        .await
        .expect("connects");
    sqlx::query("CREATE TABLE customers (id int)")
        .execute(&mut conn)
        .await
        .expect("a table of something else");
    let out = Command::new("timeout")
        .arg("30")
        .arg(ledger_binary())
        .arg("migrate")
        .env("LEDGER__STORAGE__URL", &db.url)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("holds tables of something else (`customers`)"),
        "{err}"
    );
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("reads");
    assert_eq!(tables, ["customers"], "nothing made beside it");
    let _ = conn.close().await;
}
