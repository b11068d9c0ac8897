//! Two instances under real faults (issue 23, part 2): two `ledger serve` on one
//! PostgreSQL cluster the test creates itself (so it may restart it), a private Redis
//! and a private NATS (JetStream) that both relay to, sealing every second. 16 clients
//! spread over both instances send transfers (one in four pending with a one-second
//! expiry, left to expire) with idempotency keys while the test, once per cycle
//! (`LEDGER_TWO_INSTANCES_CYCLES`, 1 by default), kills one instance with SIGKILL and
//! starts it again, restarts PostgreSQL (fast, then immediate shutdown), restarts Redis,
//! kills and restarts NATS, and stops the other instance with SIGTERM (it must exit 0)
//! and starts it again. Afterwards: money is conserved, every acknowledged
//! transfer exists exactly once, every key retried answers its first outcome, no answer
//! was 500, every acknowledged transfer moved the accounts exactly once and no other
//! did, the views and the relay caught up with no operator, every pending transfer
//! expired exactly once, the stream holds every event exactly once, and `ledger verify`
//! with the seals' public key finds nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledger_tests::nats::{every_event_once, PrivateNats};
use ledger_tests::private::{PrivatePostgres, PrivateRedis};
use ledger_tests::process::{
    caught_up, free_port, generate_signing_key, start_with, terminate, wait_up,
};
use ledger_tests::tamper::verify;
use serde_json::{json, Value};
use sqlx::Row;

mod clients;

use clients::{client, replay, Outcomes};

const ACCOUNTS: usize = 10;
const CLIENTS: usize = 16;

/// What every instance shares: the stores, NATS, the signing key.
struct Shared {
    db: String,
    redis: u16,
    nats: String,
    key: String,
}

