//! The embedded default measured against its own floor: the release binary on a fresh
//! SQLite file (in-process snapshots), spread and hot, alternating with single-row
//! autocommit INSERTs into the `events` table of another fresh ledger file (WAL,
//! synchronous FULL, one writer connection: the adapter's own settings and schema).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::load;
use crate::server::{row, spread_deposits, start_sqlite_server, wait_up};

/// The floor: `clients` tasks inserting one row per autocommit over 1,000 streams
/// through the store's one writer connection, for `secs`.
async fn floor(dir: &Path, clients: usize, secs: Duration) -> anyhow::Result<f64> {
    let url = format!(
        "sqlite://{}/floor-{}.db",
        dir.display(),
        uuid::Uuid::new_v4()
    );
    let store = ledger_sqlite::open(&url).await?;
    let pool = store.writer().clone();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (pool, next) = (pool.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while started.elapsed() < secs {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                sqlx::query(
                    "INSERT INTO events (stream_id, stream_type, version, event_id, event_type, \
                     schema_version, data, metadata, recorded_at) \
                     VALUES (?1, 'account', ?2, ?3, 'MoneyDeposited', 2, ?4, ?5, ?6)",
                )
                .bind(format!("s-{}", n % 1000))
                .bind(i64::try_from(n / 1000 + 1).unwrap_or(i64::MAX))
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(r#"{"account_id":"a","currency":"USD","amount":"1.00","balance":"1.00"}"#)
                .bind(r#"{"actor":"bench","request_id":"r"}"#)
                .bind(chrono::Utc::now().timestamp_micros())
                .execute(&pool)
                .await?;
                done += 1;
            }
            anyhow::Ok(done)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Spread and hot on the embedded default against its floor, in alternating rounds.
pub(crate) async fn measure(
    binary: &Path,
    clients: usize,
    secs: Duration,
    rounds: usize,
) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("ledger-bench-sqlite-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let (addr, base) = (
        format!("127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}"),
    );
    let mut server = start_sqlite_server(binary, &dir, port)?;
    let http = reqwest::Client::new();
    wait_up(&http, &base).await?;
    for id in (0..1000)
        .map(|i| format!("s-{i}"))
        .chain(["hot".to_owned()])
    {
        let body = json!({"account_id": id, "owner": "Bench", "currency": "USD"});
        http.post(format!("{base}/accounts"))
            .json(&body)
            .send()
            .await?;
    }
    let (mut spread, mut hot) = (load::Outcome::default(), load::Outcome::default());
    let mut floors = Vec::new();
    for _ in 0..rounds.max(1) {
        floors.push(floor(&dir, clients, secs).await?);
        spread.merge(load::run(&addr, clients, secs, spread_deposits()).await);
        hot.merge(
            load::run(
                &addr,
                clients,
                secs,
                Arc::new(|_, _| {
                    (
                        "/accounts/hot/deposit".into(),
                        bytes::Bytes::from_static(br#"{"amount":"0.01"}"#),
                    )
                }),
            )
            .await,
        );
    }
    let floor = floors.iter().sum::<f64>() / floors.len() as f64;
    row(
        &format!("SQLite spread ({clients} clients, 1,000 accounts)"),
        &spread,
        None,
    );
    row(
        &format!("SQLite hot ({clients} clients, 1 account)"),
        &hot,
        None,
    );
    println!(
        "| SQLite floor: single-row autocommit INSERTs, {clients} tasks, one writer (rounds: {}) | {floor:.0} commits/s |",
        floors.iter().map(|f| format!("{f:.0}")).collect::<Vec<_>>().join(", ")
    );
    println!(
        "| SQLite spread / floor | {:.2} |",
        spread.throughput() / floor
    );
    println!("| SQLite hot / floor | {:.2} |", hot.throughput() / floor);
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
