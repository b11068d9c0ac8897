//! The NATS JetStream relay against the real application, PostgreSQL and NATS: every
//! event on JetStream exactly once in feed order, through NATS restarts, a kill -9 of
//! the relaying service, and a second instance taking over.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ledger_postgres::testing::TestDatabase;
use ledger_tests::nats::{delete_stream, nats_url, relay_to, stored, PrivateNats, Relayed};
use ledger_tests::process::{free_port, start_logging, start_with, wait_up};
use ledger_tests::{Backend, Options, TestApp, ADMIN};
use serde_json::{json, Value};

/// The admin token of the binaries `process::start_with` runs.
const CRASH_ADMIN: &str = "crash-admin";

/// Opens `account` and writes `batches` atomic batches of `per_batch` deposits on it.
async fn write(
    client: &reqwest::Client,
    base: &str,
    account: &str,
    batches: usize,
    per_batch: usize,
) {
    let r = client
        .post(format!("{base}/accounts"))
        .json(&json!({"account_id": account, "owner": "Relay", "currency": "EUR"}))
        .send()
        .await
        .expect("open");
    assert!(
        matches!(r.status().as_u16(), 201 | 409),
        "open {account}: {}",
        r.status()
    );
    let ops: Vec<Value> = (0..per_batch)
        .map(|_| json!({"op": "deposit", "account_id": account, "amount": "0.01"}))
        .collect();
    for _ in 0..batches {
        let r = client
            .post(format!("{base}/batches"))
            .json(&json!({"atomic": true, "operations": ops}))
            .send()
            .await
            .expect("batch");
        assert_eq!(r.status().as_u16(), 200, "a command fails while relaying");
    }
}

/// The store's feed: event ids in feed order, with their positions.
async fn feed(client: &reqwest::Client, base: &str, admin: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut after = "0-0".to_owned();
    loop {
        let r = client
            .get(format!("{base}/events?after={after}&limit=1000"))
            .bearer_auth(admin)
            .send()
            .await
            .expect("feed");
        let page: Value = r.json().await.expect("json");
        let events = page["events"].as_array().expect("events");
        if events.is_empty() {
            return out;
        }
        for e in events {
            let pos = e["position"].as_u64().expect("position");
            out.push((pos, e["event_id"].as_str().expect("id").to_owned()));
        }
        after = page["next"].as_str().expect("next").to_owned();
    }
}

/// The relay's row of `/admin/projections`.
async fn relay_row(client: &reqwest::Client, base: &str, admin: &str) -> Option<Value> {
    let r = client
        .get(format!("{base}/admin/projections"))
        .bearer_auth(admin)
        .send()
        .await
        .ok()?;
    let body: Value = r.json().await.ok()?;
    body["projections"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "relay")
        .cloned()
}

