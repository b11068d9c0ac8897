//! Issue 22, parts 2 and 4: the service measured at growing sizes of one PostgreSQL
//! store (by default the empty store, 1 M and 10 M events), filled through the service
//! with atomic batches. At each size: the spread, the single client, four reads, the
//! rebuild of every projection (with the server's peak RSS), `ledger verify` and the
//! bytes on disk; then the ratios against the first size and a plot of the curve.

mod fill;
mod probes;
mod report;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_postgres::testing::TestDatabase;
use serde_json::Value;

use crate::load;
use crate::server::{lag, peak_rss_mb, settle, spread_deposits, start_server, wait_up};
use crate::server::{row, BENCH_ADMIN_TOKEN};

/// What was measured at one size of the store.
pub(crate) struct Mark {
    pub(crate) events: u64,
    pub(crate) spread: f64,
    pub(crate) floor_empty: f64,
    pub(crate) single_p50: f64,
    pub(crate) reads: Vec<(&'static str, f64, usize)>,
    pub(crate) rebuild_rate: f64,
    pub(crate) rebuild_rss: f64,
    pub(crate) verify_rate: f64,
    pub(crate) verify_rss: f64,
}

/// Run parameters.
pub(crate) struct Plan {
    pub(crate) marks: Vec<u64>,
    pub(crate) clients: usize,
    pub(crate) secs: Duration,
    pub(crate) rounds: usize,
    pub(crate) plot: Option<PathBuf>,
}

struct Service<'a> {
    binary: &'a Path,
    db: &'a TestDatabase,
    port: u16,
    pool: usize,
    child: Option<Child>,
    base: String,
}

impl Service<'_> {
    async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let child = start_server(
            &self.binary.to_path_buf(),
            &self.db.url,
            self.port,
            self.pool,
            true,
        )?;
        self.child = Some(child);
        wait_up(&reqwest::Client::new(), &self.base).await
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }
}

