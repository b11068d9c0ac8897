//! The live feeds' refusals, on both backends: no or a wrong token, unreadable or
//! doubled cursors and `Last-Event-ID`s, misspelt or repeated parameters, accounts that do not
//! exist, doubled `Authorization` headers; the admin reads the feed too. Past
//! `server.max_live_streams` a stream waits for another to end, and past
//! `server.max_live_streams_per_key` for another of its caller's.

use std::time::Duration;

use reqwest::Method;

use ledger_tests::sse::{open, SseReader};
use ledger_tests::{json, on_both_backends, Backend, Options, TestApp, ADMIN};
use serde_json::{json as body, Value};

async fn refusals(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options {
            api_tokens: vec!["reader-token".into()],
            ..Options::default()
        },
    )
    .await;
    let auth = [("authorization", "Bearer reader-token")];
    let status = |path: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let url = format!("{}{path}", app.base);
        async move {
            let r = open(&url, &headers).await;
            let s = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (s, body["code"].as_str().unwrap_or_default().to_owned())
        }
    };
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("/events/stream", vec![], 401, "unauthorized"),
        (
            "/events/stream",
            vec![("authorization", "Bearer wrong")],
            401,
            "unauthorized",
        ),
        (
            "/events/stream?after=bogus",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/events/stream?event_type=Nope",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        // A parameter takes one value: "A or B" must not deliver B alone.
        (
            "/events/stream?event_type=AccountOpened&event_type=MoneyDeposited",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/events?after=1-1&after=5-5",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/audit?event_type=AccountOpened&event_type=MoneyDeposited",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/audit?account_id=transfer%2Ft1",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/accounts?cursor=%FF%FF",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        ("/accounts?cursor=", auth.to_vec(), 422, "validation_failed"),
        (
            "/accounts?owner=%20%20",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/audit?request_id=",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/transfers?account_id=a%2Fb",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/events/stream?stram_id=x",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/events/stream",
            vec![auth[0], ("last-event-id", "1-x")],
            422,
            "validation_failed",
        ),
        (
            "/events/stream?after=1-1",
            vec![auth[0], ("last-event-id", "end")],
            422,
            "validation_failed",
        ),
        (
            "/events/stream",
            vec![auth[0], ("last-event-id", "1-1"), ("last-event-id", "1-2")],
            422,
            "validation_failed",
        ),
        (
            "/events/stream",
            vec![auth[0], ("authorization", "Bearer reader-token")],
            401,
            "unauthorized",
        ),
        (
            "/accounts/nobody/events/stream",
            auth.to_vec(),
            404,
            "account_not_found",
        ),
        (
            "/accounts/a%20b/events/stream",
            auth.to_vec(),
            404,
            "account_not_found",
        ),
        (
            "/accounts/nobody/events/stream?after_version=-1",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
    ];
    for (path, headers, want, code) in cases {
        assert_eq!(
            status(path, headers.clone()).await,
            (want, code.to_owned()),
            "{path} {headers:?}"
        );
    }
    let r = open(
        &format!("{}/events/stream", app.base),
        &[("authorization", &format!("Bearer {ADMIN}"))],
    )
    .await;
    assert_eq!(r.status().as_u16(), 200, "the admin reads the feed too");
    // `stream_id` is 1-200 characters, as the contract's `maxLength` counts (200 of
    // three bytes each were refused as over 200 bytes).
    let euro = "%E2%82%AC";
    for (n, want) in [(200, 200), (201, 422)] {
        let path = format!("{}/events/stream?stream_id={}", app.base, euro.repeat(n));
        let r = open(&path, &[("authorization", &format!("Bearer {ADMIN}"))]).await;
        assert_eq!(r.status().as_u16(), want, "{n} characters");
    }
}

on_both_backends!(refusals);

/// Past `server.max_live_streams` a live stream (either route) is answered 503 with
/// `Retry-After`, other requests are served, and once a stream ends another opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_past_the_limit_wait_for_one_to_end() {
    let options = Options {
        max_live_streams: 2,
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    let account = body!({"account_id": "a", "owner": "Ada", "currency": "USD"});
    assert_eq!(json(app.post("/accounts", account).await).await.0, 201);
    let feed = format!("{}/events/stream", app.base);
    let account_feed = format!("{}/accounts/a/events/stream", app.base);
    let mut first = SseReader::connect(&feed, &[]).await;
    let _second = SseReader::connect(&account_feed, &[]).await;
    for url in [&feed, &account_feed] {
        let r = open(url, &[]).await;
        assert_eq!(r.status().as_u16(), 503, "{url}");
        assert_eq!(r.headers()["retry-after"], "1");
        let refused: Value = r.json().await.expect("a problem");
        assert_eq!(refused["code"], "service_unavailable", "{refused}");
        let detail = refused["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("server.max_live_streams"), "{refused}");
        assert!(!detail.contains("  "), "one sentence: {refused}");
    }
    assert_eq!(json(app.get("/events").await).await.0, 200);
    let deposit = || app.post("/accounts/a/deposit", body!({"amount": "1"}));
    assert_eq!(json(deposit().await).await.0, 200);
    let opened = first.next_event(Duration::from_secs(10)).await;
    assert!(opened.is_some(), "the first stream still delivers");
    // Its client goes: the server finds out at its next write (an event here).
    drop(first);
    let mut third = None;
    for _ in 0..100 {
        assert_eq!(json(deposit().await).await.0, 200);
        let r = open(&feed, &[]).await;
        if r.status().as_u16() == 200 {
            third = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(third.is_some(), "a stream opens once one has ended");
}

/// Past `server.max_live_streams_per_key` a caller's next live stream is answered 429
/// with `Retry-After`, while another caller's opens and once one of its own ends,
/// another opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_share_of_live_streams_waits_for_one_of_its_own() {
    let options = Options {
        api_tokens: vec!["one-token".into(), "other-token".into()],
        max_live_streams_per_key: 2,
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    let (one, other) = (
        [("authorization", "Bearer one-token")],
        [("authorization", "Bearer other-token")],
    );
    let post = |path: &'static str, body: Value| app.send(Method::POST, path, Some(body), &one);
    let account = body!({"account_id": "a", "owner": "Ada", "currency": "USD"});
    assert_eq!(json(post("/accounts", account).await).await.0, 201);
    let feed = format!("{}/events/stream", app.base);
    let account_feed = format!("{}/accounts/a/events/stream", app.base);
    let mut first = SseReader::connect(&feed, &one).await;
    let _second = SseReader::connect(&account_feed, &one).await;
    for url in [&feed, &account_feed] {
        let r = open(url, &one).await;
        assert_eq!(r.status().as_u16(), 429, "{url}");
        assert_eq!(r.headers()["retry-after"], "1");
        let refused: Value = r.json().await.expect("a problem");
        assert_eq!(refused["code"], "rate_limited", "{refused}");
        let detail = refused["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("server.max_live_streams_per_key"),
            "{refused}"
        );
        assert!(!detail.contains("  "), "one sentence: {refused}");
    }
    let others = open(&feed, &other).await;
    assert_eq!(
        others.status().as_u16(),
        200,
        "another caller is not held back"
    );
    let deposit = || post("/accounts/a/deposit", body!({"amount": "1"}));
    assert_eq!(json(deposit().await).await.0, 200);
    assert!(first.next_event(Duration::from_secs(10)).await.is_some());
    // Its client goes: the server finds out at its next write (an event here).
    drop(first);
    let mut again = None;
    for _ in 0..100 {
        assert_eq!(json(deposit().await).await.0, 200);
        let r = open(&feed, &one).await;
        if r.status().as_u16() == 200 {
            again = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        again.is_some(),
        "the key opens a stream once one of its own has ended"
    );
}
