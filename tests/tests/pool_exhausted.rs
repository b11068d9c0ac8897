//! Resource faults (issue 23, part 3), second half: PostgreSQL stops answering the
//! service's queries (a lock held on the events table, as a stuck migration or a slow
//! query would). Every connection of the pool waits; requests answer 503 within the
//! configured bound, `/health` still answers, `/ready` says the event store is
//! unavailable, and when the lock goes the ledger goes on
//! by itself. Deposits were sent with idempotency keys: each retried key answers its
//! first outcome and exists exactly once, whether or not its first try wrote it.

use std::time::{Duration, Instant};

use ledger_bootstrap::Application;
use ledger_tests::private::PrivatePostgres;
use ledger_tests::{redis_url, settings, Options};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::oneshot;

const BOUND: Duration = Duration::from_secs(2);

/// A served application whose requests are bounded by [`BOUND`], on a PostgreSQL of
/// its own: the cluster, its base URL and what stops it. Not the shared server: an
/// `ACCESS EXCLUSIVE` lock takes a transaction id, and the feed shows no event newer
/// than the oldest transaction running anywhere on the server (every other test's
/// feed would stall while these tests hold their locks).
async fn bounded(max_connections: u32) -> (PrivatePostgres, String, oneshot::Sender<()>) {
    let db = PrivatePostgres::start();
    let mut s = settings(db.url(), redis_url(), &Options::default());
    s.server.request_timeout_ms = u64::try_from(BOUND.as_millis()).expect("ms");
    s.storage.max_connections = max_connections;
    let app = Application::build(s).await.expect("builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    (db, base, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_database_answers_503_in_bound_and_recovers() {
    let (db, base, stop) = bounded(4).await;
    let http = reqwest::Client::new();
    let open = json!({"account_id": "acc", "owner": "Ada", "currency": "USD"});
    let r = http
        .post(format!("{base}/accounts"))
        .json(&open)
        .send()
        .await
        .expect("open");
    assert_eq!(r.status(), 201);
    let deposit = |key: String| {
        http.post(format!("{base}/accounts/acc/deposit"))
            .header("Idempotency-Key", key)
            .json(&json!({"amount": "1.00"}))
            .send()
    };
    assert_eq!(
        deposit("before".into()).await.expect("deposit").status(),
        200
    );

    // The store's gauges, read while it answers.
    let scrape = || async {
        let r = http.get(format!("{base}/metrics")).send().await;
        let r = r.expect("metrics");
        assert_eq!(r.status(), 200);
        r.text().await.expect("text")
    };
    // (Each has 1 s: a loaded machine may need more than one scrape.)
    let gauges = [
        "ledger_event_store_events ",
        "ledger_projection_lag_events{",
    ];
    let mut text = String::new();
    for _ in 0..20 {
        text = scrape().await;
        if gauges.iter().all(|g| text.contains(g)) {
            break;
        }
    }
    for gauge in gauges {
        assert!(text.contains(gauge), "{gauge} before: {text}");
    }

    // Hold every query on the events table.
    let mut locker = PgConnection::connect(&db.url()).await.expect("connect");
    locker
        .execute("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let started = Instant::now();
    let tries: Vec<_> = (0..12).map(|i| deposit(format!("stalled-{i}"))).collect();
    let answers = futures_util::future::join_all(tries).await;
    let waited = started.elapsed();
    for a in &answers {
        let status = a.as_ref().expect("answered").status().as_u16();
        assert!(
            status == 503 || status == 200,
            "a stalled database answered {status}"
        );
    }
    assert!(
        answers
            .iter()
            .any(|a| a.as_ref().is_ok_and(|r| r.status() == 503)),
        "a stalled database refuses commands"
    );
    for a in answers.iter().flatten().filter(|r| r.status() == 503) {
        assert_eq!(a.headers()["retry-after"], "1", "a 503 says when to retry");
    }
    assert!(waited < BOUND * 4, "answered within the bound ({waited:?})");
    let health = tokio::time::timeout(BOUND, http.get(format!("{base}/health")).send()).await;
    assert_eq!(health.expect("in time").expect("answered").status(), 200);
    // Readiness says what waits, in its own words (it was the request timeout's
    // problem, saying nothing of the event store).
    let ready = http
        .get(format!("{base}/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["retry-after"], "1");
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["event_store"], "unavailable", "{ready}");
    // The counters are scraped while the store waits (the store's own gauges are left
    // out): the outage shows in them, where /metrics once answered 503 with it. Its
    // gauges are not shown as they last were (a lag of 0 said all was well).
    let text = scrape().await;
    assert!(text.contains("ledger_http_requests_total"), "{text}");
    for gauge in ["ledger_event_store_events", "ledger_projection_lag_events"] {
        assert!(!text.contains(gauge), "{gauge} during the outage: {text}");
    }

    locker.execute("COMMIT").await.expect("unlock");
    // Every key again: its first outcome if it had one, written once either way.
    for i in 0..12 {
        let mut status = 0;
        for _ in 0..50 {
            status = deposit(format!("stalled-{i}"))
                .await
                .expect("retry")
                .status()
                .as_u16();
            if status == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            status, 200,
            "key stalled-{i} succeeds once the database answers"
        );
    }
    let mut seen = Value::Null;
    for _ in 0..100 {
        let r = http
            .get(format!("{base}/accounts/acc"))
            .send()
            .await
            .expect("read");
        seen = r.json().await.unwrap_or(Value::Null);
        if seen["balance"] == "13.00" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen["balance"], "13.00", "13 keys, 13 deposits: {seen}");
    assert_eq!(seen["version"], 14, "{seen}");
    let _ = stop.send(());
}

/// A write handed to the event store that ends after the time bound answers its
/// outcome, not a 503 saying to retry (the write lands all the same: a client retrying
/// without a key would deposit twice). Here the events table is locked for 1.5 bounds:
/// the deposit waits, is written when the lock goes, and is answered 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_that_ends_past_the_bound_answers_its_outcome() {
    let (db, base, stop) = bounded(16).await;
    let http = reqwest::Client::new();
    let open = json!({"account_id": "acc", "owner": "Ada", "currency": "USD"});
    let r = http.post(format!("{base}/accounts")).json(&open).send();
    assert_eq!(r.await.expect("open").status(), 201);
    // Loaded and cached: the deposit's only wait is its append.
    let deposit = http
        .post(format!("{base}/accounts/acc/deposit"))
        .json(&json!({"amount": "1.00"}));
    assert_eq!(
        deposit
            .try_clone()
            .expect("clone")
            .send()
            .await
            .expect("deposit")
            .status(),
        200
    );

    let mut locker = PgConnection::connect(&db.url()).await.expect("connect");
    locker
        .execute("BEGIN; LOCK TABLE events IN SHARE MODE")
        .await
        .expect("lock");
    let answer = tokio::spawn(deposit.send());
    tokio::time::sleep(BOUND * 3 / 2).await;
    locker.execute("COMMIT").await.expect("unlock");
    let answer = answer.await.expect("task").expect("answered");
    let status = answer.status();
    let body: Value = answer.json().await.expect("json");
    assert_eq!(status, 200, "the deposit was written: {body}");
    assert_eq!(body["balance"], "2.00", "{body}");
    let _ = stop.send(());
}

/// The bound covers the caller's authentication: a key whose lookup waits on a locked
/// table is answered 503 "nothing written" within the bound, and nothing is written (it
/// once waited for the lock, seconds past the bound, and then wrote).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_key_lookup_is_answered_within_the_bound() {
    let (db, base, stop) = bounded(16).await;
    let http = reqwest::Client::new();
    let made: Value = http
        .post(format!("{base}/admin/api-keys"))
        .bearer_auth(ledger_tests::ADMIN)
        .json(&json!({"name": "op", "role": "operator"}))
        .send()
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    let secret = made["secret"].as_str().expect("secret").to_owned();
    let open = json!({"account_id": "acc", "owner": "Ada", "currency": "USD"});
    let r = http
        .post(format!("{base}/accounts"))
        .bearer_auth(&secret)
        .json(&open);
    assert_eq!(r.send().await.expect("open").status(), 201);
    // Past the key cache's life: the next request looks the key up in the store.
    tokio::time::sleep(ledger_application::api_keys::CACHE_TTL * 2).await;
    let mut locker = PgConnection::connect(&db.url()).await.expect("connect");
    locker
        .execute("BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let deposit = http
        .post(format!("{base}/accounts/acc/deposit"))
        .bearer_auth(&secret)
        .json(&json!({"amount": "1.00"}))
        .send();
    let answer = tokio::time::timeout(BOUND * 5, deposit).await;
    locker.execute("COMMIT").await.expect("unlock");
    let answer = answer
        .expect("answered within the bound")
        .expect("answered");
    let status = answer.status();
    let body: Value = answer.json().await.expect("json");
    assert_eq!(status, 503, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("nothing of it was written")),
        "{body}"
    );
    tokio::time::sleep(BOUND).await;
    let r = http
        .get(format!("{base}/accounts/acc"))
        .bearer_auth(&secret)
        .send();
    let account: Value = r.await.expect("read").json().await.expect("json");
    assert_eq!(account["balance"], "0.00", "nothing written: {account}");
    let _ = stop.send(());
}
