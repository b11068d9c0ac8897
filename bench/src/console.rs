//! The console measured (issue 21): how long the account page takes to draw the
//! balance chart of an account with 10,000 events in headless Chromium (reading its
//! events, 1,000 a page, then drawing), and what its first load transfers (gzip).
//! The release binary on a fresh SQLite file; chromedriver as the console tests run it.

use std::path::Path;
use std::time::Duration;

use ledger_tests::browser::{console_first_load, Browser};
use serde_json::{json, Value};

use crate::server::{start_sqlite_server, wait_up};

const EVENTS: usize = 10_000;

/// One account of `EVENTS` events (opened, then deposits in atomic batches of 1,000).
async fn long_account(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let open = json!({"account_id": "long", "owner": "Bench", "currency": "USD"});
    http.post(format!("{base}/accounts"))
        .json(&open)
        .send()
        .await?
        .error_for_status()?;
    let mut left = EVENTS - 1;
    while left > 0 {
        let n = left.min(1_000);
        let ops: Vec<Value> = (0..n)
            .map(|i| json!({"op": "deposit", "account_id": "long", "amount": format!("{}.{:02}", i % 50 + 1, i % 100)}))
            .collect();
        http.post(format!("{base}/batches"))
            .json(&json!({"operations": ops}))
            .send()
            .await?
            .error_for_status()?;
        left -= n;
    }
    Ok(())
}

/// Opens the long account's page `rounds` times and prints each chart's time.
pub(crate) async fn measure(binary: &Path, rounds: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("ledger-bench-console-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start_sqlite_server(binary, &dir, port)?;
    let http = reqwest::Client::new();
    let outcome = async {
        wait_up(&http, &base).await?;
        long_account(&http, &base).await?;
        let bytes = console_first_load(&http, &base)
            .await
            .map_err(anyhow::Error::msg)?;
        let browser = Browser::start().await;
        let mut times = Vec::new();
        for _ in 0..rounds.max(1) {
            browser
                .client
                .goto(&format!("{base}/console#/accounts/long"))
                .await?;
            browser.client.refresh().await?;
            let drawn =
                "window.ledgerConsole && window.ledgerConsole.chart && window.ledgerConsole.ready";
            anyhow::ensure!(
                browser.until(Duration::from_secs(60), drawn).await,
                "the chart never drew"
            );
            let chart = browser.run("return window.ledgerConsole.chart;").await;
            anyhow::ensure!(chart["points"] == json!(EVENTS), "chart points: {chart}");
            times.push(chart["ms"].as_f64().unwrap_or(f64::NAN));
        }
        browser.screenshot("bench-long-account").await;
        browser.close().await;
        anyhow::Ok((bytes, times))
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let (bytes, times) = outcome?;
    println!("| console | measured |");
    println!("|---|---|");
    println!(
        "| first load (page and every file, gzip) | {:.1} KB |",
        bytes as f64 / 1024.0
    );
    let shown: Vec<String> = times.iter().map(|t| format!("{t:.0}")).collect();
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "| chart of {EVENTS} events: events read and drawn (ms, each round: {}) | median {:.0} ms |",
        shown.join(", "),
        sorted[sorted.len() / 2]
    );
    Ok(())
}
