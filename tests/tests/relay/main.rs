//! The NATS JetStream relay against the real application, PostgreSQL and NATS: every
//! event on JetStream exactly once in feed order, through NATS restarts, a kill -9 of
//! the relaying service, and a second instance taking over (`faults.rs`: the last three);
//! a lost stream refilled by `ledger relay rewind` (`rewind.rs`); a stream of a
//! history the ledger lacks left alone (`restored.rs`); a server that needs a login
//! (`secured.rs`).

mod faults;
mod restored;
mod rewind;
mod secured;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ledger_postgres::testing::TestDatabase;
use ledger_tests::feed_read::feed_until;
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

/// The feed once it shows `n` events (event ids in feed order, with their positions).
async fn feed_of(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    n: usize,
) -> Vec<(u64, String)> {
    let events = feed_until(client, base, admin, |events| events.len() >= n).await;
    assert!(
        events.len() >= n,
        "the feed shows {} events, not {n}",
        events.len()
    );
    events
        .iter()
        .map(|e| {
            let pos = e["position"].as_u64().expect("position");
            (pos, e["event_id"].as_str().expect("id").to_owned())
        })
        .collect()
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

/// The application in process on PostgreSQL + Redis, relaying to `nats`.
async fn relaying_app(nats: &ledger_bootstrap::settings::Nats) -> TestApp {
    TestApp::spawn_with(
        Backend::PostgresRedis,
        Options {
            relay: Some(nats.clone()),
            ..Options::default()
        },
    )
    .await
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
    let app = relaying_app(&nats).await;
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
    let feed = feed_of(&client, &app.base, ADMIN, 4 * (1 + 2_500)).await;
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
