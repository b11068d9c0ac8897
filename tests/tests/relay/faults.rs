//! The relay through faults: NATS killed and restarted, the relaying service killed
//! with -9, and a second instance taking over.

use super::*;

/// NATS killed mid-run and restarted: commands keep succeeding, the relay reports the
/// trouble and then catches up; nothing lost, re-sent events dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_killed_and_restarted_mid_run_loses_nothing() {
    let mut server = PrivateNats::start().await;
    let nats = relay_to(&server.url());
    let app = relaying_app(&nats).await;
    let client = reqwest::Client::new();
    write(&client, &app.base, "n.1", 10, 100).await;
    let writer = {
        let (client, base) = (client.clone(), app.base.clone());
        tokio::spawn(async move { write(&client, &base, "n.2", 30, 50).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    // While NATS is down commands succeed and the relay says what is wrong: that it
    // is not connected (a refused connection read "jetstream request timed out").
    write(&client, &app.base, "n.3", 5, 20).await;
    let said = |row: &Value| {
        row["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("not connected to NATS"))
    };
    let mut reported = Value::Null;
    for _ in 0..300 {
        reported = relay_row(&client, &app.base, ADMIN)
            .await
            .unwrap_or_default();
        if said(&reported) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(said(&reported), "the outage shows: {reported}");
    server.restart().await;
    writer.await.expect("writer");
    // Each account's opening and its deposits: 1 + 1,000 and 1 + 1,500.
    let feed = feed_of(&client, &app.base, ADMIN, 2 + 1_000 + 1_500).await;
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
    let feed = feed_of(&client, &base, CRASH_ADMIN, 2 + 6_000 + 500).await;
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
    let feed1 = feed_of(&client, &bases[0], CRASH_ADMIN, 1 + 1_000).await;
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
    let feed = feed_of(&client, survivor, CRASH_ADMIN, 2 * (1 + 1_000)).await;
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
