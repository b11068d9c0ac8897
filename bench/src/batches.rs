//! The batch scenarios: non-atomic batches of 100 deposits over the 1,000 spread
//! accounts, and atomic batches of 50 transfers over them (each transfer three events:
//! both legs and the transfer's record).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::load::{self, Make};
use crate::server::{self, json_body, peak_rss_mb, row, settle, wait_projected};

/// Deposits per non-atomic batch.
pub const DEPOSITS: usize = 100;
/// Transfers per atomic batch.
pub const TRANSFERS: usize = 50;

/// Request `i` of client `c`: a non-atomic batch of [`DEPOSITS`] deposits of 0.01.
pub fn deposits() -> Make {
    std::sync::Arc::new(|c, i| {
        let ops: Vec<Value> = (0..DEPOSITS)
            .map(|k| {
                let a = (c * 7919 + i * DEPOSITS + k * 13) % 1000;
                json!({"op": "deposit", "account_id": format!("s-{a}"), "amount": "0.01"})
            })
            .collect();
        (
            "/batches".into(),
            json_body(json!({"atomic": false, "operations": ops})),
        )
    })
}

/// Request `i` of client `c`: an atomic batch of [`TRANSFERS`] transfers of 0.01
/// between the spread accounts (funded by the spread's deposits).
pub fn transfers() -> Make {
    std::sync::Arc::new(|c, i| {
        let ops: Vec<Value> = (0..TRANSFERS)
            .map(|k| {
                let from = (c * 104_729 + i * TRANSFERS + k * 31) % 1000;
                let to = (from + 1 + k) % 1000;
                json!({"op": "transfer", "from_account_id": format!("s-{from}"),
                       "to_account_id": format!("s-{to}"), "amount": "0.01"})
            })
            .collect();
        (
            "/batches".into(),
            json_body(json!({"atomic": true, "operations": ops})),
        )
    })
}

/// Runs both scenarios after each other, then waits for the projections and prints the
/// rates as multiples of `floor` (single-row commits/s) and the catch-up rate.
pub async fn measure(
    addr: &str,
    http: &reqwest::Client,
    base: &str,
    pool: &sqlx::PgPool,
    secs: Duration,
    floor: f64,
    server_pid: u32,
) -> anyhow::Result<()> {
    settle(pool).await;
    wait_projected(http, base).await?;
    let batch_clients = 8;
    let deposit_batches = load::run(addr, batch_clients, secs, deposits()).await;
    row(
        &format!(
            "non-atomic batches of {} deposits ({batch_clients} clients, 1,000 accounts)",
            DEPOSITS
        ),
        &deposit_batches,
        None,
    );
    settle(pool).await;
    let transfer_batches = load::run(addr, batch_clients, secs, transfers()).await;
    row(
        &format!(
            "atomic batches of {} transfers ({batch_clients} clients, 1,000 accounts)",
            TRANSFERS
        ),
        &transfer_batches,
        Some(peak_rss_mb(server_pid)),
    );
    let caught = Instant::now();
    let behind = server::lag(http, base).await?;
    wait_projected(http, base).await?;
    let catch_up = caught.elapsed().as_secs_f64();
    println!(
        "\nbatches: deposits {:.0} events/s = {:.2}x the floor; transfers {:.0} events/s = {:.2}x the floor; projections caught up with {} events in {catch_up:.1}s = {:.0} events/s",
        deposit_batches.throughput() * DEPOSITS as f64,
        deposit_batches.throughput() * DEPOSITS as f64 / floor,
        transfer_batches.throughput() * (TRANSFERS * 3) as f64,
        transfer_batches.throughput() * (TRANSFERS * 3) as f64 / floor,
        behind,
        behind as f64 / catch_up.max(0.001),
    );

    Ok(())
}
