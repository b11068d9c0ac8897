//! kill -9 during a stream of atomic batches: every acknowledged batch is present after
//! a restart, none is half-written, and keyed retries of the in-flight ones apply at
//! most once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledger_postgres::testing::TestDatabase;
use ledger_tests::feed_read::feed_until;
use ledger_tests::json;
use ledger_tests::process::{free_port, start, wait_up};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_9_during_batches_loses_no_acknowledged_batch_and_half_writes_none() {
    let db = TestDatabase::create().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut server = start(&db.url, port);
    wait_up(&client, &base).await;
    let opens: Vec<Value> = (0..4)
        .map(|a| json!({"op": "open_account", "account_id": format!("b{a}"), "owner": "B", "currency": "USD"}))
        .collect();
    let r = client
        .post(format!("{base}/batches"))
        .json(&json!({"operations": opens}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Each batch: a deposit of 0.01 and a transfer of 0.01 onwards (4 events).
    let batch = |w: usize, i: usize| {
        let (a, b) = ((w + i) % 4, (w + i + 1) % 4);
        json!({"operations": [
            {"op": "deposit", "account_id": format!("b{a}"), "amount": "0.01"},
            {"op": "transfer", "from_account_id": format!("b{a}"), "to_account_id": format!("b{b}"), "amount": "0.01"},
        ]})
    };
    // key -> (body, acknowledged?)
    let sent: Arc<Mutex<HashMap<String, (Value, bool)>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..6 {
        let (client, base, sent) = (client.clone(), base.clone(), sent.clone());
        workers.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let key = format!("w{w}-{i}");
                let body = batch(w, i);
                sent.lock()
                    .unwrap()
                    .insert(key.clone(), (body.clone(), false));
                let r = client
                    .post(format!("{base}/batches"))
                    .header("idempotency-key", &key)
                    .header("x-request-id", &key)
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        sent.lock().unwrap().insert(key, (body, true));
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
    // Before any retry: every batch is all there or not there at all.
    let mut server = start(&db.url, port);
    wait_up(&client, &base).await;
    let sent = sent.lock().unwrap().clone();
    let acknowledged: Vec<&String> = sent
        .iter()
        .filter(|(_, (_, ok))| *ok)
        .map(|(k, _)| k)
        .collect();
    assert!(
        acknowledged.len() > 20,
        "the load ran before the kill ({})",
        acknowledged.len()
    );
    let seen = events_by_request(&client, &base, acknowledged.iter().copied()).await;
    for (key, n) in &seen {
        assert_eq!(*n, 4, "{key}: a batch is all of its events or none");
    }
    for key in &acknowledged {
        assert_eq!(seen.get(*key), Some(&4), "{key} was acknowledged");
    }
    // Retry everything that was sent, acknowledged or not, with its key.
    for (key, (body, _)) in &sent {
        let r = client
            .post(format!("{base}/batches"))
            .header("idempotency-key", key)
            .header("x-request-id", key)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "retry of {key}");
    }
    let seen = events_by_request(&client, &base, sent.keys()).await;
    for key in sent.keys() {
        assert_eq!(seen.get(key), Some(&4), "{key} applied exactly once");
    }
    let mut total = 0i64;
    for a in 0..4 {
        let (_, v) = json(
            client
                .get(format!("{base}/accounts/b{a}?version=1000000"))
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
    let _ = server.kill();
    let _ = server.wait();
}

/// Events per request id (a batch's key is its request id), from the global feed, once
/// every key of `wanted` is there.
async fn events_by_request<'a>(
    client: &reqwest::Client,
    base: &str,
    wanted: impl Iterator<Item = &'a String> + Clone,
) -> HashMap<String, usize> {
    let request = |e: &Value| {
        e["metadata"]["request_id"]
            .as_str()
            .filter(|r| r.starts_with('w'))
            .map(str::to_owned)
    };
    let events = feed_until(client, base, "crash-admin", |events| {
        let ids: HashSet<String> = events.iter().filter_map(request).collect();
        wanted.clone().all(|k| ids.contains(k))
    })
    .await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in events.iter().filter_map(request) {
        *seen.entry(r).or_default() += 1;
    }
    seen
}
