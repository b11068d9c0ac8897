//! The feed for outside consumers: the relay's rate to NATS JetStream, the live feed's
//! delivery latency after a commit, and the cost of 1,000 idle SSE subscribers (spread
//! throughput with and without them, alternating; the server's RSS with them).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::load;
use crate::server::{
    current_rss_mb, relay_caught_up, settle, spread_deposits, spread_server, wait_projected,
};

fn nats_url() -> String {
    std::env::var("LEDGER_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Runs the three measurements on a fresh database.
pub(crate) async fn measure(
    binary: &Path,
    clients: usize,
    secs: Duration,
    rounds: usize,
    events: usize,
) -> anyhow::Result<()> {
    let (mut server, addr, db) = spread_server(&binary.to_path_buf(), clients).await?;
    let pool = ledger_postgres::pool_with(db.options.clone(), 4);
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    fill(&http, &base, events).await?;
    wait_projected(&http, &base).await?;

    // 1. The relay alone (`ledger relay`) catching up with the whole store.
    let stream = format!("BENCH{}", uuid::Uuid::new_v4().simple());
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    let started = Instant::now();
    let mut relay = Command::new(binary)
        .arg("relay")
        .env("LEDGER__STORAGE__URL", &db.url)
        .env("LEDGER__RELAY__NATS__URL", nats_url())
        .env("LEDGER__RELAY__NATS__STREAM", &stream)
        .env(
            "LEDGER__RELAY__NATS__SUBJECT_PREFIX",
            format!("{}.ev", stream.to_lowercase()),
        )
        .env("LEDGER__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    loop {
        if relay_caught_up(&http, &base).await? {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the relay never caught up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let relay_rss = current_rss_mb(relay.id());
    let _ = relay.kill();
    let _ = relay.wait();
    println!("| relay to JetStream (`ledger relay` catching up with {total} stored events, pages of 2,000) | {:.0} events/s | {elapsed:.1} s | relay RSS {relay_rss:.1} MB |", total as f64 / elapsed);

    // 2. Delivery after commit: one subscriber on an account's stream, one deposit at a
    //    time; from the deposit's answer (it has committed) to its event on the stream.
    http.post(format!("{base}/accounts"))
        .json(&json!({"account_id": "lat", "owner": "Bench", "currency": "USD"}))
        .send()
        .await?;
    let mut sub = http
        .get(format!("{base}/accounts/lat/events/stream?after_version=1"))
        .send()
        .await?;
    let mut latencies = Vec::new();
    let mut buffer = String::new();
    for _ in 0..300 {
        http.post(format!("{base}/accounts/lat/deposit"))
            .json(&json!({"amount": "1"}))
            .send()
            .await?;
        let committed = Instant::now();
        while !buffer.contains("\n\n") {
            let chunk = tokio::time::timeout(Duration::from_secs(10), sub.chunk()).await??;
            buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap_or_default()));
        }
        latencies.push(committed.elapsed());
        let cut = buffer.find("\n\n").unwrap_or(0) + 2;
        buffer.drain(..cut);
    }
    drop(sub);
    latencies.sort_unstable();
    let ms = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    println!("| SSE delivery after commit (one subscriber, 300 sequential deposits) | p50 {:.2} ms | p99 {:.2} ms | |", ms(0.5), ms(0.99));

    // 3. 1,000 idle subscribers (each on the stream of an account the load does not
    //    touch) against none, alternating.
    http.post(format!("{base}/accounts"))
        .json(&json!({"account_id": "quiet", "owner": "Bench", "currency": "USD"}))
        .send()
        .await?;
    let (mut none, mut with) = (load::Outcome::default(), load::Outcome::default());
    let mut rss_with: f64 = 0.0;
    for _ in 0..rounds.max(1) {
        wait_projected(&http, &base).await?;
        settle(&pool).await;
        none.merge(load::run(&addr, clients, secs, spread_deposits()).await);
        // Watching a quiet account, as a console open on one account does.
        let mut idle = Vec::with_capacity(1000);
        for _ in 0..1000 {
            let url = format!("{base}/accounts/quiet/events/stream");
            idle.push(http.get(url).send().await?);
        }
        wait_projected(&http, &base).await?;
        settle(&pool).await;
        with.merge(load::run(&addr, clients, secs, spread_deposits()).await);
        rss_with = rss_with.max(current_rss_mb(server.id()));
        drop(idle);
    }
    println!(
        "| spread with 1,000 idle SSE subscribers / without ({clients} clients, {} rounds alternating) | {:.0} / {:.0} req/s = {:.3} | server RSS with them {rss_with:.1} MB | |",
        rounds.max(1),
        with.throughput(),
        none.throughput(),
        with.throughput() / none.throughput()
    );
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}

/// Writes `events` deposits through atomic batches of 1,000 (8 clients, 8 accounts).
async fn fill(http: &reqwest::Client, base: &str, events: usize) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for c in 0..8 {
        let (http, base) = (http.clone(), base.to_owned());
        let batches = events / 8 / 1000;
        tasks.push(tokio::spawn(async move {
            let ops: Vec<_> = (0..1000)
                .map(|_| json!({"op": "deposit", "account_id": format!("s-{c}"), "amount": "0.01"}))
                .collect();
            let body = json!({"operations": ops});
            for _ in 0..batches {
                http.post(format!("{base}/batches"))
                    .json(&body)
                    .send()
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}
