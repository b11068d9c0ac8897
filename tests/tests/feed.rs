//! The live feed over Server-Sent Events, against the real application on both
//! backends: complete and in order under concurrent writers, resumable, one shared
//! reader for many subscribers, heartbeats and a graceful end (the refusals:
//! `feed_refusals.rs`).

use std::time::Duration;

use ledger_tests::sse::{Frame, SseReader};
use ledger_tests::{json, on_both_backends, Backend, TestApp};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

async fn open_account(app: &TestApp, id: &str) {
    let (s, _) = json(
        app.post(
            "/accounts",
            json!({"account_id": id, "owner": "Feed", "currency": "USD"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201);
}

/// Every event of the store, from `/events`, as (cursor, event id).
async fn stored_feed(app: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut after = "0-0".to_owned();
    loop {
        let (s, page) = json(
            app.admin_get(&format!("/events?after={after}&limit=1000"))
                .await,
        )
        .await;
        assert_eq!(s, 200);
        let events = page["events"].as_array().expect("events").clone();
        if events.is_empty() {
            return out;
        }
        // The cursor after each event is what `/events` pages by; the stream's ids are
        // the same cursors, so compare event ids in order and the last cursor.
        for e in &events {
            out.push((
                String::new(),
                e["event_id"].as_str().expect("id").to_owned(),
            ));
        }
        after = page["next"].as_str().expect("next").to_owned();
        out.last_mut().expect("one").0 = after.clone();
    }
}

/// 8 writers, one tailing subscriber that drops its connection halfway and resumes with
/// `Last-Event-ID`: every event once, in the feed's order.
async fn tail_with_writers_and_a_reconnect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = format!("{}/events/stream", app.base);
    let mut reader = SseReader::connect(&url, &[]).await;
    const WRITERS: usize = 8;
    const DEPOSITS: usize = 25;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let base = app.base.clone();
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let id = format!("w{w}");
            let r = client
                .post(format!("{base}/accounts"))
                .json(&json!({"account_id": id, "owner": "Writer", "currency": "USD"}))
                .send()
                .await
                .expect("open");
            assert_eq!(r.status().as_u16(), 201);
            for _ in 0..DEPOSITS {
                let r = client
                    .post(format!("{base}/accounts/{id}/deposit"))
                    .json(&json!({"amount": "1.25"}))
                    .send()
                    .await
                    .expect("deposit");
                assert_eq!(r.status().as_u16(), 200);
            }
        }));
    }
    let total = WRITERS * (1 + DEPOSITS);
    let mut seen: Vec<(String, String)> = Vec::new();
    while seen.len() < total {
        let (id, event, data) = reader
            .next_event(WAIT)
            .await
            .unwrap_or_else(|| panic!("the stream stalled after {} events", seen.len()));
        let body: Value = serde_json::from_str(&data).expect("event JSON");
        assert_eq!(body["event_type"], event, "event: names the event's type");
        seen.push((
            id.clone(),
            body["event_id"].as_str().expect("id").to_owned(),
        ));
        if seen.len() == total / 2 {
            // A reconnect mid-run resumes after the last id it got.
            drop(reader);
            reader = SseReader::connect(&url, &[("last-event-id", &id)]).await;
        }
    }
    for w in writers {
        w.await.expect("writer");
    }
    let stored = stored_feed(&app).await;
    let stored_ids: Vec<&String> = stored.iter().map(|(_, id)| id).collect();
    let seen_ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
    assert_eq!(
        seen_ids, stored_ids,
        "the stream is the feed: nothing missed, repeated or reordered"
    );
    assert_eq!(
        seen.last().map(|s| &s.0),
        stored.last().map(|s| &s.0),
        "ids are feed cursors"
    );
    // Nothing more arrives.
    assert!(matches!(
        reader.next(Duration::from_millis(300)).await,
        None | Some(Frame::Comment(_))
    ));
}

