//! Issue 20: API keys' life (made, used, listed, revoked on every instance), owner
//! scopes on lists and in events, rate limits, and secrets kept out of every answer
//! but the creating one (the logs: `access_scope.rs`).

use std::time::Duration;

use ledger_tests::{json, Backend, Options, TestApp, ADMIN};
use reqwest::{Method, Response};
use serde_json::{json, Value};

ledger_tests::on_both_backends!(
    a_revoked_key_is_refused_by_a_second_instance_within_two_seconds,
    an_owner_key_lists_and_reads_only_its_own,
    a_burst_past_the_rate_gets_429_and_other_keys_do_not,
    bad_key_requests_are_refused_clearly,
);

async fn send(app: &TestApp, m: Method, path: &str, body: Option<Value>, token: &str) -> Response {
    let auth = format!("Bearer {token}");
    app.send(m, path, body, &[("authorization", &auth)]).await
}

async fn revoke(app: &TestApp, key_id: &str) -> u16 {
    let path = format!("/admin/api-keys/{key_id}");
    send(app, Method::DELETE, &path, None, ADMIN)
        .await
        .status()
        .as_u16()
}

async fn make_key(app: &TestApp, body: Value) -> (String, String) {
    let (s, b) = json(send(app, Method::POST, "/admin/api-keys", Some(body), ADMIN).await).await;
    assert_eq!(s, 201, "{b}");
    (
        b["key_id"].as_str().unwrap().into(),
        b["secret"].as_str().unwrap().into(),
    )
}

async fn a_revoked_key_is_refused_by_a_second_instance_within_two_seconds(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.spawn_beside().await;
    let (id, secret) = make_key(&a, json!({"name": "mobile", "role": "reader"})).await;
    // B has never seen the key: it finds it in the store, and keeps it in its cache.
    for app in [&a, &b, &b] {
        assert_eq!(
            send(app, Method::GET, "/accounts", None, &secret)
                .await
                .status(),
            200
        );
    }
    assert_eq!(revoke(&a, &id).await, 204);
    assert_eq!(
        send(&a, Method::GET, "/accounts", None, &secret)
            .await
            .status(),
        401
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (s, body) = json(send(&b, Method::GET, "/accounts", None, &secret).await).await;
    assert_eq!(
        (s, body["code"].clone()),
        (401, json!("unauthorized")),
        "{body}"
    );
    assert_eq!(revoke(&a, &id).await, 404, "a key is revoked once");
    // Revoking every key never opens the API again.
    assert_eq!(a.get("/accounts").await.status(), 401);
}

async fn call(
    app: &TestApp,
    m: Method,
    path: &str,
    body: Option<Value>,
    token: &str,
) -> (u16, Value) {
    json(send(app, m, path, body, token).await).await
}

async fn an_owner_key_lists_and_reads_only_its_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = json!({"name": "alice app", "role": "owner", "owner": "alice"});
    let (alice_id, alice) = make_key(&app, owner).await;
    let post = |path: &'static str, body: Value, token: String| {
        let app = &app;
        async move { call(app, Method::POST, path, Some(body), &token).await }
    };
    let get = |path: &'static str| {
        let (app, token) = (&app, alice.clone());
        async move { call(app, Method::GET, path, None, &token).await }
    };
    let (a, admin) = (alice.clone(), ADMIN.to_owned());
    let bob = json!({"account_id": "bob-1", "owner": "bob", "currency": "EUR"});
    assert_eq!(post("/accounts", bob, admin.clone()).await.0, 201);
    let mine = json!({"account_id": "al-1", "owner": "alice", "currency": "EUR"});
    assert_eq!(post("/accounts", mine, a.clone()).await.0, 201);
    let (s, b) = post(
        "/accounts",
        json!({"owner": "bob", "currency": "EUR"}),
        a.clone(),
    )
    .await;
    assert_eq!((s, b["code"].clone()), (403, json!("forbidden")), "{b}");
    assert_eq!(
        post("/accounts/al-1/deposit", json!({"amount": "10"}), a.clone())
            .await
            .0,
        200
    );
    let out = json!({"transfer_id": "to-bob", "from_account_id": "al-1",
                     "to_account_id": "bob-1", "amount": "1"});
    assert_eq!(post("/transfers", out, a.clone()).await.0, 201);
    assert_eq!(
        post("/accounts/bob-1/deposit", json!({"amount": "1"}), admin)
            .await
            .0,
        200
    );
    // An atomic batch touching another owner's account is refused whole, as not found.
    let batch = json!({"operations": [
        {"op": "deposit", "account_id": "al-1", "amount": "1"},
        {"op": "withdraw", "account_id": "bob-1", "amount": "1"}]});
    let (s, b) = post("/batches", batch, a.clone()).await;
    let refusal = (s, b["code"].clone(), b["operation"].clone());
    assert_eq!(refusal, (404, json!("account_not_found"), json!(1)), "{b}");

    assert_eq!(get("/accounts?owner=bob").await.1["accounts"], json!([]));
    for path in [
        "/accounts/bob-1",
        "/accounts/bob-1/events",
        "/accounts/bob-1/events/stream",
    ] {
        let (s, b) = get(path).await;
        assert_eq!(
            (s, b["code"].clone()),
            (404, json!("account_not_found")),
            "{path}: {b}"
        );
    }
    // The lists are eventually consistent: they settle on alice's own, and never show
    // anything else on the way.
    let mut settled = false;
    for _ in 0..200 {
        let (accounts, audit, transfers) = (
            get("/accounts").await.1,
            get("/audit").await.1,
            get("/transfers").await.1,
        );
        let ids = |v: &Value, list: &str, field: &str| -> Vec<String> {
            v[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e[field].as_str().unwrap().to_owned())
                .collect()
        };
        let (accounts, streams) = (
            ids(&accounts, "accounts", "account_id"),
            ids(&audit, "entries", "stream_id"),
        );
        assert!(
            accounts.iter().chain(&streams).all(|s| s == "al-1"),
            "{accounts:?} {streams:?}"
        );
        if accounts.len() == 1
            && streams.len() == 3
            && ids(&transfers, "transfers", "transfer_id") == ["to-bob"]
        {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        settled,
        "alice's lists show her account, its 3 events and her transfer"
    );
    assert_eq!(get("/transfers/to-bob").await.0, 200);
    // Every event alice's key caused names the key, never its secret.
    let (_, events) = call(&app, Method::GET, "/accounts/al-1/events", None, ADMIN).await;
    for e in events["events"].as_array().unwrap() {
        assert_eq!(
            e["metadata"]["actor"],
            json!(format!("key:{alice_id}")),
            "{e}"
        );
        assert!(!e.to_string().contains(&alice));
    }
    let (_, keys) = call(&app, Method::GET, "/admin/api-keys", None, ADMIN).await;
    assert!(
        !keys.to_string().contains("ledger_sk_"),
        "no secret in the list: {keys}"
    );
    assert!(
        keys["keys"][0]["last_used_at"].is_string(),
        "its use is recorded: {keys}"
    );
}

