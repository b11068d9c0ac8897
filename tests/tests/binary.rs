//! The compiled `ledger` binary as a child process: configured by the environment,
//! serving, and stopping cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use ledger_tests::process::{free_port, serve_through};
use ledger_tests::{json, ledger_binary};
use serde_json::json;
use sqlx::Connection;

#[tokio::test]
async fn the_binary_serves_on_sqlite_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("ledger-bin-{}", uuid::Uuid::new_v4()));
    let port = free_port();
    let env = [
        ("LEDGER__AUTH__ADMIN_TOKEN", "bin-admin"),
        // Spaces around entries and empty entries, as people write lists.
        (
            "LEDGER__AUTH__API_TOKENS",
            "bin-api-1, bin-api-2,,bin-api-3 ",
        ),
        ("LEDGER__LOG__LEVEL", "debug"),
        ("LEDGER__LOG__FORMAT", "json"),
    ];
    let child = ledger_tests::process::serve_on_sqlite(&dir, port, &env);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the binary never answered /health");
    let r = client
        .post(format!("{base}/accounts"))
        .bearer_auth("bin-api-2")
        .json(&json!({"account_id": "bin", "owner": "B", "currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let last = client
        .get(format!("{base}/accounts/bin"))
        .bearer_auth("bin-api-3")
        .send()
        .await
        .unwrap();
    assert_ne!(last.status(), 401, "the last entry, trimmed, is a token");
    let unauthenticated = client
        .post(format!("{base}/accounts/bin/deposit"))
        .json(&json!({"amount": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let not_admin = client
        .get(format!("{base}/admin/projections"))
        .bearer_auth("bin-api-1")
        .send()
        .await
        .unwrap();
    assert_eq!(not_admin.status(), 403);
    let (s, b) = json(
        client
            .post(format!("{base}/accounts/bin/deposit"))
            .bearer_auth("bin-api-1")
            .json(&json!({"amount": "7.5"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["balance"].clone()), (200, json!("7.50")));
    let r = client
        .get(format!("{base}/admin/projections"))
        .bearer_auth("bin-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pid = child.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.finish())
        .await
        .unwrap()
        .unwrap();
    assert!(
        exit.status.success(),
        "graceful exit, got {:?}",
        exit.status
    );
    let logs = String::from_utf8_lossy(&exit.stderr);
    assert!(
        logs.contains("ledger listening"),
        "the log is captured: {logs}"
    );
    // A short admin token is served, and warned about (its length, never itself).
    assert!(
        logs.contains("auth.admin_token has 9 characters: use at least 32"),
        "a short admin token is warned about: {logs}"
    );
    for token in ["bin-admin", "bin-api-1", "bin-api-2", "bin-api-3"] {
        assert!(!logs.contains(token), "tokens never reach the logs");
    }
    // After a clean stop the events' file alone is the whole ledger (its write-ahead
    // log folded in): a copy of it is a backup (it once held none of the events).
    let wal = dir.join("ledger.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the write-ahead log is folded into the file"
    );
    let copy = dir.join("backup.db");
    std::fs::copy(dir.join("ledger.db"), &copy).expect("copied");
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", copy.display()))
        .await
        .expect("the copy opens");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE stream_id = 'bin'")
        .fetch_one(&mut c)
        .await
        .expect("the copy holds the events");
    assert_eq!(events, 2, "the opening and the deposit");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rebuild_command_prints_its_progress_and_a_summary_only() {
    let app = ledger_tests::TestApp::spawn(ledger_tests::Backend::PostgresRedis).await;
    for i in 0..3 {
        let (s, _) = json(
            app.post(
                "/accounts",
                json!({"account_id": format!("cli-{i}"), "owner": "C", "currency": "USD"}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 201);
    }
    let url = app.storage_url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(ledger_binary())
            .args(["projections", "rebuild"])
            .env("LEDGER__STORAGE__URL", url)
            .output()
            .expect("runs")
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("done"), "a summary: {text}");
    for noise in [
        "WARN",
        "slow statement",
        "does not exist, skipping",
        "NOTICE",
    ] {
        assert!(!text.contains(noise), "{noise} in the output: {text}");
    }
}

/// Events restored from a cluster whose transaction ids ran ahead of this one's (a
/// `pg_dump` restored into a new cluster): the feed would hide them, and miss for good
/// what is written meanwhile. The binary refuses to start, naming both ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_restored_from_a_cluster_ahead_are_refused_at_start() {
    let db = ledger_postgres::testing::TestDatabase::create().await;
    let url = db.url.clone();
    let migrate = move || {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(ledger_binary())
                .arg("migrate")
                .env("LEDGER__STORAGE__URL", url)
                .output()
                .expect("runs")
        })
    };
    assert!(migrate().await.unwrap().status.success());
    let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
    sqlx::query(
        "INSERT INTO events (tx_id, stream_id, stream_type, version, event_id, event_type, \
                             schema_version, data, metadata, recorded_at) \
         VALUES ($1, 'a', 'account', 1, gen_random_uuid(), 'AccountOpened', 1, \
                 '{}', '{}', now())",
    )
    .bind(1_i64 << 40)
    .execute(&pool)
    .await
    .expect("a restored row");
    pool.close().await;
    let out = migrate().await.unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started: {text}");
    assert!(text.contains("another cluster"), "{text}");
    assert!(text.contains(&(1_i64 << 40).to_string()), "{text}");
}

/// `keys generate` says why it cannot write a key: "it must not exist yet" was said of
/// a missing directory too.
#[test]
fn a_key_file_is_never_overwritten_and_a_missing_directory_is_said() {
    let dir = std::env::temp_dir().join(format!("ledger-keygen-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let taken = dir.join("k.pem");
    std::fs::write(&taken, "mine").expect("file");
    for (out, said) in [
        (taken.clone(), "never overwritten"),
        (dir.join("no/such/k.pem"), "No such file"),
    ] {
        let run = Command::new(ledger_binary())
            .args(["keys", "generate", "--out"])
            .arg(&out)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success() && err.contains(said), "{err}");
        assert!(!err.contains("must not exist yet"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&taken).expect("kept"), "mine");
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGHUP stops the service as SIGTERM does (it killed it at once: exit 129, the
/// write-ahead log left unfolded); a log written to a pipe has no colour codes. The
/// service is started with SIGHUP at its default (`env --default-signal`), whatever
/// the test run inherited: under `nohup` it would stay ignored, as it should.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_stops_the_service_cleanly() {
    let dir = std::env::temp_dir().join(format!("ledger-hup-{}", uuid::Uuid::new_v4()));
    let port = free_port();
    let log = std::env::temp_dir().join(format!("ledger-hup-{}.log", uuid::Uuid::new_v4()));
    let stderr = std::fs::File::create(&log).expect("log file");
    let default_hup = ["env", "--default-signal=HUP"];
    let mut child = serve_through(&default_hup, &dir, port, &[], stderr.into());
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    ledger_tests::process::wait_up(&client, &base).await;
    let r = client
        .post(format!("{base}/accounts"))
        .json(&json!({"account_id": "hup", "owner": "H", "currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(sent.success());
    let mut exit = None;
    for _ in 0..300 {
        exit = child.try_wait().expect("waits");
        if exit.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}: {logs}");
    assert!(logs.contains("ledger stopped"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "no escape codes in a pipe: {logs}"
    );
    let wal = dir.join("ledger.db-wal");
    assert!(std::fs::metadata(&wal).map_or(true, |m| m.len() == 0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Started with SIGHUP ignored (`nohup`), the service keeps it ignored: a closed
/// terminal does not stop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_nohup_sighup_stays_ignored() {
    let dir = std::env::temp_dir().join(format!("ledger-nohup-{}", uuid::Uuid::new_v4()));
    let port = free_port();
    let ignored_hup = ["sh", "-c", "trap '' HUP && exec \"$0\" \"$@\""];
    let mut child = serve_through(&ignored_hup, &dir, port, &[], Stdio::null());
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    ledger_tests::process::wait_up(&client, &base).await;
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    // Still serving after the hang-up has been delivered (a request after it).
    for _ in 0..3 {
        let r = client.get(format!("{base}/health")).send().await;
        assert!(r.is_ok_and(|r| r.status() == 200));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(child.try_wait().expect("waits").is_none(), "still running");
    let status = ledger_tests::process::terminate(&mut child).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
