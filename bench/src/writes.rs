//! Issues 16 and 17's scenarios alone (`--only-writes`): the floor, the spread, the
//! reserve + post pairs and the batches, on one fresh server, in one run.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::server::{
    peak_rss_mb, row, settle, spread_deposits, spread_server_with, wait_projected,
};
use crate::{batches, floor, load, pending};

/// Opens and funds what the pair scenarios use (`t-0..99`, `hot-pending`).
pub(crate) async fn fund(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let ids = (0..100)
        .map(|i| format!("t-{i}"))
        .chain(["hot-pending".into()]);
    for id in ids {
        let body = json!({"account_id": id, "owner": "Bench", "currency": "USD"});
        http.post(format!("{base}/accounts"))
            .json(&body)
            .send()
            .await?;
        http.post(format!("{base}/accounts/{id}/deposit"))
            .json(&json!({"amount": "1000000"}))
            .send()
            .await?;
    }
    Ok(())
}

/// The floor, then the spread, pairs and batches against it.
pub(crate) async fn measure(binary: &Path, clients: usize, secs: Duration) -> anyhow::Result<()> {
    let binary = binary.to_path_buf();
    let (mut server, addr, db) =
        spread_server_with(&binary, clients, true, |_| "Bench".into()).await?;
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    fund(&http, &base).await?;
    let pool = ledger_postgres::pool_with(db.options.clone(), clients as u32 + 2);
    let floor = floor::rate(&pool, clients, secs, floor::Streams::PerConnection).await?;
    println!("| floor: single-row INSERT commits, {clients} connections | {floor:.0} commits/s |");
    println!("| scenario | throughput | p50 | p99 | errors | server peak RSS |");
    println!("|---|---|---|---|---|---|");
    wait_projected(&http, &base).await?;
    settle(&pool).await;
    let spread = load::run(&addr, clients, secs, spread_deposits()).await;
    row(
        "spread (1,000 accounts)",
        &spread,
        Some(peak_rss_mb(server.id())),
    );
    println!("\nspread / floor: {:.2}", spread.throughput() / floor);
    wait_projected(&http, &base).await?;
    pending::measure(&addr, &pool, secs, clients, spread.throughput()).await;
    wait_projected(&http, &base).await?;
    batches::measure(&addr, &http, &base, &pool, secs, floor, server.id()).await?;
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}
