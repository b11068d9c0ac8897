//! The server the bench drives: starting the release binary, waiting for it and its
//! projections, the requests of the spread, and printing a result row.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ledger_postgres::testing::TestDatabase;
use serde_json::json;

use crate::load;

/// The admin token of the server the bench starts (to read projection lag).
pub(crate) const BENCH_ADMIN_TOKEN: &str = "ledger-bench-admin";

fn redis_url() -> String {
    std::env::var("LEDGER_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub(crate) fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The resident set now (VmRSS), in MB.
pub(crate) fn current_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The release binary on a fresh SQLite file in `dir` (the embedded default:
/// in-process snapshots), on `port`.
pub(crate) fn start_sqlite_server(
    binary: &std::path::Path,
    dir: &std::path::Path,
    port: u16,
) -> std::io::Result<Child> {
    Command::new(binary)
        .env("LEDGER__SERVER__ADDRESS", format!("127.0.0.1:{port}"))
        .env(
            "LEDGER__STORAGE__URL",
            format!("sqlite://{}/ledger.db", dir.display()),
        )
        .env("LEDGER__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

pub(crate) fn start_server(
    binary: &PathBuf,
    db_url: &str,
    port: u16,
    pool: usize,
    projectors: bool,
) -> anyhow::Result<Child> {
    let db_url_hash = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        db_url.hash(&mut h);
        h.finish()
    };
    Ok(Command::new(binary)
        .env("LEDGER__PROJECTIONS__ENABLED", projectors.to_string())
        .env("LEDGER__SERVER__ADDRESS", format!("127.0.0.1:{port}"))
        .env("LEDGER__STORAGE__URL", db_url)
        .env("LEDGER__STORAGE__MAX_CONNECTIONS", pool.to_string())
        .env("LEDGER__SNAPSHOTS__URL", redis_url())
        // Keys of this run only (its database is fresh); they expire after an hour.
        .env(
            "LEDGER__SNAPSHOTS__PREFIX",
            format!("ledger-bench-{db_url_hash:x}:"),
        )
        .env("LEDGER__SNAPSHOTS__TTL_SECONDS", "3600")
        .env("LEDGER__LOG__LEVEL", "warn")
        .env("LEDGER__AUTH__ADMIN_TOKEN", BENCH_ADMIN_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

/// `GET /admin/projections` (the bench's own admin token).
async fn projections(http: &reqwest::Client, base: &str) -> anyhow::Result<serde_json::Value> {
    Ok(http
        .get(format!("{base}/admin/projections"))
        .bearer_auth(BENCH_ADMIN_TOKEN)
        .send()
        .await?
        .json()
        .await?)
}

/// Whether the relay's row shows it caught up (it has relayed, and nothing is left).
pub(crate) async fn relay_caught_up(http: &reqwest::Client, base: &str) -> anyhow::Result<bool> {
    let status = projections(http, base).await?;
    Ok(status["projections"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["name"] == "relay" && p["lag_events"] == 0 && p["position"] != 0))
}

/// The largest projection lag, in events.
pub(crate) async fn lag(http: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let status = projections(http, base).await?;
    Ok(status["projections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] != "relay")
        .filter_map(|p| p["lag_events"].as_u64())
        .max()
        .unwrap_or(0))
}

/// Waits until every projection has no lag (admin endpoint, the bench's own token).
pub(crate) async fn wait_projected(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    for _ in 0..1200 {
        let status = projections(http, base).await?;
        let lagging = status["projections"].as_array().is_none_or(|all| {
            // The read models; the relay (which the feed measurements stop) is not one.
            all.iter()
                .any(|p| p["name"] != "relay" && p["lag_events"] != 0)
        });
        if !lagging {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the projections did not catch up within 120 s")
}

pub(crate) async fn wait_up(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    for _ in 0..100 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the server did not start")
}

pub(crate) fn row(name: &str, o: &load::Outcome, rss: Option<f64>) {
    let errors: Vec<String> = o
        .statuses
        .iter()
        .filter(|(s, _)| **s >= 300)
        .map(|(s, n)| format!("{s}:{n}"))
        .collect();
    println!(
        "| {name} | {:.0} req/s | {:.2} ms | {:.2} ms | {} | {} |",
        o.throughput(),
        o.pct(0.5),
        o.pct(0.99),
        if errors.is_empty() {
            "0".into()
        } else {
            errors.join(" ")
        },
        rss.map_or("".into(), |r| format!("{r:.1} MB")),
    );
}

/// The spread's requests: deposits of 1.00 over the accounts `s-0 .. s-999`.
pub(crate) fn spread_deposits() -> load::Make {
    Arc::new(|c, i| {
        (
            format!("/accounts/s-{}/deposit", load::spread_account(c, i, 1000)),
            bytes::Bytes::from_static(br#"{"amount":"1.00"}"#),
        )
    })
}

/// A request body.
pub(crate) fn json_body(v: serde_json::Value) -> bytes::Bytes {
    bytes::Bytes::from(v.to_string())
}

/// Starts each timed phase from the same place: a CHECKPOINT first, so no phase pays
/// for the dirty pages (and the full-page writes after a checkpoint) of the one before.
pub(crate) async fn settle(pool: &sqlx::PgPool) {
    if let Err(e) = sqlx::query("CHECKPOINT").execute(pool).await {
        println!("(CHECKPOINT refused, phases may pay for each other's writes: {e})");
    }
}

/// The release binary on a fresh database with the spread's 1,000 accounts `s-0`..
/// `s-999`: (server, address, database).
pub(crate) async fn spread_server(
    binary: &PathBuf,
    clients: usize,
) -> anyhow::Result<(Child, String, TestDatabase)> {
    spread_server_with(binary, clients, true, |_| "Bench".to_owned()).await
}

/// [`spread_server`] with the projectors on or off, and account `s-j` owned by
/// `owner(j)`.
pub(crate) async fn spread_server_with(
    binary: &PathBuf,
    clients: usize,
    projectors: bool,
    owner: impl Fn(usize) -> String,
) -> anyhow::Result<(Child, String, TestDatabase)> {
    let db = TestDatabase::create().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let server = start_server(binary, &db.url, port, clients + 8, projectors)?;
    let (addr, base) = (
        format!("127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}"),
    );
    let http = reqwest::Client::new();
    wait_up(&http, &base).await?;
    for i in 0..1000 {
        let body = json!({"account_id": format!("s-{i}"), "owner": owner(i), "currency": "USD"});
        http.post(format!("{base}/accounts"))
            .json(&body)
            .send()
            .await?;
    }
    Ok((server, addr, db))
}
