//! kill -9 under load, on PostgreSQL + Redis and on the embedded SQLite default: every
//! command that got a 2xx is present exactly once after a restart, and idempotent
//! retries of the in-flight ones apply at most once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledger_postgres::testing::TestDatabase;
use ledger_tests::feed_read::feed_until;
use ledger_tests::json;
use ledger_tests::process::{free_port, start_with, wait_up};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_9_under_load_loses_no_acknowledged_command() {
    let db = TestDatabase::create().await;
    kill_9_under_load(&db.url, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_9_under_load_loses_no_acknowledged_command_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("ledger-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}/ledger.db", dir.display());
    kill_9_under_load(&url, &[("LEDGER__SNAPSHOTS__URL", "memory")]).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The binary on `url` (with `env`) killed with SIGKILL under six clients' deposits,
/// started again, every key retried.
async fn kill_9_under_load(url: &str, env: &[(&str, &str)]) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut server = start_with(url, port, env);
    wait_up(&client, &base).await;
    for a in 0..4 {
        let r = client
            .post(format!("{base}/accounts"))
            .json(&json!({"account_id": format!("k{a}"), "owner": "K", "currency": "USD"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    // key -> (account, acknowledged?)
    let sent: Arc<Mutex<HashMap<String, (String, bool)>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..6 {
        let (client, base, sent) = (client.clone(), base.clone(), sent.clone());
        workers.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let key = format!("w{w}-{i}");
                let account = format!("k{}", (w + i) % 4);
                sent.lock()
                    .unwrap()
                    .insert(key.clone(), (account.clone(), false));
                let r = client
                    .post(format!("{base}/accounts/{account}/deposit"))
                    .header("idempotency-key", &key)
                    .header("x-request-id", &key)
                    .json(&json!({"amount": "0.01"}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        sent.lock().unwrap().insert(key, (account, true));
                    }
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("kill -9");
    let _ = server.wait();
    for w in workers {
        let _ = w.await;
    }
    let mut server = start_with(url, port, env);
    wait_up(&client, &base).await;
    // Retry everything that was sent, acknowledged or not, with its key.
    let sent = sent.lock().unwrap().clone();
    let acknowledged = sent.values().filter(|(_, ok)| *ok).count();
    assert!(
        acknowledged > 20,
        "the load ran before the kill ({acknowledged})"
    );
    for (key, (account, _)) in &sent {
        let r = client
            .post(format!("{base}/accounts/{account}/deposit"))
            .header("idempotency-key", key)
            .header("x-request-id", key)
            .json(&json!({"amount": "0.01"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "retry of {key}");
    }
    // Each key's deposit exists exactly once.
    let request_id = |e: &Value| e["metadata"]["request_id"].as_str().map(str::to_owned);
    let events = feed_until(&client, &base, "crash-admin", |events| {
        let ids: HashSet<String> = events.iter().filter_map(request_id).collect();
        sent.keys().all(|k| ids.contains(k))
    })
    .await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in events
        .iter()
        .filter(|e| e["event_type"] == "MoneyDeposited")
    {
        *seen
            .entry(request_id(e).expect("a request id"))
            .or_default() += 1;
    }
    for key in sent.keys() {
        assert_eq!(seen.get(key), Some(&1), "{key} applied exactly once");
    }
    assert_eq!(seen.len(), sent.len(), "no deposit without a sent key");
    let mut total = 0i64;
    for a in 0..4 {
        let (_, v) = json(
            client
                .get(format!("{base}/accounts/k{a}?version=1000000"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let (i, f) = v["balance"].as_str().unwrap().split_once('.').unwrap();
        total += i.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap();
    }
    assert_eq!(
        total as usize,
        sent.len(),
        "the balances hold exactly the applied deposits"
    );
    // The projectors were killed mid-run too: they resume without double counting.
    for a in 0..4 {
        let (_, truth) = json(
            client
                .get(format!("{base}/accounts/k{a}?version=1000000"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let mut settled = false;
        for _ in 0..200 {
            let (_, view) = json(
                client
                    .get(format!("{base}/accounts/k{a}"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            if view["version"] == truth["version"] {
                assert_eq!(
                    view["balance"], truth["balance"],
                    "k{a}: the view equals the fold"
                );
                assert_eq!(
                    view["transaction_count"].as_u64().unwrap() + 1,
                    truth["version"].as_u64().unwrap()
                );
                settled = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(settled, "k{a}: the projection caught up after the restart");
    }
    let _ = server.kill();
    let _ = server.wait();
}
