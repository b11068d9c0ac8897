//! The pending-transfer scenarios: each client reserves a pending transfer and posts it
//! with its next request (a pair), across 100 accounts or all from one hot account.

use serde_json::json;

use crate::load::Make;
use crate::server::json_body;

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