/// Waits until the relay has caught up with `events` events; on a timeout, shows the
/// `logs` of the instances.
async fn wait_relayed(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    last_position: u64,
    logs: &[PathBuf],
) {
    let mut row = None;
    for _ in 0..600 {
        row = relay_row(client, base, admin).await;
        if let Some(r) = &row {
            if r["lag_events"] == 0 && r["position"] == last_position {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs: Vec<String> = logs
        .iter()
        .map(|l| format!("{}:\n{}", l.display(), tail(l)))
        .collect();
    panic!(
        "the relay never caught up with {last_position}: {row:?}\n{}",
        logs.join("\n")
    );
}

/// The last 8 KiB of a log file.
fn tail(log: &Path) -> String {
    let text = match std::fs::read(log) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("(unreadable: {e})"),
    };
    let start = text.len().saturating_sub(8 * 1024);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_owned()
}

/// JetStream holds exactly the feed: each event once, in feed order, on its subject,
/// with its id and cursor.
fn assert_exactly_the_feed(feed: &[(u64, String)], relayed: &[Relayed], prefix: &str) {
    assert_eq!(relayed.len(), feed.len(), "every event once on JetStream");
    for (i, ((position, id), m)) in feed.iter().zip(relayed).enumerate() {
        assert_eq!(
            &m.msg_id, id,
            "message {i}: the feed's order, Nats-Msg-Id = event id"
        );
        assert_eq!(m.body["event_id"], id.as_str());
        assert!(
            m.cursor.ends_with(&format!("-{position}")),
            "Ledger-Cursor {}",
            m.cursor
        );
        let stream_id = m.body["stream_id"].as_str().expect("stream id");
        let want = format!("{prefix}.account.{}", stream_id.replace('.', "~2E"));
        assert_eq!(m.subject, want);
    }
}

fn env(nats: &ledger_bootstrap::settings::Nats) -> Vec<(&'static str, String)> {
    vec![
        (
            "LEDGER__RELAY__NATS__URL",
            nats.url.clone().unwrap_or_default(),
        ),
        ("LEDGER__RELAY__NATS__STREAM", nats.stream.clone()),
        (
            "LEDGER__RELAY__NATS__SUBJECT_PREFIX",
            nats.subject_prefix.clone(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_reach_jetstream_once_in_feed_order() {
    let url = nats_url();
    let nats = relay_to(&url);
    let app = TestApp::spawn_with(
        Backend::PostgresRedis,
        Options {
            relay: Some(nats.clone()),
            ..Options::default()
        },
    )
    .await;
    let client = reqwest::Client::new();
    let mut writers = Vec::new();
    for w in 0..4 {
        let (client, base) = (client.clone(), app.base.clone());
        writers.push(tokio::spawn(async move {
            write(&client, &base, &format!("r.{w}"), 25, 100).await;
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let feed = feed(&client, &app.base, ADMIN).await;
    assert_eq!(feed.len(), 4 * (1 + 2_500));
    wait_relayed(
        &client,
        &app.base,
        ADMIN,
        feed.last().expect("events").0,
        &[],
    )
    .await;
    let relayed = stored(&url, &nats.stream).await;
    assert_exactly_the_feed(&feed, &relayed, &nats.subject_prefix);
    delete_stream(&url, &nats.stream).await;
}

/// NATS killed mid-run and restarted: commands keep succeeding, the relay reports the
/// trouble and then catches up; nothing lost, re-sent events dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_killed_and_restarted_mid_run_loses_nothing() {
    let mut server = PrivateNats::start().await;
    let nats = relay_to(&server.url());
    let app = TestApp::spawn_with(
        Backend::PostgresRedis,
        Options {
            relay: Some(nats.clone()),
            ..Options::default()
        },
    )
    .await;
    let client = reqwest::Client::new();
    write(&client, &app.base, "n.1", 10, 100).await;
    let writer = {
        let (client, base) = (client.clone(), app.base.clone());
        tokio::spawn(async move { write(&client, &base, "n.2", 30, 50).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    // While NATS is down commands succeed and the relay says what is wrong.
    write(&client, &app.base, "n.3", 5, 20).await;
    let mut reported = Value::Null;
    for _ in 0..300 {
        reported = relay_row(&client, &app.base, ADMIN)
            .await
            .unwrap_or_default();
        if reported["last_error"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reported["last_error"].is_string(),
        "the outage shows: {reported}"
    );
    server.restart().await;
    writer.await.expect("writer");
    let feed = feed(&client, &app.base, ADMIN).await;
    wait_relayed(
        &client,
        &app.base,
        ADMIN,
        feed.last().expect("events").0,
        &[],
    )
    .await;
    assert_exactly_the_feed(
        &feed,
        &stored(&server.url(), &nats.stream).await,
        &nats.subject_prefix,
    );
    let row = relay_row(&client, &app.base, ADMIN).await;
    assert_eq!(
        row.expect("relay")["last_error"],
        Value::Null,
        "recovered on its own"
    );
}

/// The relaying service killed with -9 mid-relay and started again: nothing lost,
/// nothing twice on the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_killed_mid_relay_resumes_exactly() {
    let url = nats_url();
    let nats = relay_to(&url);
    let db = TestDatabase::create().await;
    let vars = env(&nats);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut child = start_with(&db.url, port, &vars);
    wait_up(&client, &base).await;
    write(&client, &base, "k.1", 60, 100).await;
    // Kill it while the relay is part-way.
    for _ in 0..200 {
        if let Some(r) = relay_row(&client, &base, CRASH_ADMIN).await {
            if r["position"].as_u64().unwrap_or(0) > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let mut child = start_with(&db.url, port, &vars);
    wait_up(&client, &base).await;
    write(&client, &base, "k.2", 5, 100).await;
    let feed = feed(&client, &base, CRASH_ADMIN).await;
    wait_relayed(
        &client,
        &base,
        CRASH_ADMIN,
        feed.last().expect("events").0,
        &[],
    )
    .await;
    assert_exactly_the_feed(
        &feed,
        &stored(&url, &nats.stream).await,
        &nats.subject_prefix,
    );
    let _ = child.kill();
    let _ = child.wait();
    delete_stream(&url, &nats.stream).await;
}

/// Two instances relay to one stream: one leads; when it dies the other takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_takes_over_the_relay() {
    let url = nats_url();
    let nats = relay_to(&url);
    let db = TestDatabase::create().await;
    let vars = env(&nats);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let client = reqwest::Client::new();
    let ports = [free_port(), free_port()];
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let logs: Vec<PathBuf> = ports
        .iter()
        .map(|_| std::env::temp_dir().join(format!("ledger-relay-{}.log", uuid::Uuid::new_v4())))
        .collect();
    let mut children: Vec<_> = ports
        .iter()
        .zip(&logs)
        .map(|(p, log)| Some(start_logging(&db.url, *p, &vars, log)))
        .collect();
    for b in &bases {
        wait_up(&client, b).await;
    }
    write(&client, &bases[0], "t.1", 10, 100).await;
    let feed1 = feed(&client, &bases[0], CRASH_ADMIN).await;
    wait_relayed(
        &client,
        &bases[0],
        CRASH_ADMIN,
        feed1.last().expect("events").0,
        &logs,
    )
    .await;
    let published = |base: String| {
        let client = client.clone();
        async move {
            let text = client
                .get(format!("{base}/metrics"))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text");
            text.lines()
                .find_map(|l| l.strip_prefix("ledger_relay_published_total "))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        }
    };
    let counts = [
        published(bases[0].clone()).await,
        published(bases[1].clone()).await,
    ];
    let leader = usize::from(counts[1] > counts[0]);
    assert_eq!(
        counts[1 - leader],
        0.0,
        "one instance relays at a time: {counts:?}"
    );
    let mut dead = children[leader].take().expect("leader");
    dead.kill().expect("kill -9");
    let _ = dead.wait();
    let survivor = &bases[1 - leader];
    write(&client, survivor, "t.2", 10, 100).await;
    let feed = feed(&client, survivor, CRASH_ADMIN).await;
    wait_relayed(
        &client,
        survivor,
        CRASH_ADMIN,
        feed.last().expect("events").0,
        &logs,
    )
    .await;
    assert!(
        published(survivor.clone()).await > 0.0,
        "the survivor took over"
    );
    assert_exactly_the_feed(
        &feed,
        &stored(&url, &nats.stream).await,
        &nats.subject_prefix,
    );
    for c in children.iter_mut().flatten() {
        let _ = c.kill();
        let _ = c.wait();
    }
    for log in &logs {
        let _ = std::fs::remove_file(log);
    }
    delete_stream(&url, &nats.stream).await;
}
