//! What tamper evidence costs: the spread rate of this binary (hashing every event)
//! against a baseline binary (without), alternating in one run on fresh PostgreSQL
//! databases; and `ledger verify` over many events on PostgreSQL: its rate and its
//! peak RSS.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_application::ports::store::EventStore;
use ledger_postgres::testing::TestDatabase;

use crate::load;
use crate::server::{lag, peak_rss_mb, row, spread_deposits, spread_server};
use crate::stores::fill;

/// Spread with and without hashing, alternating which goes first each round.
pub(crate) async fn hashing_cost(
    binary: &PathBuf,
    baseline: &PathBuf,
    clients: usize,
    secs: Duration,
    rounds: usize,
    pad_baseline: usize,
) -> anyhow::Result<()> {
    let (mut new_server, new_addr, _new_db) = spread_server(binary, clients).await?;
    let (mut old_server, old_addr, old_db) = spread_server(baseline, clients).await?;
    if pad_baseline > 0 {
        // The control: the baseline's rows made as wide as hashed ones (a column the
        // baseline never writes, filled by its default).
        let pool = ledger_postgres::pool_with(old_db.options.clone(), 1);
        sqlx::query(&format!(
            "ALTER TABLE events ADD COLUMN bench_pad BYTEA DEFAULT decode(repeat('ab', {pad_baseline}), 'hex')"
        ))
        .execute(&pool)
        .await?;
    }
    let (mut new, mut old) = (load::Outcome::default(), load::Outcome::default());
    let mut ratios = Vec::new();
    for round in 0..rounds.max(1) {
        let (a, b) = if round % 2 == 0 {
            let a = load::run(&new_addr, clients, secs, spread_deposits()).await;
            (
                a,
                load::run(&old_addr, clients, secs, spread_deposits()).await,
            )
        } else {
            let b = load::run(&old_addr, clients, secs, spread_deposits()).await;
            (
                load::run(&new_addr, clients, secs, spread_deposits()).await,
                b,
            )
        };
        let http = reqwest::Client::new();
        let (lag_new, lag_old) = (
            lag(&http, &format!("http://{new_addr}"))
                .await
                .unwrap_or(u64::MAX),
            lag(&http, &format!("http://{old_addr}"))
                .await
                .unwrap_or(u64::MAX),
        );
        println!(
            "(round {}: with {:.0} req/s, projection lag {lag_new}; without {:.0} req/s, lag {lag_old})",
            round + 1,
            a.throughput(),
            b.throughput()
        );
        ratios.push(a.throughput() / b.throughput());
        new.merge(a);
        old.merge(b);
    }
    row(
        &format!("spread with hashing ({clients} clients)"),
        &new,
        None,
    );
    row(
        &format!(
            "spread without hashing, {} ({clients} clients)",
            baseline.display()
        ),
        &old,
        None,
    );
    println!(
        "| spread with / without hashing (rounds: {}) | {:.3} |",
        ratios
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(", "),
        new.throughput() / old.throughput()
    );
    for s in [&mut new_server, &mut old_server] {
        let _ = s.kill();
        let _ = s.wait();
    }
    Ok(())
}

/// `events` chained events in 1,000 account streams, the read models built, then
/// `ledger verify` timed with its peak RSS sampled.
pub(crate) async fn verify(binary: &Path, events: usize) -> anyhow::Result<()> {
    if events == 0 {
        return Ok(());
    }
    let db = TestDatabase::create().await;
    let pool = ledger_postgres::pool_with(db.options.clone(), 10);
    ledger_postgres::migrate(&pool).await?;
    let store: Arc<dyn EventStore> = Arc::new(ledger_postgres::PgEventStore::new(pool.clone()));
    let per_stream = (events / 1000).max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..1000).step_by(8) {
                fill(store.as_ref(), &format!("v-{i}"), per_stream).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "(loaded {} events in {:.1} s)",
        per_stream * 1000,
        started.elapsed().as_secs_f64()
    );
    let rebuilt = std::process::Command::new(binary)
        .args(["projections", "rebuild", "--name", "current_state"])
        .env("LEDGER__STORAGE__URL", &db.url)
        .env("LEDGER__LOG__LEVEL", "warn")
        .output()?;
    anyhow::ensure!(
        rebuilt.status.success(),
        "rebuild: {}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let _ = sqlx::query("CHECKPOINT").execute(&pool).await;
    let (seconds, peak, out) = timed_verify(binary, &db.url).await?;
    let verified = per_stream * 1000;
    println!("({})", out.trim().replace('\n', "; "));
    println!(
        "| ledger verify, {verified} events in 1,000 streams (PostgreSQL, all four passes) | {:.0} events/s ({seconds:.1} s), peak RSS {peak:.1} MB |",
        verified as f64 / seconds
    );
    Ok(())
}

/// Runs `ledger verify` on the database at `url` as a process of its own, its peak RSS
/// sampled from `/proc` every 20 ms: (seconds, peak RSS in MB, its report). Fails when
/// the store does not verify.
pub(crate) async fn timed_verify(binary: &Path, url: &str) -> anyhow::Result<(f64, f64, String)> {
    let started = Instant::now();
    let mut child = std::process::Command::new(binary)
        .arg("verify")
        .env("LEDGER__STORAGE__URL", url)
        .env("LEDGER__LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut peak: f64 = 0.0;
    let status = loop {
        peak = peak.max(peak_rss_mb(child.id()));
        if let Some(status) = child.try_wait()? {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut out)?;
    }
    anyhow::ensure!(status.success(), "verify did not pass: {out}");
    Ok((seconds, peak, out))
}