/// 200 subscribers see the same sequence, and the store is read once per wake for all
/// of them, not once per subscriber.
async fn many_subscribers_share_one_reader(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open_account(&app, "many").await;
    const SUBSCRIBERS: usize = 200;
    const DEPOSITS: usize = 20;
    let url = format!("{}/events/stream", app.base);
    let mut readers = Vec::new();
    for _ in 0..SUBSCRIBERS {
        readers.push(SseReader::connect(&url, &[]).await);
    }
    // Everyone has caught up (the opening event) and is live.
    for r in &mut readers {
        let (_, event, _) = r.next_event(WAIT).await.expect("the opening event");
        assert_eq!(event, "AccountOpened");
    }
    let reads_before = feed_reads(&app).await;
    for _ in 0..DEPOSITS {
        let (s, _) = json(
            app.post("/accounts/many/deposit", json!({"amount": 1}))
                .await,
        )
        .await;
        assert_eq!(s, 200);
    }
    let mut sequences = Vec::new();
    for mut r in readers {
        let mut ids = Vec::new();
        for _ in 0..DEPOSITS {
            ids.push(r.next_event(WAIT).await.expect("a deposit").0);
        }
        sequences.push(ids);
    }
    assert!(
        sequences.windows(2).all(|w| w[0] == w[1]),
        "one sequence for all"
    );
    let reads = feed_reads(&app).await - reads_before;
    assert!(
        reads < SUBSCRIBERS as u64,
        "{reads} feed reads for {SUBSCRIBERS} subscribers and {DEPOSITS} commits: one reader must serve them all"
    );
}

async fn feed_reads(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .find_map(|l| l.strip_prefix("ledger_sse_feed_reads_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("ledger_sse_feed_reads_total") as u64
}

/// One account's stream: its events with their versions as ids, from a version, then
/// live; a reconnect resumes after `Last-Event-ID`.
async fn account_stream_resumes_by_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open_account(&app, "acc.1").await;
    open_account(&app, "other").await;
    for _ in 0..3 {
        app.post("/accounts/acc.1/deposit", json!({"amount": 2}))
            .await;
        app.post("/accounts/other/deposit", json!({"amount": 2}))
            .await;
    }
    let url = format!("{}/accounts/acc.1/events/stream?after_version=1", app.base);
    let mut r = SseReader::connect(&url, &[]).await;
    for v in 2..=4 {
        let (id, event, data) = r.next_event(WAIT).await.expect("history");
        assert_eq!(id, v.to_string());
        assert_eq!(event, "MoneyDeposited");
        let body: Value = serde_json::from_str(&data).expect("json");
        assert_eq!(body["stream_id"], "acc.1");
    }
    app.post("/accounts/other/deposit", json!({"amount": 2}))
        .await;
    app.post("/accounts/acc.1/withdraw", json!({"amount": 1}))
        .await;
    let (id, event, _) = r.next_event(WAIT).await.expect("live");
    assert_eq!((id.as_str(), event.as_str()), ("5", "MoneyWithdrawn"));
    drop(r);
    app.post("/accounts/acc.1/deposit", json!({"amount": 1}))
        .await;
    let mut again = SseReader::connect(&url, &[("last-event-id", "5")]).await;
    let (id, _, _) = again.next_event(WAIT).await.expect("resumed");
    assert_eq!(id, "6", "Last-Event-ID wins over after_version");
}

/// Filters by stream and type deliver only matching events, with feed cursors as ids.
async fn filters_select_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open_account(&app, "f1").await;
    open_account(&app, "f2").await;
    app.post("/accounts/f1/deposit", json!({"amount": 3})).await;
    app.post("/accounts/f2/deposit", json!({"amount": 4})).await;
    app.post("/accounts/f2/withdraw", json!({"amount": 1}))
        .await;
    let url = format!(
        "{}/events/stream?stream_id=f2&event_type=MoneyDeposited",
        app.base
    );
    let mut r = SseReader::connect(&url, &[]).await;
    let (id, event, data) = r.next_event(WAIT).await.expect("the one match");
    assert_eq!(event, "MoneyDeposited");
    assert!(id.contains('-'), "a feed cursor: {id}");
    assert_eq!(
        serde_json::from_str::<Value>(&data).expect("json")["stream_id"],
        "f2"
    );
    assert!(matches!(
        r.next(Duration::from_millis(500)).await,
        None | Some(Frame::Comment(_))
    ));
}

