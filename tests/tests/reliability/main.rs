//! Reliability under faults and concurrency (reduced sizes in CI; `LEDGER_RELIABILITY_OPS`
//! scales the bank-invariant run, e.g. 10000 for the full size).
//! This file: the bank invariant under concurrent clients; `outages.rs`: PostgreSQL and
//! Redis outages through a proxy the test cuts.

mod outages;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_bootstrap::Application;
use ledger_postgres::testing::TestDatabase;
use ledger_tests::{cents, json, redis_url, settings, Backend, Options, Proxy, TestApp};
use serde_json::{json, Value};

const ACCOUNTS: usize = 20;

fn ops() -> usize {
    std::env::var("LEDGER_RELIABILITY_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1200)
}

/// Every event, once the projections have caught up with the store's head: on
/// PostgreSQL the feed shows a commit only once no older transaction on the server is
/// running, and a projection at lag 0 has read every row there is.
async fn all_events(app: &TestApp) -> Vec<Value> {
    app.projections_caught_up().await;
    let mut out = Vec::new();
    let mut after = String::from("0-0");
    loop {
        let (s, page) = json(
            app.admin_get(&format!("/events?after={after}&limit=1000"))
                .await,
        )
        .await;
        assert_eq!(s, 200);
        let events = page["events"].as_array().unwrap().clone();
        if events.is_empty() {
            return out;
        }
        after = page["next"].as_str().unwrap().to_owned();
        out.extend(events);
    }
}

/// Many concurrent clients move money among 20 accounts; afterwards every invariant of
/// a bank holds.
async fn bank_invariant(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    for a in 0..ACCOUNTS {
        let (s, _) = json(
            app.post(
                "/accounts",
                json!({"account_id": format!("b{a}"), "owner": "Bank", "currency": "USD"}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 201);
        app.post(&format!("/accounts/b{a}/deposit"), json!({"amount": "100"}))
            .await;
    }
    let clients = 12;
    let per_client = ops() / clients;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut answered_transfers = Vec::new();
            let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ (c as u64 + 1);
            let mut next = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            for i in 0..per_client {
                let from = next() as usize % ACCOUNTS;
                let to = next() as usize % ACCOUNTS;
                let amount = format!("{}.{:02}", next() % 40, next() % 100);
                let r = match next() % 4 {
                    0 => app.post(&format!("/accounts/b{from}/deposit"), json!({"amount": amount})).await,
                    1 => app.post(&format!("/accounts/b{from}/withdraw"), json!({"amount": amount})).await,
                    _ => {
                        let id = format!("t{c}-{i}");
                        let r = app.post("/transfers", json!({"transfer_id": id, "from_account_id": format!("b{from}"), "to_account_id": format!("b{to}"), "amount": amount})).await;
                        if r.status() == 201 {
                            answered_transfers.push(id);
                        }
                        r
                    }
                };
                let status = r.status().as_u16();
                assert!(status < 500 || status == 503, "server error {status}");
                assert_ne!(status, 409, "no conflict survives the server's retries in one instance: {:?}", r.text().await);
            }
            answered_transfers
        }));
    }
    let mut answered = HashSet::new();
    for t in tasks {
        answered.extend(t.await.unwrap());
    }
    let events = all_events(&app).await;
    let mut per_stream: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &events {
        per_stream
            .entry(e["stream_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(e);
    }
    let (mut deposits, mut withdrawals, mut total) = (0i64, 0i64, 0i64);
    let mut legs: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for (stream, evs) in &per_stream {
        for (i, e) in evs.iter().enumerate() {
            assert_eq!(
                e["version"].as_u64().unwrap(),
                i as u64 + 1,
                "{stream} versions contiguous"
            );
        }
        if stream.starts_with("transfer/") {
            continue;
        }
        let mut balance = 0i64;
        for e in evs {
            let d = &e["data"];
            match e["event_type"].as_str().unwrap() {
                "MoneyDeposited" => {
                    balance += cents(&d["amount"]);
                    deposits += cents(&d["amount"]);
                }
                "MoneyWithdrawn" => {
                    balance -= cents(&d["amount"]);
                    withdrawals += cents(&d["amount"]);
                }
                "TransferDebited" => {
                    balance -= cents(&d["amount"]);
                    legs.entry(d["transfer_id"].as_str().unwrap().into())
                        .or_default()
                        .0 += 1;
                }
                "TransferCredited" => {
                    balance += cents(&d["amount"]);
                    legs.entry(d["transfer_id"].as_str().unwrap().into())
                        .or_default()
                        .1 += 1;
                }
                _ => {}
            }
            assert!(balance >= 0, "{stream} went negative");
            if d["balance"].is_string() {
                assert_eq!(
                    cents(&d["balance"]),
                    balance,
                    "{stream}: recorded balance after"
                );
            }
        }
        total += balance;
        let view = app
            .eventually(&format!("/accounts/{stream}"), |v| {
                v["version"].as_u64() == Some(evs.len() as u64)
            })
            .await;
        assert_eq!(
            cents(&view["balance"]),
            balance,
            "{stream}: view equals the fold"
        );
    }
    assert_eq!(
        total,
        deposits - withdrawals,
        "money is neither made nor lost"
    );
    for (id, (debits, credits)) in &legs {
        assert_eq!(
            (*debits, *credits),
            (1, 1),
            "transfer {id} has both legs once"
        );
    }
    for id in &answered {
        assert!(legs.contains_key(id), "answered transfer {id} is recorded");
    }
    assert!(answered.len() > 10, "the workload made transfers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bank_invariant_holds_on_postgres() {
    bank_invariant(Backend::PostgresRedis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bank_invariant_holds_on_sqlite() {
    bank_invariant(Backend::Sqlite).await;
}