async fn a_burst_past_the_rate_gets_429_and_other_keys_do_not(backend: Backend) {
    let options = Options {
        rate_limit_per_second: 2,
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let (_, first) = make_key(&app, json!({"name": "busy", "role": "reader"})).await;
    let (_, second) = make_key(&app, json!({"name": "calm", "role": "reader"})).await;
    let mut limited = None;
    // Burst 4, 2 a second: 12 requests cannot all pass unless they take 4 seconds.
    for _ in 0..12 {
        let r = send(&app, Method::GET, "/accounts", None, &first).await;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a burst past the rate is refused");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let (_, b) = json(r).await;
    assert_eq!(b["code"], json!("rate_limited"));
    assert_eq!(
        send(&app, Method::GET, "/accounts", None, &second)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get("/health").await.status(),
        200,
        "open paths are never limited"
    );
}

async fn bad_key_requests_are_refused_clearly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        json!({"role": "reader"}),
        json!({"name": "", "role": "reader"}),
        json!({"name": "x", "role": "admin"}),
        json!({"name": "x", "role": "owner"}),
        json!({"name": "x", "role": "reader", "owner": "alice"}),
        json!({"name": "x\u{7}", "role": "reader"}),
    ];
    for body in cases {
        let (s, b) = json(
            send(
                &app,
                Method::POST,
                "/admin/api-keys",
                Some(body.clone()),
                ADMIN,
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, b["code"].clone()),
            (422, json!("validation_failed")),
            "{body}: {b}"
        );
    }
    let (s, _) = json(
        send(
            &app,
            Method::POST,
            "/admin/api-keys",
            Some(json!({"name": 5})),
            ADMIN,
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
    for id in ["nope", "0123456789abcdef0123456789abcdef"] {
        assert_eq!(revoke(&app, id).await, 404);
    }
    assert_eq!(
        app.get("/accounts").await.status(),
        200,
        "no key made: still open"
    );
}