/// An idle stream gets heartbeats; a shutdown ends it with a closing comment.
async fn heartbeats_and_a_graceful_end(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let mut r = SseReader::connect(&format!("{}/events/stream", app.base), &[]).await;
    match r.next(Duration::from_secs(14)).await {
        Some(Frame::Comment(c)) => assert_eq!(c, "heartbeat"),
        other => panic!("expected a heartbeat, got {other:?}"),
    }
    app.stop();
    let mut last = None;
    while let Some(f) = r.next(Duration::from_secs(10)).await {
        last = Some(f);
    }
    match last {
        Some(Frame::Comment(c)) => assert!(c.contains("shutting down"), "{c}"),
        other => panic!("expected a closing comment, got {other:?}"),
    }
}

/// `GET /events?after=end`: the place a consumer that starts polling now polls from.
/// What commits after it comes on the next page. (On PostgreSQL the end is the feed's
/// safe end, so an event committed just before may come first: allowed, not required.)
async fn polling_from_the_end_sees_what_follows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open_account(&app, "poll").await;
    let deposit = |amount: &str| json!({"amount": amount});
    let (s, _) = json(app.post("/accounts/poll/deposit", deposit("1.00")).await).await;
    assert_eq!(s, 200);
    let (s, end) = json(app.admin_get("/events?after=end").await).await;
    assert_eq!(s, 200, "{end}");
    let next = end["next"].as_str().expect("next").to_owned();
    let (s, _) = json(app.post("/accounts/poll/deposit", deposit("2.00")).await).await;
    assert_eq!(s, 200);
    // PostgreSQL shows a commit once every older transaction on the server has ended
    // (other tests' included): read on from the cursor, as a consumer polls, until the
    // second deposit is there.
    let mut amounts = Vec::new();
    let mut after = next;
    while !amounts.contains(&"2.00".to_owned()) {
        let page = app
            .admin_eventually(&format!("/events?after={after}"), |p| {
                p["events"].as_array().is_some_and(|e| !e.is_empty())
            })
            .await;
        let events = page["events"].as_array().expect("events");
        amounts.extend(
            events
                .iter()
                .filter_map(|e| e["data"]["amount"].as_str().map(str::to_owned)),
        );
        after = page["next"].as_str().expect("next").to_owned();
    }
    assert!(
        amounts == ["2.00"] || amounts == ["1.00", "2.00"],
        "{amounts:?}"
    );
    let (s, bad) = json(app.admin_get("/events?after=start").await).await;
    assert_eq!(s, 422, "{bad}");
}

/// On SQLite every cursor given is `<n>-<n>`; one whose halves differ (never given) is
/// placed by the cursors' order, as the live stream places it: the page read only its
/// second half, and answered the whole feed for `99-0`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_never_given_is_placed_as_the_stream_places_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    open_account(&app, "c").await;
    for _ in 0..3 {
        let (s, _) = json(
            app.post("/accounts/c/deposit", json!({"amount": "1"}))
                .await,
        )
        .await;
        assert_eq!(s, 200);
    }
    let positions = |page: &Value| -> Vec<u64> {
        let events = page["events"].as_array().cloned().unwrap_or_default();
        events
            .iter()
            .filter_map(|e| e["position"].as_u64())
            .collect()
    };
    for (after, want) in [("99-0", vec![]), ("3-0", vec![3, 4]), ("3-3", vec![4])] {
        let (s, page) = json(app.admin_get(&format!("/events?after={after}")).await).await;
        assert_eq!((s, positions(&page)), (200, want), "{after}: {page}");
    }
}

on_both_backends!(
    polling_from_the_end_sees_what_follows,
    tail_with_writers_and_a_reconnect,
    many_subscribers_share_one_reader,
    account_stream_resumes_by_version,
    filters_select_events,
    heartbeats_and_a_graceful_end,
);
