//! Issue 20, an owner key at the edges of its scope: what a transfer's answer shows of
//! the other side, who may post or void, what an `If-Match` or an idempotency key
//! could reveal, a live stream whose key is revoked; and secrets kept out of the log.

use std::process::Command;
use std::time::Duration;

use ledger_tests::process::{free_port, serve_on_sqlite, wait_up};
use ledger_tests::sse::{Frame, SseReader};
use ledger_tests::{json, Backend, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

ledger_tests::on_both_backends!(
    an_owner_key_sees_nothing_of_the_other_side,
    a_live_stream_ends_when_its_key_is_revoked,
    a_quiet_live_stream_ends_when_its_key_is_revoked,
    an_owner_key_settles_where_its_account_was_cached_as_absent,
);

async fn call(
    app: &TestApp,
    path: &str,
    body: Option<Value>,
    token: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    let method = if body.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    json(app.send(method, path, body, &headers).await).await
}

async fn setup(app: &TestApp) -> (String, String) {
    let key = json!({"name": "alice app", "role": "owner", "owner": "alice"});
    let (s, made) = call(app, "/admin/api-keys", Some(key), ADMIN, &[]).await;
    assert_eq!(s, 201, "{made}");
    for (id, owner) in [("al-1", "alice"), ("bob-1", "bob")] {
        let body = json!({"account_id": id, "owner": owner, "currency": "EUR"});
        assert_eq!(call(app, "/accounts", Some(body), ADMIN, &[]).await.0, 201);
        let path = format!("/accounts/{id}/deposit");
        assert_eq!(
            call(app, &path, Some(json!({"amount": "100"})), ADMIN, &[])
                .await
                .0,
            200
        );
    }
    let secret = made["secret"].as_str().unwrap().to_owned();
    (made["key_id"].as_str().unwrap().to_owned(), secret)
}

fn hold(id: &str, from: &str, to: &str) -> Value {
    json!({"transfer_id": id, "from_account_id": from, "to_account_id": to, "amount": "1", "pending": true})
}

async fn an_owner_key_sees_nothing_of_the_other_side(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, alice) = setup(&app).await;
    // Paying bob: the answer shows alice's account, and of bob's only its id.
    let (s, t) = call(
        &app,
        "/transfers",
        Some(hold("a-to-b", "al-1", "bob-1")),
        &alice,
        &[],
    )
    .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["from"]["balance"], json!("100.00"), "{t}");
    assert_eq!(t["to"], json!({"account_id": "bob-1"}), "{t}");
    // Bob's hold on a payment to alice: she may void it (it only releases bob's money),
    // never post it (that moves bob's money); to her it does not exist for posting.
    for id in ["b-to-a-1", "b-to-a-2"] {
        assert_eq!(
            call(
                &app,
                "/transfers",
                Some(hold(id, "bob-1", "al-1")),
                ADMIN,
                &[]
            )
            .await
            .0,
            201
        );
    }
    // Posting bob's hold, then one that does not exist, under one idempotency key:
    // both 404, so nothing was stored under the key the first time (the second would
    // otherwise be 422 idempotency_key_reused).
    let idem = [("idempotency-key", "k-1")];
    for path in ["/transfers/b-to-a-1/post", "/transfers/no-such/post"] {
        let (s, b) = call(&app, path, Some(json!({})), &alice, &idem).await;
        let refusal = (s, b["code"].clone());
        assert_eq!(refusal, (404, json!("transfer_not_found")), "{path}: {b}");
    }
    let (s, v) = call(
        &app,
        "/transfers/b-to-a-2/void",
        Some(json!({})),
        &alice,
        &[],
    )
    .await;
    assert_eq!((s, v["status"].clone()), (200, json!("voided")), "{v}");
    assert_eq!(v["from"], json!({"account_id": "bob-1"}), "{v}");
    let (s, _) = call(&app, "/transfers/b-to-a-2", None, &alice, &[]).await;
    assert_eq!(s, 200, "a transfer touching her account is hers to read");
    // Opening bob's id, even with a precondition, says only that the id is taken.
    let open = json!({"account_id": "bob-1", "owner": "alice", "currency": "EUR"});
    let (s, b) = call(
        &app,
        "/accounts",
        Some(open),
        &alice,
        &[("if-match", "\"2\"")],
    )
    .await;
    assert_eq!(
        (s, b["code"].clone()),
        (409, json!("account_exists")),
        "{b}"
    );
    // In an atomic batch, opening for another owner is that operation's refusal.
    let batch = json!({"operations": [
        {"op": "deposit", "account_id": "al-1", "amount": "1"},
        {"op": "open_account", "owner": "bob", "currency": "EUR"}]});
    let (s, b) = call(&app, "/batches", Some(batch), &alice, &[]).await;
    assert_eq!(
        (s, b["code"].clone(), b["operation"].clone()),
        (403, json!("forbidden"), json!(1)),
        "{b}"
    );
    // Bob's account is where it was, but for the two holds (one voided).
    let (_, bob) = call(&app, "/accounts/bob-1", None, ADMIN, &[]).await;
    assert_eq!(
        (bob["balance"].clone(), bob["available"].clone()),
        (json!("100.00"), json!("99.00")),
        "{bob}"
    );
}

