//! Connections whose answers stop coming while they stay open (a database host gone
//! without a reset, a NAT that forgot the flow): a proxy between the service and
//! PostgreSQL, or Redis, swallows every answer for a while and keeps those connections
//! open for good. Nothing may stay stopped behind them: writes go on (on other
//! connections), the views catch up, snapshots resume, and every keyed deposit exists
//! exactly once. (Found by black-box testing: the group-commit writer, the projections
//! and the Redis snapshots each waited on such a connection with no end.)

use std::time::Duration;

use ledger_bootstrap::Application;
use ledger_postgres::testing::TestDatabase;
use ledger_tests::{open_usd, redis_url, settings, Options, Proxy, ADMIN};
use serde_json::{json, Value};

/// The `host:port` of the shared PostgreSQL.
fn pg_upstream() -> String {
    let url = ledger_postgres::testing::admin_url();
    let after_at = url.rsplit('@').next().unwrap_or("127.0.0.1:5432");
    after_at.split('/').next().unwrap_or_default().to_owned()
}

/// Serves `s` in the background: its base URL.
async fn serve(s: ledger_bootstrap::Settings) -> String {
    let app = Application::build(s).await.expect("builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending::<()>()));
    base
}

async fn deposit(http: &reqwest::Client, base: &str, key: &str) -> u16 {
    let r = http
        .post(format!("{base}/accounts/acc/deposit"))
        .header("Idempotency-Key", key)
        .json(&json!({"amount": "1.00"}))
        .send()
        .await;
    r.map_or(0, |r| r.status().as_u16())
}

async fn get(http: &reqwest::Client, base: &str, path: &str) -> Value {
    let r = http
        .get(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .send()
        .await;
    match r {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// Whether every projection is live and caught up, and the view shows `balance`.
async fn views_hold(http: &reqwest::Client, base: &str, balance: &str) -> bool {
    let status = get(http, base, "/admin/projections").await;
    let caught_up = status["projections"].as_array().is_some_and(|ps| {
        !ps.is_empty()
            && ps
                .iter()
                .all(|p| p["state"] == "live" && p["lag_events"] == 0)
    });
    let listed = get(http, base, "/accounts?owner=Ada").await;
    caught_up && listed["accounts"][0]["balance"] == balance
}

/// The service on a fresh database reached through a proxy (its settings changed by
/// `with`), with account `acc` opened and 1.00 deposited under the key `before`.
async fn behind_a_proxy(
    with: impl FnOnce(&mut ledger_bootstrap::Settings),
) -> (TestDatabase, Proxy, String, reqwest::Client) {
    let db = TestDatabase::create().await;
    let pool = ledger_postgres::pool(&db.url, 2).expect("pool");
    ledger_postgres::migrate(&pool).await.expect("migrate");
    pool.close().await;
    let proxy = Proxy::start(&pg_upstream()).await;
    let url = db
        .url
        .replacen(&pg_upstream(), &format!("127.0.0.1:{}", proxy.port), 1);
    let mut s = settings(url, "memory".into(), &Options::default());
    with(&mut s);
    let base = serve(s).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    open_usd(&http, &base, "acc").await;
    assert_eq!(deposit(&http, &base, "before").await, 200);
    (db, proxy, base, http)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_black_holed_database_connection_stops_nothing_for_good() {
    let (_db, proxy, base, http) = behind_a_proxy(|s| s.server.request_timeout_ms = 2000).await;

    // Every connection that has an answer on the way loses it, and stays open: a
    // deposit without a key (nothing to look up first) is written by the group-commit
    // writer, whose statement gets through and whose answer is lost. (Whether any key
    // exists is read again once a second: read it now, so the deposit asks nothing of the
    // black-holed store before its append.)
    get(&http, &base, "/accounts/acc").await;
    proxy.black_hole();
    let lost = http
        .post(format!("{base}/accounts/acc/deposit"))
        .json(&json!({"amount": "1.00"}))
        .send()
        .await;
    assert_eq!(
        lost.expect("answered").status(),
        503,
        "its answer was swallowed"
    );
    proxy.forward();

    // Writes go on without a restart: within the writer's bound, on another connection.
    let mut keys = vec!["before".to_owned()];
    let mut written = false;
    for i in 0..30 {
        keys.push(format!("after-{i}"));
        if deposit(&http, &base, &keys[keys.len() - 1]).await == 200 {
            written = true;
            break;
        }
    }
    assert!(written, "no deposit was written after the black hole");
    for key in &keys {
        assert_eq!(deposit(&http, &base, key).await, 200, "{key} retried");
    }

    // Every keyed deposit exists once, beside the lost one (committed before its answer
    // was swallowed), and the views catch up with them.
    let account = get(&http, &base, "/accounts/acc").await;
    let balance = format!("{}.00", keys.len() + 1);
    assert_eq!(account["balance"], balance.as_str(), "{account}");
    assert_eq!(account["version"], keys.len() + 2, "one event per deposit");
    let mut held = false;
    for _ in 0..100 {
        if views_hold(&http, &base, &balance).await {
            held = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        held,
        "the views never caught up: {}",
        get(&http, &base, "/admin/projections").await
    );
}

/// The status of `GET path` as the admin (0 if no answer came at all).
async fn status(http: &reqwest::Client, base: &str, path: &str) -> u16 {
    let r = http
        .get(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .send()
        .await;
    r.map_or(0, |r| r.status().as_u16())
}

/// Reads cut off by their request's deadline while their answers are swallowed give
/// their connections back within a bound, or close them. Handed back through sqlx's
/// give-back ping alone (which has no bound), each held its pool slot for as long as
/// the socket stayed open: a few such reads, and the pool had nothing left to hand
/// out, for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_cut_off_on_a_black_holed_connection_give_their_pool_slots_back() {
    let (_db, proxy, base, http) = behind_a_proxy(|s| {
        s.server.request_timeout_ms = 1000;
        // Three free beside the two writer lanes and the LISTEN session: a background
        // step (the expirer's, the projections') handed back at the very moment the
        // hole opens waits in sqlx's give-back ping for good here (the proxy drops
        // what it swallows; a network retransmits it), one slot each (docs/API.md).
        s.storage.max_connections = 6;
    })
    .await;
    assert_eq!(status(&http, &base, "/accounts/acc").await, 200);
    // That read's connection is handed back through sqlx's ping, which must have its
    // answer before the black hole begins: a connection in that ping when answers stop
    // waits there until the socket dies (docs/API.md, Limits).
    tokio::time::sleep(Duration::from_secs(1)).await;

    // More reads than the pool has free connections (the writer lanes and the LISTEN
    // session keep theirs), each cut off by its deadline.
    proxy.black_hole();
    for _ in 0..12 {
        assert_eq!(status(&http, &base, "/accounts/acc").await, 503);
    }
    proxy.forward();

    let mut answered = false;
    for _ in 0..40 {
        if status(&http, &base, "/accounts/acc").await == 200 {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(answered, "reads never got a connection again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_black_holed_redis_connection_stops_snapshots_for_a_moment_only() {
    let db = TestDatabase::create().await;
    let redis = redis_url();
    let upstream = redis.trim_start_matches("redis://").trim_end_matches('/');
    let proxy = Proxy::start(upstream).await;
    let through = format!("redis://127.0.0.1:{}", proxy.port);
    let base = serve(settings(db.url.clone(), through, &Options::default())).await;
    let http = reqwest::Client::new();
    open_usd(&http, &base, "acc").await;

    proxy.black_hole();
    for i in 0..6 {
        assert_eq!(deposit(&http, &base, &format!("dark-{i}")).await, 200);
    }
    let ready = get(&http, &base, "/ready").await;
    assert_eq!(ready["snapshots"], "degraded", "{ready}");
    proxy.forward();

    let mut ready = Value::Null;
    for i in 0..50 {
        assert_eq!(deposit(&http, &base, &format!("light-{i}")).await, 200);
        ready = get(&http, &base, "/ready").await;
        if ready["snapshots"] == "ok" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ready["snapshots"], "ok", "snapshots never resumed: {ready}");
}
