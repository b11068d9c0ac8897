//! Writing the store up to a number of events through the service: atomic batches of
//! 1,000 operations (900 deposits and 100 transfers, 1,200 events) over 10,000 fill
//! accounts, from a few concurrent clients, each client on accounts of its own so that
//! no two batches race for a stream.

use serde_json::{json, Value};

use crate::server::BENCH_ADMIN_TOKEN;

/// Accounts the fill writes to (`x-0` ..).
pub(crate) const FILL_ACCOUNTS: usize = 10_000;
/// Concurrent fill clients.
const FILL_CLIENTS: usize = 4;
const DEPOSITS: usize = 900;
const TRANSFERS: usize = 100;

/// POSTs `body` to `base` + `path` (admin token), failing on a non-2xx answer.
pub(crate) async fn post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let r = http
        .post(format!("{base}{path}"))
        .bearer_auth(BENCH_ADMIN_TOKEN)
        .json(body)
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    anyhow::ensure!(status.is_success(), "{path}: {status}: {text}");
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Opens `prefix-0 .. prefix-{n-1}` of `owner` (batches of 1,000 `open_account`
/// operations).
pub(crate) async fn open_accounts(
    http: &reqwest::Client,
    base: &str,
    prefix: &str,
    n: usize,
    owner: &str,
) -> anyhow::Result<()> {
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let ops: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"op": "open_account", "account_id": format!("{prefix}-{i}"), "owner": owner, "currency": "USD"}))
            .collect();
        post(http, base, "/batches", &json!({"operations": ops})).await?;
    }
    Ok(())
}

/// Batch `k` of the fill: deposits into one account, then transfers from it to the next
/// account of the same client.
fn batch(k: usize) -> Value {
    let account = k % FILL_ACCOUNTS;
    let to = (account + FILL_CLIENTS) % FILL_ACCOUNTS;
    let deposit = json!({"op": "deposit", "account_id": format!("x-{account}"), "amount": "1.00", "description": "fill"});
    let transfer = json!({"op": "transfer", "from_account_id": format!("x-{account}"), "to_account_id": format!("x-{to}"), "amount": "0.25"});
    let mut ops = vec![deposit; DEPOSITS];
    ops.extend(std::iter::repeat_n(transfer, TRANSFERS));
    json!({"operations": ops})
}

/// The highest event position in the store (the number of events: positions start at 1
/// and a rolled-back append leaves no gap that matters at this scale).
pub(crate) async fn events_in(pool: &sqlx::PgPool) -> anyhow::Result<u64> {
    let n: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(n.unwrap_or(0) as u64)
}

/// Writes batches until the store holds at least `target` events; `next` is the first
/// batch number not yet written (kept across calls, so accounts keep growing evenly).
pub(crate) async fn fill_to(
    base: &str,
    pool: &sqlx::PgPool,
    target: u64,
    next: &mut usize,
) -> anyhow::Result<()> {
    let per_batch = (DEPOSITS + 3 * TRANSFERS) as u64;
    loop {
        let have = events_in(pool).await?;
        if have >= target {
            return Ok(());
        }
        // Rounds of FILL_CLIENTS x 25 batches at most, then count again.
        let batches = ((target - have).div_ceil(per_batch) as usize).min(FILL_CLIENTS * 25);
        let start = *next;
        let clients = (0..FILL_CLIENTS).map(|c| {
            let base = base.to_owned();
            async move {
                let http = reqwest::Client::new();
                // Client c writes the batches whose account is c modulo FILL_CLIENTS.
                for k in (start..start + batches).filter(|k| k % FILL_CLIENTS == c) {
                    post(&http, &base, "/batches", &batch(k)).await?;
                }
                anyhow::Ok(())
            }
        });
        for done in futures_util::future::join_all(clients).await {
            done?;
        }
        *next += batches;
    }
}
