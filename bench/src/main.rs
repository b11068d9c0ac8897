//! `ledger-bench`: the project's own benchmark. Starts the release `ledger` binary on a
//! fresh PostgreSQL database and the real Redis, drives it over HTTP, measures the
//! database floor in the same run, and prints one table (see BENCHMARKS.md).
#![forbid(unsafe_code)]

mod access;
mod args;
mod batches;
mod cold;
mod console;
mod feed;
mod floor;
mod integrity;
mod load;
mod long;
mod parts;
mod pending;
mod scale;
mod server;
mod sqlite;
mod stores;
mod writes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use args::Args;
use clap::Parser;
use ledger_postgres::testing::TestDatabase;
use serde_json::json;

use server::{
    json_body, peak_rss_mb, row, settle, spread_deposits, start_server, wait_projected, wait_up,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(done) = parts::run_one(&args).await {
        return done;
    }
    let secs = Duration::from_secs(args.seconds);
    let binary = args.ledger_binary();
    let db = TestDatabase::create().await;
    let pool = ledger_postgres::pool_with(db.options.clone(), args.clients as u32 + 2);
    ledger_postgres::migrate(&pool).await?;

    println!("## floor (PostgreSQL, same run)");
    let floor_own = floor::rate(&pool, args.clients, secs, floor::Streams::PerConnection).await?;
    println!(
        "| single-row INSERT commits at {} connections, one stream per connection | {floor_own:.0} commits/s |",
        args.clients
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = start_server(&binary, &db.url, port, args.clients + 8, true)?;
    let addr = format!("127.0.0.1:{port}");
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    wait_up(&http, &base)
        .await
        .map_err(|e| anyhow::anyhow!("{e} ({})", binary.display()))?;
    let open = |id: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let body = json!({"account_id": id, "owner": "Bench", "currency": "USD"});
            http.post(format!("{base}/accounts"))
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    };
    let setup = Instant::now();
    for i in 0..1000 {
        open(format!("s-{i}")).await?;
    }
    writes::fund(&http, &base).await?;
    open("hot".into()).await?;
    // Short streams for the single client: it cycles over them, so each stays a few
    // events long however fast the run goes.
    let fresh = 2000;
    for i in 0..fresh {
        open(format!("f-{i}")).await?;
    }
    println!(
        "\nsetup: {} accounts opened in {:.1}s",
        1101 + fresh,
        setup.elapsed().as_secs_f64()
    );

    println!(
        "\n## HTTP scenarios ({} s each, release binary on PostgreSQL + Redis)",
        args.seconds
    );
    println!("| scenario | throughput | p50 | p99 | errors | server peak RSS |");
    println!("|---|---|---|---|---|---|");
    // The spread and its floor alternate, so that a drift of the shared machine falls
    // on both alike: floor, spread, floor, spread, ...
    let mut spread = load::Outcome::default();
    let (mut floor_commits, mut floor_secs) = (0.0, 0.0);
    let mut round_ratios = Vec::new();
    for _ in 0..args.rounds.max(1) {
        // Neither phase shares the machine with the projectors catching up on the
        // previous one.
        wait_projected(&http, &base).await?;
        let f = floor::rate(&pool, args.clients, secs, floor::Streams::Spread(1000)).await?;
        floor_commits += f * secs.as_secs_f64();
        floor_secs += secs.as_secs_f64();
        wait_projected(&http, &base).await?;
        settle(&pool).await;
        let s = load::run(&addr, args.clients, secs, spread_deposits()).await;
        round_ratios.push((f, s.throughput()));
        spread.merge(s);
    }
    let floor_rate = floor_commits / floor_secs;
    row(
        &format!(
            "spread ({} clients, 1,000 accounts; {} rounds)",
            args.clients,
            round_ratios.len()
        ),
        &spread,
        Some(peak_rss_mb(server.id())),
    );
    settle(&pool).await;
    let hot = load::run(
        &addr,
        args.clients,
        secs,
        Arc::new(|_, _| {
            (
                "/accounts/hot/deposit".into(),
                bytes::Bytes::from_static(br#"{"amount":"0.01"}"#),
            )
        }),
    )
    .await;
    row(
        &format!("hot ({} clients, 1 account)", args.clients),
        &hot,
        None,
    );
    settle(&pool).await;
    let transfers = load::run(&addr, args.clients, secs, Arc::new(|c, i| {
        let from = (c * 31 + i * 7) % 100;
        let to = (from + 1 + (i % 97)) % 100;
        ("/transfers".into(), json_body(json!({"from_account_id": format!("t-{from}"), "to_account_id": format!("t-{to}"), "amount": "0.01"})))
    }))
    .await;
    row(
        &format!("transfers ({} clients, 100 accounts)", args.clients),
        &transfers,
        None,
    );

    pending::measure(&addr, &pool, secs, args.clients, spread.throughput()).await;
    batches::measure(&addr, &http, &base, &pool, secs, floor_own, server.id()).await?;

    let filled = Instant::now();
    stores::fill_long_stream(&pool, "long", args.long_stream).await?;
    println!(
        "\n(long stream of {} events written directly in {:.1}s)",
        args.long_stream,
        filled.elapsed().as_secs_f64()
    );
    // The first command on it loads it (replay, then cache and snapshot); measure after.
    http.post(format!("{base}/accounts/long/deposit"))
        .json(&json!({"amount": "1"}))
        .send()
        .await?;
    // The projectors have the directly written events to catch up with: measure the
    // latency in the steady state, as for the short streams, not during that catch-up.
    let caught_up = Instant::now();
    wait_projected(&http, &base).await?;
    println!(
        "(projections caught up with them in {:.1}s)",
        caught_up.elapsed().as_secs_f64()
    );
    // Short and long streams alternate, so neither is measured on a machine in a
    // better mood than the other.
    let (mut single, mut long) = (load::Outcome::default(), load::Outcome::default());
    let mut commit_latencies = Vec::new();
    for _ in 0..args.rounds.max(1) {
        commit_latencies.extend(floor::latencies(&pool, 500).await?);
        settle(&pool).await;
        single.merge(
            load::run(
                &addr,
                1,
                secs,
                Arc::new(move |_, i| {
                    (
                        format!("/accounts/f-{}/deposit", i % fresh),
                        bytes::Bytes::from_static(br#"{"amount":"1"}"#),
                    )
                }),
            )
            .await,
        );
        settle(&pool).await;
        long.merge(
            load::run(
                &addr,
                1,
                secs,
                Arc::new(|_, _| {
                    (
                        "/accounts/long/deposit".into(),
                        bytes::Bytes::from_static(br#"{"amount":"1"}"#),
                    )
                }),
            )
            .await,
        );
    }
    commit_latencies.sort_unstable();
    let floor_p50 = commit_latencies[commit_latencies.len() / 2].as_secs_f64() * 1000.0;
    row(
        &format!(
            "single client, short streams (2,000 accounts; {} rounds)",
            args.rounds.max(1)
        ),
        &single,
        None,
    );
    row(
        &format!(
            "single client, stream of {} events (alternating with the row above)",
            args.long_stream
        ),
        &long,
        Some(peak_rss_mb(server.id())),
    );
    let _ = server.kill();
    let _ = server.wait();

    // The command path alone: an instance with `projections.enabled = false`, as in a
    // deployment where another instance keeps the read models.
    let mut server = start_server(&binary, &db.url, port, args.clients + 8, false)?;
    wait_up(&http, &base).await?;
    settle(&pool).await;
    let commands_only = load::run(&addr, args.clients, secs, spread_deposits()).await;
    row(
        &format!(
            "spread, command-only instance (projections.enabled=false; {} clients)",
            args.clients
        ),
        &commands_only,
        Some(peak_rss_mb(server.id())),
    );
    let _ = server.kill();
    let _ = server.wait();

    println!("\n## ratios (targets in BENCHMARKS.md)");
    println!(
        "| floor: single-row INSERT commits at {} connections, rows over 1,000 streams as in the spread (mean of the rounds) | {floor_rate:.0} commits/s |",
        args.clients
    );
    println!(
        "| floor: single-client commit latency p50 (500 commits before each single-client round) | {floor_p50:.2} ms |"
    );
    println!(
        "| spread / floor commits (1,000 streams) | {:.2} (rounds: {}) |",
        spread.throughput() / floor_rate,
        round_ratios
            .iter()
            .map(|(f, s)| format!("{s:.0} / {f:.0} = {:.2}", s / f))
            .collect::<Vec<_>>()
            .join("; ")
    );
    println!(
        "| spread / floor commits (one stream per connection) | {:.2} |",
        spread.throughput() / floor_own
    );
    println!(
        "| spread on a command-only instance / floor commits (1,000 streams) | {:.2} |",
        commands_only.throughput() / floor_rate
    );
    println!(
        "| hot / spread | {:.2} |",
        hot.throughput() / spread.throughput()
    );
    println!(
        "| long-stream p50 / fresh p50 | {:.2} |",
        long.pct(0.5) / single.pct(0.5)
    );
    println!(
        "| single-client p50 / floor commit p50 | {:.2} |",
        single.pct(0.5) / floor_p50
    );

    println!("\n## the embedded default (SQLite)");
    sqlite::measure(&binary, args.clients, secs, args.rounds).await?;
    println!("\n## the feed for outside consumers");
    feed::measure(&binary, args.clients, secs, args.rounds, args.feed_events).await?;

    println!("\n## replay");
    stores::replay(&pool, args.long_stream).await?;
    println!("\n## rebuild");
    drop(db);
    stores::rebuild(args.rebuild_events).await?;
    Ok(())
}