/// Waits (up to an hour) until no read model lags.
async fn caught_up(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    for _ in 0..18_000 {
        if lag(http, base).await? == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the projections did not catch up within an hour")
}

/// `POST /admin/rebuild-projections` (all of them), then polls until none is
/// rebuilding: (events per second, seconds).
async fn rebuild(http: &reqwest::Client, base: &str, events: u64) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let r = http
        .post(format!("{base}/admin/rebuild-projections"))
        .bearer_auth(BENCH_ADMIN_TOKEN)
        .send()
        .await?;
    anyhow::ensure!(r.status() == 202, "rebuild: {}", r.status());
    loop {
        let r = http
            .get(format!("{base}/admin/projections"))
            .bearer_auth(BENCH_ADMIN_TOKEN)
            .send()
            .await?;
        // An error answer says nothing about the rebuild: it must not end the wait.
        anyhow::ensure!(
            r.status() == 200,
            "status during the rebuild: {}",
            r.status()
        );
        let status: Value = r.json().await?;
        let all = status["projections"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        anyhow::ensure!(!all.is_empty(), "no projection status: {status}");
        anyhow::ensure!(
            all.iter().all(|p| p["state"] != "failed"),
            "rebuild failed: {status}"
        );
        if all.iter().all(|p| p["state"] != "rebuilding") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let s = started.elapsed().as_secs_f64();
    Ok((events as f64 / s, s))
}

/// The whole measurement.
pub(crate) async fn measure(binary: &Path, plan: Plan) -> anyhow::Result<()> {
    let db = TestDatabase::create().await;
    let pool = ledger_postgres::pool_with(db.options.clone(), plan.clients as u32 + 2);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    let mut service = Service {
        binary,
        db: &db,
        port,
        pool: plan.clients + 8,
        child: None,
        base: base.clone(),
    };
    service.restart().await?;
    let http = reqwest::Client::new();
    fill::open_accounts(&http, &base, "s", 1000, "Bench").await?;
    fill::open_accounts(&http, &base, "f", 2000, "Bench").await?;
    let x = fill::FILL_ACCOUNTS;
    fill::open_accounts(&http, &base, "x", x, "Fill").await?;
    let probes = probes::write(&http, &base).await?;
    let mut next_batch = 0;
    let mut marks = Vec::new();
    for &target in &plan.marks {
        let started = Instant::now();
        fill::fill_to(&base, &pool, target, &mut next_batch).await?;
        let filled = started.elapsed().as_secs_f64();
        caught_up(&http, &base).await?;
        let caught = started.elapsed().as_secs_f64();
        // The store at rest, as an operator leaves it after any bulk import: without
        // this, autovacuum's first pass over the millions of rows just filled runs
        // during the measurements below (the eighteenth session's first run: the single
        // client's buffer hit ratio 0.87 while it vacuumed the audit log).
        let vacuum = Instant::now();
        sqlx::query("VACUUM (ANALYZE)").execute(&pool).await?;
        let events = fill::events_in(&pool).await?;
        println!(
            "\n## {events} events (filled in {filled:.0} s, projections caught up after \
             {caught:.0} s, then VACUUM (ANALYZE) in {:.0} s)",
            vacuum.elapsed().as_secs_f64()
        );
        println!("| scenario | throughput | p50 | p99 | errors | server peak RSS |");
        println!("|---|---|---|---|---|---|");
        settle(&pool).await;
        let floor_empty = crate::floor::rate(
            &pool,
            plan.clients,
            plan.secs,
            crate::floor::Streams::PerConnection,
        )
        .await?;
        let mut spread = load::Outcome::default();
        let at_start = report::buffers(&pool).await?;
        let mut wal = (0, 0);
        let mut images = std::collections::BTreeMap::<String, (i64, i64)>::new();
        for i in 1..=plan.rounds.max(1) {
            caught_up(&http, &base).await?;
            settle(&pool).await;
            let lsn = report::wal_lsn(&pool).await?;
            let outcome = load::run(&addr, plan.clients, plan.secs, spread_deposits()).await;
            // A diagnosis, not a target: a server that refuses it (no superuser, a
            // segment already recycled) leaves the run going, as `settle` does.
            let round = report::wal_since(&pool, &lsn).await.unwrap_or_else(|e| {
                println!("(WAL not measured: {e})");
                report::RoundWal::default()
            });
            wal = (wal.0 + round.bytes, wal.1 + round.image_bytes);
            let mut heap_images = 0;
            for (relation, n, bytes) in round.images {
                if relation == "events" {
                    heap_images = n;
                }
                let sum = images.entry(relation).or_insert((0, 0));
                *sum = (sum.0 + n, sum.1 + bytes);
            }
            // Round by round: whether the old pages' gaps run out as the spread fills them.
            let requests = outcome.requests.max(1) as f64;
            println!(
                "| spread, round {i} | {:.0} req/s | WAL {:.0} bytes per request, {:.3} images of `events` pages per request | | | |",
                outcome.throughput(),
                round.bytes as f64 / requests,
                heap_images as f64 / requests,
            );
            spread.merge(outcome);
        }
        row(
            &format!(
                "spread ({} clients, 1,000 accounts, {} rounds)",
                plan.clients, plan.rounds
            ),
            &spread,
            None,
        );
        let after_spread = report::buffers(&pool).await?;
        let requests = spread.requests.max(1) as f64;
        println!(
            "| WAL during the spread per request (each round from its checkpoint) | {:.0} bytes, of which full-page images {:.0} | | | | |",
            wal.0 as f64 / requests,
            wal.1 as f64 / requests,
        );
        let mut images: Vec<_> = images.into_iter().collect();
        images.sort_by_key(|(_, (_, bytes))| -bytes);
        for (relation, (n, bytes)) in images.iter().take(6) {
            println!(
                "| full-page images during the spread: `{relation}` | {:.3} per request, {:.0} bytes per request | | | | |",
                *n as f64 / requests,
                *bytes as f64 / requests
            );
        }
        caught_up(&http, &base).await?;
        settle(&pool).await;
        let before_single = report::buffers(&pool).await?;
        let single = load::run(
            &addr,
            1,
            plan.secs,
            Arc::new(|_, i| {
                (
                    format!("/accounts/f-{}/deposit", i % 2000),
                    bytes::Bytes::from_static(br#"{"amount":"1"}"#),
                )
            }),
        )
        .await;
        row(
            "single client (2,000 short streams)",
            &single,
            Some(peak_rss_mb(service.pid())),
        );
        let after_single = report::buffers(&pool).await?;
        caught_up(&http, &base).await?;
        let before_reads = report::buffers(&pool).await?;
        let reads = probes::time_reads(&base, &probes, plan.secs).await?;
        let after_reads = report::buffers(&pool).await?;
        println!(
            "| shared-buffer hit ratio during the spread / the single client / the reads | {:.4} / {:.4} / {:.4} | | | | |",
            report::hit_ratio(at_start, after_spread),
            report::hit_ratio(before_single, after_single),
            report::hit_ratio(before_reads, after_reads),
        );
        for (name, p50, n) in &reads {
            println!(
                "| {name} (one client, 20 probe accounts) | {n} requests | {p50:.2} ms | | | |"
            );
        }
        // A fresh process, so that its peak RSS is the rebuild's.
        service.restart().await?;
        settle(&pool).await;
        let events = fill::events_in(&pool).await?;
        let (rebuild_rate, rebuild_secs) = rebuild(&http, &base, events).await?;
        let rebuild_rss = peak_rss_mb(service.pid());
        println!("| rebuild of all projections (POST /admin/rebuild-projections, fresh server) over {events} events | {rebuild_rate:.0} events/s ({rebuild_secs:.1} s), server peak RSS {rebuild_rss:.1} MB |");
        service.stop();
        settle(&pool).await;
        let (verify_secs, verify_rss, _) = crate::integrity::timed_verify(binary, &db.url).await?;
        let verify_rate = events as f64 / verify_secs;
        println!("| ledger verify over {events} events | {verify_rate:.0} events/s ({verify_secs:.1} s), peak RSS {verify_rss:.1} MB |");
        println!("| floor: single-row INSERT commits into an empty copy of the events table (the machine's drift) | {floor_empty:.0} commits/s |");
        report::disk(&pool, events).await?;
        marks.push(Mark {
            events,
            spread: spread.throughput(),
            floor_empty,
            single_p50: single.pct(0.5),
            reads,
            rebuild_rate,
            rebuild_rss,
            verify_rate,
            verify_rss,
        });
        service.restart().await?;
    }
    service.stop();
    report::summary(&marks);
    if let Some(path) = &plan.plot {
        report::draw(&marks, path)?;
        println!("\n(plot written to {})", path.display());
    }
    Ok(())
}
