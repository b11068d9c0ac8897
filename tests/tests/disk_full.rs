//! Resource faults (issue 23, part 3), first half: the disk fills. The real binary
//! keeps its ledger on a tmpfs the test mounts (it runs as root, as `scripts/test.sh`
//! does; a mount that fails fails the test): the SQLite file, or a private PostgreSQL
//! cluster's data (its write-ahead log elsewhere, so that PostgreSQL runs on and
//! refuses new pages). A file then takes every free byte: commands answer 503 (never
//! 500) and the process keeps answering; the file is removed: commands succeed again
//! with no operator, the views hold exactly the acknowledged deposits (none stopped
//! for good, not even by a rebuild started while the disk was full), and `ledger
//! verify` finds nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ledger_tests::private::PrivatePostgres;
use ledger_tests::process::{free_port, serve_on_sqlite, start_with, wait_up};
use ledger_tests::tamper::verify;
use serde_json::{json, Value};

/// A tmpfs of `size` (`16m`) mounted for the test's life.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ledger-full-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount runs");
        assert!(
            mounted.success(),
            "mounting a tmpfs needs root (scripts/test.sh runs as root)"
        );
        Self(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fills the disk: a file grown until the filesystem refuses a byte more.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    while f.write_all(&[0]).is_ok() {}
    let _ = f.sync_all();
    path
}

async fn deposit(http: &reqwest::Client, base: &str, amount: &str) -> u16 {
    let url = format!("{base}/accounts/acc/deposit");
    let r = http
        .post(url)
        .json(&json!({"amount": amount}))
        .send()
        .await
        .expect("answered");
    r.status().as_u16()
}

/// A client of `base` once it answers, with the account `acc` opened and 20.00
/// deposited: the client and the cents acknowledged.
async fn funded(base: &str) -> (reqwest::Client, u64) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    wait_up(&http, base).await;
    ledger_tests::open_usd(&http, base, "acc").await;
    for _ in 0..20 {
        assert_eq!(deposit(&http, base, "1.00").await, 200);
    }
    (http, 2_000)
}

/// `n` deposits of 0.01 on the full disk, each answered 200 or 503 (never 500), with
/// `meanwhile` run before the one at `at`: the cents acknowledged. Some are refused.
async fn deposits_on_a_full_disk<F: std::future::Future<Output = ()>>(
    http: &reqwest::Client,
    base: &str,
    n: usize,
    (at, meanwhile): (usize, F),
) -> u64 {
    let (mut acknowledged, mut refused) = (0, 0);
    let mut meanwhile = Some(meanwhile);
    for i in 0..n {
        if i == at {
            if let Some(step) = meanwhile.take() {
                step.await;
            }
        }
        match deposit(http, base, "0.01").await {
            200 => acknowledged += 1,
            503 => refused += 1,
            other => panic!("deposit {i} on a full disk answered {other}, not 200 or 503"),
        }
    }
    assert!(refused > 0, "a full disk refuses commands");
    acknowledged
}

/// Once space has returned: the first deposit of 1.00 that succeeds, within about
/// 10 s, with no operator (its cents).
async fn resumed(http: &reqwest::Client, base: &str) -> u64 {
    for _ in 0..100 {
        if deposit(http, base, "1.00").await == 200 {
            return 100;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("commands succeed again once space returns, with no operator");
}

/// The balance `cents` as the API writes USD.
fn usd(cents: u64) -> Value {
    json!(format!("{}.{:02}", cents / 100, cents % 100))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_and_the_ledger_resumes_when_space_returns() {
    let disk = SmallDisk::mount("16m");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve_on_sqlite(&disk.0, port, &[("LEDGER__LOG__LEVEL", "error")]);
    let (http, mut acknowledged) = funded(&base).await;

    let filler = fill(&disk.0);
    acknowledged += deposits_on_a_full_disk(&http, &base, 200, (0, async {})).await;
    let health = http
        .get(format!("{base}/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200, "the process still answers");

    std::fs::remove_file(filler).expect("space returns");
    acknowledged += resumed(&http, &base).await;
    let want = usd(acknowledged);
    let mut seen = Value::Null;
    for _ in 0..200 {
        let r = http
            .get(format!("{base}/accounts/acc"))
            .send()
            .await
            .expect("read");
        seen = r.json().await.unwrap_or(Value::Null);
        if seen["balance"] == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen["balance"], want,
        "the view holds every acknowledged deposit and no other"
    );
    let ready = http
        .get(format!("{base}/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
    let _ = server.child.kill();
    let _ = server.finish();
    let (code, out) = verify(&format!("sqlite://{}/ledger.db", disk.0.display()), None).await;
    assert_eq!(code, 0, "{out}");
}

/// The projections' states, by name.
async fn projection_states(http: &reqwest::Client, base: &str) -> Value {
    let r = http
        .get(format!("{base}/admin/projections"))
        .bearer_auth("crash-admin")
        .send()
        .await
        .expect("projections");
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let states = body["projections"].as_array().cloned().unwrap_or_default();
    let by_name = states.iter().map(|p| {
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        (name, json!([p["state"], p["last_error"]]))
    });
    Value::Object(by_name.collect())
}

/// Whether there are projections and every one of them is `live`.
fn all_live(states: &Value) -> bool {
    states
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.values().all(|v| v[0] == json!("live")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_postgres_disk_answers_503_and_no_view_stops_for_good() {
    let disk = SmallDisk::mount("128m");
    let cluster = PrivatePostgres::start_with_data_in(disk.0.join("data"));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start_with(
        &cluster.url(),
        port,
        &[("LEDGER__SNAPSHOTS__URL", "memory")],
    );
    let (http, mut acknowledged) = funded(&base).await;

    let filler = fill(&disk.0);
    // A rebuild asked for meanwhile fails or waits; it stops no view.
    let rebuild = async {
        let r = http
            .post(format!("{base}/admin/rebuild-projections"))
            .bearer_auth("crash-admin")
            .send()
            .await
            .expect("rebuild");
        let status = r.status().as_u16();
        assert!(
            status == 202 || status == 503,
            "a rebuild answered {status}"
        );
    };
    acknowledged += deposits_on_a_full_disk(&http, &base, 300, (150, rebuild)).await;

    std::fs::remove_file(filler).expect("space returns");
    acknowledged += resumed(&http, &base).await;
    let want = usd(acknowledged);
    let mut seen = (Value::Null, Value::Null);
    for _ in 0..300 {
        let r = http.get(format!("{base}/accounts/acc")).send().await;
        let account: Value = r.expect("read").json().await.unwrap_or(Value::Null);
        let states = projection_states(&http, &base).await;
        seen = (account["balance"].clone(), states);
        if seen.0 == want && all_live(&seen.1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen.0, want,
        "the view holds every acknowledged deposit: {seen:?}"
    );
    assert!(
        all_live(&seen.1),
        "every view follows the events again: {}",
        seen.1
    );
    let _ = server.kill();
    let _ = server.wait();
    let (code, out) = verify(&cluster.url(), None).await;
    assert_eq!(code, 0, "{out}");
}
