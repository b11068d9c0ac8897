//! The single client on a long stream written directly into the store, against fresh
//! accounts (`--only-long`): the full run's long-stream row alone.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::server::{row, settle, spread_server_with, wait_projected};
use crate::{load, stores};

/// Fills `long` with `n` events, then alternates the single client on it and on fresh
/// accounts, `rounds` times, printing each round.
pub(crate) async fn measure(
    binary: &Path,
    n: usize,
    secs: Duration,
    rounds: usize,
) -> anyhow::Result<()> {
    let binary = binary.to_path_buf();
    let (mut server, addr, db) = spread_server_with(&binary, 1, true, |_| "Bench".into()).await?;
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let pool = ledger_postgres::pool_with(db.options.clone(), 4);
    stores::fill_long_stream(&pool, "long", n).await?;
    http.post(format!("{base}/accounts/long/deposit"))
        .json(&json!({"amount": "1"}))
        .send()
        .await?;
    wait_projected(&http, &base).await?;
    let deposit = |path: fn(usize) -> String| -> load::Make {
        Arc::new(move |_, i| (path(i), bytes::Bytes::from_static(br#"{"amount":"1"}"#)))
    };
    println!("| scenario | throughput | p50 | p99 | errors | server peak RSS |");
    println!("|---|---|---|---|---|---|");
    for _ in 0..rounds.max(1) {
        settle(&pool).await;
        let fresh = load::run(
            &addr,
            1,
            secs,
            deposit(|i| format!("/accounts/s-{}/deposit", i % 1000)),
        )
        .await;
        row("single client, 1,000 short streams", &fresh, None);
        settle(&pool).await;
        let long = load::run(&addr, 1, secs, deposit(|_| "/accounts/long/deposit".into())).await;
        row(&format!("single client, the {n}-event stream"), &long, None);
        println!(
            "| long p50 / fresh p50 | {:.2} |",
            long.pct(0.5) / fresh.pct(0.5)
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}