/// An instance that cached "no such account" before the account was opened on another
/// instance still lets the account's owner key post a transfer from it.
async fn an_owner_key_settles_where_its_account_was_cached_as_absent(backend: Backend) {
    let here = TestApp::spawn(backend).await;
    let there = here.spawn_beside().await;
    let (_, alice) = setup(&here).await;
    let deposit = json!({"amount": "10"});
    let (s, _) = call(
        &here,
        "/accounts/al-9/deposit",
        Some(deposit.clone()),
        ADMIN,
        &[],
    )
    .await;
    assert_eq!(s, 404);
    let body = json!({"account_id": "al-9", "owner": "alice", "currency": "EUR"});
    assert_eq!(
        call(&there, "/accounts", Some(body), ADMIN, &[]).await.0,
        201
    );
    let (s, _) = call(&there, "/accounts/al-9/deposit", Some(deposit), ADMIN, &[]).await;
    assert_eq!(s, 200);
    let (s, t) = call(
        &there,
        "/transfers",
        Some(hold("h-9", "al-9", "bob-1")),
        ADMIN,
        &[],
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let (s, t) = call(&here, "/transfers/h-9/post", Some(json!({})), &alice, &[]).await;
    assert_eq!((s, &t["status"]), (200, &json!("posted")), "{t}");
}

async fn a_live_stream_ends_when_its_key_is_revoked(backend: Backend) {
    revoked_while_streaming(backend, true).await;
}

/// No event follows the revocation: the stream still ends (it once stayed open, its
/// place among the instance's live streams held, until the account's next event).
async fn a_quiet_live_stream_ends_when_its_key_is_revoked(backend: Backend) {
    revoked_while_streaming(backend, false).await;
}

async fn revoked_while_streaming(backend: Backend, event_after: bool) {
    let app = TestApp::spawn(backend).await;
    let (key_id, alice) = setup(&app).await;
    let auth = format!("Bearer {alice}");
    let url = format!("{}/accounts/al-1/events/stream", app.base);
    let mut stream = SseReader::connect(&url, &[("authorization", &auth)]).await;
    let wait = Duration::from_secs(10);
    for _ in 0..2 {
        assert!(stream.next_event(wait).await.is_some(), "opened, deposited");
    }
    let gone = app
        .send(
            Method::DELETE,
            &format!("/admin/api-keys/{key_id}"),
            None,
            &[("authorization", &format!("Bearer {ADMIN}"))],
        )
        .await;
    assert_eq!(gone.status(), 204);
    if event_after {
        let deposit = Some(json!({"amount": "1"}));
        let (status, _) = call(&app, "/accounts/al-1/deposit", deposit, ADMIN, &[]).await;
        assert_eq!(status, 200);
    }
    let mut frames = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < until {
        // Heartbeats come every 10 s: a stream that stays open is never silent this long.
        let Some(frame) = stream.next(Duration::from_secs(15)).await else {
            break;
        };
        frames.push(frame);
    }
    assert!(
        frames.iter().all(|f| !matches!(f, Frame::Event { .. })),
        "no event after the revocation: {frames:?}"
    );
    assert!(
        frames.contains(&Frame::Comment("closed: the key is revoked".into())),
        "{frames:?}"
    );
}

#[tokio::test]
async fn secrets_never_reach_the_debug_log() {
    let dir = std::env::temp_dir().join(format!("ledger-keys-{}", uuid::Uuid::new_v4()));
    let port = free_port();
    let env = [
        ("LEDGER__AUTH__ADMIN_TOKEN", "keys-admin"),
        ("LEDGER__LOG__LEVEL", "debug"),
    ];
    let child = serve_on_sqlite(&dir, port, &env);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_up(&client, &base).await;
    let made: Value = client
        .post(format!("{base}/admin/api-keys"))
        .bearer_auth("keys-admin")
        .json(&json!({"name": "logged?", "role": "owner", "owner": "o"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = made["secret"].as_str().unwrap().to_owned();
    let open = json!({"account_id": "k1", "owner": "o", "currency": "EUR"});
    for (path, body) in [
        ("/accounts", open),
        ("/accounts/nope/deposit", json!({"amount": "1"})),
    ] {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&secret)
            .json(&body)
            .send()
            .await
            .unwrap();
    }
    // The secret with its last digit changed (never to itself).
    let last = if secret.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &secret[..secret.len() - 1]);
    let r = client
        .get(format!("{base}/accounts"))
        .bearer_auth(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let pid = child.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = tokio::task::spawn_blocking(move || child.finish())
        .await
        .unwrap()
        .unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(logs.contains("answered"), "debug logs are captured: {logs}");
    for s in [
        secret.as_str(),
        wrong.as_str(),
        "keys-admin",
        &secret[10..40],
    ] {
        assert!(!logs.contains(s), "a secret reached the log");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
