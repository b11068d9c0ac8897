//! The pending-transfer scenarios: each client reserves a pending transfer and posts it
//! with its next request (a pair), across 100 accounts or all from one hot account.

use std::time::Duration;

use serde_json::json;

use crate::load::{self, Make};
use crate::server::{json_body, row, settle};

/// Request `i` of client `c`: even ones reserve `rp-{tag}-{c}-{i/2}`, odd ones post it.
/// `from` picks the debited account of a pair.
pub fn reserve_and_post(tag: &'static str, from: fn(usize, usize) -> String) -> Make {
    std::sync::Arc::new(move |c, i| {
        let id = format!("rp-{tag}-{c}-{}", i / 2);
        if i % 2 == 1 {
            return (format!("/transfers/{id}/post"), json_body(json!({})));
        }
        let pair = i / 2;
        let debited = from(c, pair);
        let to = format!("t-{}", (c * 7 + pair * 13 + 1) % 100);
        let to = if to == debited { "t-0".to_owned() } else { to };
        let body = json!({"transfer_id": id, "from_account_id": debited, "to_account_id": to,
                          "amount": "0.01", "pending": true, "expires_in_seconds": 3600});
        ("/transfers".into(), json_body(body))
    })
}

/// Pairs over the 100 funded accounts.
pub fn spread_from(c: usize, pair: usize) -> String {
    format!("t-{}", (c * 31 + pair * 7) % 100)
}

/// Every pair from the one hot account.
pub fn hot_from(_: usize, _: usize) -> String {
    "hot-pending".into()
}

/// Runs both pair scenarios and prints pairs/s as a multiple of `spread` (deposits/s).
pub async fn measure(addr: &str, pool: &sqlx::PgPool, secs: Duration, clients: usize, spread: f64) {
    settle(pool).await;
    let pairs = load::run(addr, clients, secs, reserve_and_post("s", spread_from)).await;
    row(
        &format!(
            "reserve + post requests ({} clients, 100 accounts; a pair is two)",
            clients
        ),
        &pairs,
        None,
    );
    settle(pool).await;
    let hot_pairs = load::run(addr, clients, secs, reserve_and_post("h", hot_from)).await;
    row(
        &format!(
            "reserve + post requests ({} clients, all from 1 account)",
            clients
        ),
        &hot_pairs,
        None,
    );
    println!(
        "\nreserve + post pairs/s ÷ spread deposits/s: {:.2} (spread accounts), {:.2} (one hot account)",
        pairs.throughput() / 2.0 / spread,
        hot_pairs.throughput() / 2.0 / spread
    );
}
