//! The clients of the two-instance test: transfers with idempotency keys, each retried
//! on either instance until a definite answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::ACCOUNTS;

/// Each key's request and first definite answer, and the keys that ever got a 500.
#[derive(Default)]
pub struct Outcomes {
    pub first: HashMap<String, (Value, u16, Value)>,
    pub internal: Vec<String>,
    /// Answers that said "try again": 503, 409 `concurrency_conflict`, or no answer.
    pub retried: usize,
}

async fn send(http: &reqwest::Client, base: &str, key: &str, body: &Value) -> Option<(u16, Value)> {
    let r = http
        .post(format!("{base}/transfers"))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.unwrap_or(Value::Null)))
}

/// An answer that says "try again": 409 `concurrency_conflict` (the server's own
/// retries ran out and nothing was written, API.md), 503, or none.
fn says_retry(answer: &Option<(u16, Value)>) -> bool {
    match answer {
        Some((409, a)) => a["code"] == "concurrency_conflict",
        Some((503, _)) | None => true,
        Some(_) => false,
    }
}

/// `send` again until a definite answer, as `client` does (instances just restarted
/// catch up on expiries, seals and an emptied cache at once: one try may go unanswered).
pub async fn replay(
    http: &reqwest::Client,
    bases: &[String],
    n: usize,
    key: &str,
    body: &Value,
) -> Option<(u16, Value)> {
    let mut last = None;
    for attempt in 0..20 {
        last = send(http, &bases[(n + attempt) % 2], key, body).await;
        if !says_retry(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

/// One client: transfers until `stop`, each retried (on either instance) until a
/// definite answer.
pub async fn client(
    c: usize,
    http: reqwest::Client,
    bases: Vec<String>,
    out: Arc<Mutex<Outcomes>>,
    stop: Arc<AtomicBool>,
) {
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let key = format!("c{c}-{i}");
        let (from, to) = ((c + i) % ACCOUNTS, (c + 2 * i + 1) % ACCOUNTS);
        if from == to {
            continue;
        }
        let mut body = json!({"transfer_id": key, "from_account_id": format!("b{from}"),
            "to_account_id": format!("b{to}"), "amount": "0.25"});
        if i.is_multiple_of(4) {
            body["pending"] = json!(true);
            body["expires_in_seconds"] = json!(1);
        }
        for attempt in 0..300 {
            let base = &bases[(c + i + attempt) % 2];
            let answer = send(&http, base, &key, &body).await;
            match answer {
                _ if says_retry(&answer) => out.lock().unwrap().retried += 1,
                None => {}
                Some((500, _)) => out.lock().unwrap().internal.push(key.clone()),
                Some((status, answer)) => {
                    let first = (body.clone(), status, answer);
                    out.lock().unwrap().first.insert(key.clone(), first);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