/// `ledger serve` (the admin token `crash-admin`) with snapshots in the private Redis,
/// the relay to the private NATS, seals every second, requests bounded at 3 s.
fn serve(s: &Shared, port: u16) -> std::process::Child {
    let redis = format!("redis://127.0.0.1:{}", s.redis);
    let env = [
        ("LEDGER__SNAPSHOTS__URL", redis.as_str()),
        ("LEDGER__SERVER__REQUEST_TIMEOUT_MS", "3000"),
        ("LEDGER__RELAY__NATS__URL", s.nats.as_str()),
        ("LEDGER__RELAY__NATS__STREAM", "FAULTS"),
        ("LEDGER__RELAY__NATS__SUBJECT_PREFIX", "faults.events"),
        ("LEDGER__INTEGRITY__SIGNING_KEY", s.key.as_str()),
        ("LEDGER__INTEGRITY__SEAL_INTERVAL_SECONDS", "1"),
    ];
    start_with(&s.db, port, &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_survive_kills_and_restarts_with_nothing_lost_or_doubled() {
    let cycles: usize = std::env::var("LEDGER_TWO_INSTANCES_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let cluster = PrivatePostgres::start();
    let mut redis = PrivateRedis::start(free_port());
    let mut nats = PrivateNats::start().await;
    let dir = std::env::temp_dir().join(format!("ledger-two-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = dir.join("seal.pem");
    generate_signing_key(&key);
    let shared = Shared {
        db: cluster.url(),
        redis: redis.port,
        nats: nats.url(),
        key: key.display().to_string(),
    };
    let ports = [free_port(), free_port()];
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let mut servers: Vec<_> = ports.iter().map(|&p| serve(&shared, p)).collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for b in &bases {
        wait_up(&http, b).await;
    }
    for a in 0..ACCOUNTS {
        let open = json!({"account_id": format!("b{a}"), "owner": "Bank", "currency": "USD"});
        let r = http
            .post(format!("{}/accounts", bases[0]))
            .json(&open)
            .send()
            .await
            .expect("open");
        assert_eq!(r.status(), 201);
        let fund = json!({"amount": "100.00"});
        let r = http
            .post(format!("{}/accounts/b{a}/deposit", bases[0]))
            .json(&fund)
            .send()
            .await
            .expect("fund");
        assert_eq!(r.status(), 200);
    }

    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(client(
                c,
                http.clone(),
                bases.clone(),
                outcomes.clone(),
                stop.clone(),
            ))
        })
        .collect();
    // The faults, one after another, while the clients run.
    let pause = || tokio::time::sleep(Duration::from_secs(2));
    for cycle in 0..cycles {
        pause().await;
        let victim = cycle % 2;
        let _ = servers[victim].kill(); // SIGKILL
        let _ = servers[victim].wait();
        tokio::time::sleep(Duration::from_millis(500)).await;
        servers[victim] = serve(&shared, ports[victim]);
        pause().await;
        cluster.ctl(&["-m", "fast", "restart"]);
        pause().await;
        cluster.ctl(&["-m", "immediate", "restart"]);
        pause().await;
        redis.restart();
        pause().await;
        nats.kill();
        tokio::time::sleep(Duration::from_millis(500)).await;
        nats.restart().await;
        pause().await;
        // A rolling restart: the other instance stops gracefully and comes back.
        let other = 1 - victim;
        let exit = terminate(&mut servers[other]).await;
        assert!(exit.is_some_and(|s| s.success()), "SIGTERM: {exit:?}");
        servers[other] = serve(&shared, ports[other]);
    }
    pause().await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("client");
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    assert!(
        outcomes.internal.is_empty(),
        "500 answers during the faults: {:?}",
        outcomes.internal
    );
    assert!(
        outcomes.first.len() > 100,
        "the clients got answers: {}",
        outcomes.first.len()
    );

    // Every key again: its first outcome (the stored answer), on either instance.
    for b in &bases {
        wait_up(&http, b).await;
    }
    for (n, (key, (body, status, answer))) in outcomes.first.iter().enumerate() {
        let again = replay(&http, &bases, n, key, body).await;
        assert_eq!(
            again.as_ref().map(|a| a.0),
            Some(*status),
            "{key}: first {status} {answer}, again {again:?}"
        );
        if *status == 201 {
            let got = again.map(|a| a.1["transfer_id"].clone());
            assert_eq!(got, Some(json!(key)), "{key}");
        }
    }
    let acknowledged = outcomes.first.values().filter(|f| f.1 == 201).count();
    let pending: Vec<&String> = outcomes
        .first
        .iter()
        .filter(|(_, f)| f.1 == 201 && f.2["status"] == "pending")
        .map(|(k, _)| k)
        .collect();

    // Every pending transfer expires (each once: the store is asked below).
    for id in &pending {
        let mut status = Value::Null;
        for _ in 0..300 {
            let r = http
                .get(format!("{}/transfers/{id}", bases[1]))
                .send()
                .await;
            if let Ok(r) = r {
                status = r.json::<Value>().await.unwrap_or(Value::Null)["status"].clone();
                if status == "expired" {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, "expired", "{id} expired with no operator");
    }
    assert!(
        caught_up(&http, &bases[0]).await,
        "the projections and the relay caught up with no operator"
    );

    let mut total = 0i64;
    for a in 0..ACCOUNTS {
        let view: Value = http
            .get(format!("{}/accounts/b{a}", bases[1]))
            .send()
            .await
            .expect("view")
            .json()
            .await
            .expect("json");
        assert_eq!(view["pending_out"], "0.00", "b{a}: {view}");
        let cents = view["balance"].as_str().unwrap_or("x").replace('.', "");
        total += cents.parse::<i64>().expect("a balance");
    }
    assert_eq!(total, ACCOUNTS as i64 * 10_000, "money is conserved");

    // The store: one expiry per pending transfer; every event in the stream once.
    let pool = sqlx::PgPool::connect(&cluster.url())
        .await
        .expect("the cluster");
    let expiries: Vec<(String, i64)> = sqlx::query("SELECT stream_id, count(*) FROM events WHERE event_type = 'TransferExpired' GROUP BY stream_id")
        .fetch_all(&pool).await.expect("expiries").iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(
        expiries.iter().all(|(_, n)| *n == 1),
        "an expiry recorded twice: {expiries:?}"
    );
    assert_eq!(
        expiries.len(),
        pending.len(),
        "one expiry per pending transfer"
    );
    // Each acknowledged transfer moved the accounts once: a debit and a credit, and for a
    // pending one a reserve on each side and its release; no other transfer is stored.
    let legs: HashMap<String, i64> = sqlx::query(
        "SELECT data->>'transfer_id', count(*) FROM events \
         WHERE stream_type = 'account' AND data->>'transfer_id' IS NOT NULL GROUP BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("legs")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let want: HashMap<String, i64> = outcomes
        .first
        .iter()
        .filter(|(_, f)| f.1 == 201)
        .map(|(k, f)| (k.clone(), if f.2["status"] == "pending" { 4 } else { 2 }))
        .collect();
    assert!(
        legs == want,
        "every acknowledged transfer exists exactly once"
    );
    let relayed = every_event_once(&pool, &nats.url(), "FAULTS").await;

    let public = dir.join("public.pem");
    let pem = http
        .get(format!("{}/integrity/public-key", bases[0]))
        .send()
        .await
        .expect("key")
        .text()
        .await
        .expect("pem");
    std::fs::write(&public, pem).expect("write");
    let (code, out) = verify(&cluster.url(), Some(&public)).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(" 0 seals"), "seals were written: {out}");
    println!(
        "two instances, {cycles} fault cycles: {acknowledged} transfers acknowledged ({} pending, each expired once), {} events relayed once each, {} answers to retry, through kill -9, PostgreSQL fast and immediate restarts, Redis and NATS restarts, a SIGTERM restart",
        pending.len(), relayed, outcomes.retried
    );
    assert!(outcomes.retried > 0, "the faults were felt");
    for mut s in servers {
        let _ = s.kill();
        let _ = s.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
