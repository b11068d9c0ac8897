//! Issue 17: batches, atomic and not, over HTTP on PostgreSQL + Redis and on SQLite.

use std::sync::Arc;

use ledger_tests::{json, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

ledger_tests::on_both_backends!(
    an_atomic_batch_with_a_failing_fifth_operation_writes_nothing,
    a_batch_opens_accounts_and_uses_them,
    a_non_atomic_batch_answers_each_operation,
    malformed_and_oversized_batches_are_refused_whole,
    concurrent_atomic_batches_in_both_directions_keep_the_bank_invariant,
    one_idempotency_key_covers_the_whole_batch,
);

async fn batch(app: &TestApp, body: Value) -> (u16, Value) {
    json(app.post("/batches", body).await).await
}

async fn version(app: &TestApp, id: &str) -> Value {
    let (_, a) = json(app.get(&format!("/accounts/{id}?version=999999")).await).await;
    a["version"].clone()
}

async fn open_funded(app: &TestApp, ids: &[&str], amount: &str) {
    let mut ops = Vec::new();
    for id in ids {
        ops.push(json!({"op": "open_account", "account_id": id, "owner": "O", "currency": "USD"}));
        ops.push(json!({"op": "deposit", "account_id": id, "amount": amount}));
    }
    let (s, b) = batch(app, json!({"operations": ops})).await;
    assert_eq!(s, 200, "{b}");
}

async fn an_atomic_batch_with_a_failing_fifth_operation_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open_funded(&app, &["a", "b"], "10").await;
    let (va, vb) = (version(&app, "a").await, version(&app, "b").await);
    let (s, b) = batch(
        &app,
        json!({"operations": [
            {"op": "deposit", "account_id": "a", "amount": "1"},
            {"op": "transfer", "transfer_id": "x1", "from_account_id": "a", "to_account_id": "b", "amount": "5"},
            {"op": "withdraw", "account_id": "b", "amount": "2"},
            {"op": "transfer", "transfer_id": "x2", "from_account_id": "b", "to_account_id": "a", "amount": "1", "pending": true},
            {"op": "withdraw", "account_id": "a", "amount": "100"},
        ]}),
    )
    .await;
    assert_eq!(
        (s, &b["code"], &b["operation"]),
        (422, &json!("insufficient_funds"), &json!(4)),
        "{b}"
    );
    assert_eq!(
        (version(&app, "a").await, version(&app, "b").await),
        (va.clone(), vb)
    );
    // Operations are judged in order: the first refused one is named, even when a later
    // one has an invalid value.
    let (s, b) = batch(
        &app,
        json!({"operations": [
            {"op": "withdraw", "account_id": "a", "amount": "100"},
            {"op": "deposit", "account_id": "a", "amount": "abc"},
        ]}),
    )
    .await;
    assert_eq!(
        (s, &b["code"], &b["operation"]),
        (422, &json!("insufficient_funds"), &json!(0))
    );
    let (s, b) = batch(
        &app,
        json!({"operations": [
            {"op": "deposit", "account_id": "a", "amount": "1"},
            {"op": "deposit", "account_id": "a", "amount": "abc"},
        ]}),
    )
    .await;
    assert_eq!(
        (s, &b["code"], &b["operation"]),
        (422, &json!("invalid_amount"), &json!(1))
    );
    assert_eq!(version(&app, "a").await, va);
    let (s, _) = json(app.get("/transfers/x1").await).await;
    assert_eq!(s, 404, "nothing of the batch was written");
}

async fn a_batch_opens_accounts_and_uses_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (s, b) = batch(
        &app,
        json!({"atomic": true, "operations": [
            {"op": "open_account", "account_id": "n1", "owner": "N", "currency": "EUR"},
            {"op": "open_account", "account_id": "n2", "owner": "N", "currency": "EUR", "overdraft_limit": "5"},
            {"op": "deposit", "account_id": "n1", "amount": "20"},
            {"op": "transfer", "transfer_id": "p1", "from_account_id": "n1", "to_account_id": "n2", "amount": "8", "pending": true},
            {"op": "post_transfer", "transfer_id": "p1", "amount": "3"},
            {"op": "transfer", "from_account_id": "n2", "to_account_id": "n1", "amount": "7"},
            {"op": "void_transfer", "transfer_id": "p1"},
            {"op": "set_limits", "account_id": "n1", "overdraft_limit": "1"},
        ]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let results = b["results"].as_array().unwrap();
    let statuses: Vec<&Value> = results.iter().map(|r| &r["status"]).collect();
    assert_eq!(
        statuses,
        [201, 201, 200, 201, 200, 201, 200, 200]
            .map(|n| json!(n))
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(results[5]["body"]["from"]["balance"], json!("-4.00"));
    assert_eq!(results[6]["body"]["status"], json!("voided"));
    assert_eq!(results[7]["body"]["balance"], json!("24.00"));
    let n1 = app
        .eventually("/accounts/n1", |v| v["version"] == json!(7))
        .await;
    assert_eq!(
        (&n1["balance"], &n1["available"]),
        (&json!("24.00"), &json!("24.00"))
    );
    let (_, n2) = json(app.get("/accounts/n2?version=999").await).await;
    assert_eq!(
        (&n2["balance"], &n2["pending_in"]),
        (&json!("-4.00"), &json!("0.00"))
    );
    // The audit log sees each operation's events as it would one by one.
    let audit = app
        .eventually("/audit?account_id=n1", |v| {
            v["entries"].as_array().is_some_and(|e| e.len() == 7)
        })
        .await;
    assert_eq!(
        audit["entries"][0]["event_type"],
        json!("OverdraftLimitSet")
    );
}

async fn a_non_atomic_batch_answers_each_operation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open_funded(&app, &["a"], "10").await;
    let (s, b) = batch(
        &app,
        json!({"atomic": false, "operations": [
            {"op": "deposit", "account_id": "a", "amount": "1"},
            {"op": "withdraw", "account_id": "a", "amount": "100"},
            {"op": "deposit", "account_id": "nobody", "amount": "1"},
            {"op": "deposit", "account_id": "a", "amount": "0.001"},
            {"op": "open_account", "account_id": "c", "owner": "C", "currency": "USD"},
        ]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let r = b["results"].as_array().unwrap();
    assert_eq!(r[0]["status"], json!(200));
    assert_eq!(
        (&r[1]["status"], &r[1]["problem"]["code"]),
        (&json!(422), &json!("insufficient_funds"))
    );
    assert_eq!(
        (&r[2]["status"], &r[2]["problem"]["code"]),
        (&json!(404), &json!("account_not_found"))
    );
    assert_eq!(
        (&r[3]["status"], &r[3]["problem"]["code"]),
        (&json!(422), &json!("invalid_amount"))
    );
    assert_eq!(r[4]["status"], json!(201));
    assert_eq!(b["atomic"], json!(false));
}

async fn malformed_and_oversized_batches_are_refused_whole(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open_funded(&app, &["a"], "10").await;
    let v = version(&app, "a").await;
    let (s, b) = batch(
        &app,
        json!({"operations": [
            {"op": "deposit", "account_id": "a", "amount": "1"},
            {"op": "teleport", "account_id": "a"},
        ]}),
    )
    .await;
    assert_eq!(
        (s, &b["code"], &b["operation"]),
        (400, &json!("malformed_request"), &json!(1))
    );
    let (s, b) = batch(
        &app,
        json!({"atomic": false, "operations": [
            {"op": "deposit", "account_id": "a", "amount": "1"},
            {"op": "deposit", "amount": "1"},
        ]}),
    )
    .await;
    assert_eq!(
        (s, &b["code"], &b["operation"]),
        (400, &json!("malformed_request"), &json!(1))
    );
    let (s, b) = batch(
        &app,
        json!({"atomic": false, "operations": [
            {"op": "set_limits", "account_id": "a"},
        ]}),
    )
    .await;
    assert_eq!(
        (s, &b["code"], &b["operation"]),
        (400, &json!("malformed_request"), &json!(0))
    );
    let ops: Vec<Value> = (0..1001)
        .map(|_| json!({"op": "deposit", "account_id": "a", "amount": "1"}))
        .collect();
    let (s, b) = batch(&app, json!({"operations": ops})).await;
    assert_eq!((s, &b["code"]), (422, &json!("validation_failed")));
    let (s, b) = batch(&app, json!({"operations": []})).await;
    assert_eq!((s, &b["code"]), (422, &json!("validation_failed")));
    // Over 1 MiB: 413; but a batch over 64 KiB (the limit elsewhere) is fine.
    let big = "x".repeat(400);
    let ops: Vec<Value> = (0..1000)
        .map(|i| json!({"op": "deposit", "account_id": "a", "amount": "0.01", "description": format!("{i}{}", &big[..300])}))
        .collect();
    let (s, b) = batch(&app, json!({"atomic": false, "operations": ops})).await;
    assert_eq!(s, 200, "{b}");
    let huge = "y".repeat(2000);
    let ops: Vec<Value> = (0..1000)
        .map(|_| json!({"op": "deposit", "account_id": "a", "amount": "1", "description": huge}))
        .collect();
    let (s, b) = batch(&app, json!({"operations": ops})).await;
    assert_eq!((s, &b["code"]), (413, &json!("payload_too_large")));
    assert_eq!(version(&app, "a").await, json!(v.as_u64().unwrap() + 1000));
}

async fn concurrent_atomic_batches_in_both_directions_keep_the_bank_invariant(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let ids = ["a", "b", "c", "d"];
    open_funded(&app, &ids, "100").await;
    let mut tasks = Vec::new();
    for c in 0..8usize {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..10usize {
                let (x, y) = (ids[(c + i) % 4], ids[(c + i + 1) % 4]);
                let ops = json!([
                    {"op": "transfer", "from_account_id": x, "to_account_id": y, "amount": "3"},
                    {"op": "transfer", "from_account_id": y, "to_account_id": x, "amount": "2"},
                    {"op": "transfer", "from_account_id": x, "to_account_id": ids[(c + i + 2) % 4], "amount": "1", "pending": true},
                ]);
                let (s, b) = batch(&app, json!({"operations": ops})).await;
                assert!(s == 200 || s == 422 || s == 409, "{s} {b}");
                statuses.push(s);
            }
            statuses
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap().iter().filter(|s| **s == 200).count();
    }
    assert!(ok > 0);
    let mut total = 0i64;
    let mut pending = 0i64;
    for id in ids {
        let (_, a) = json(app.get(&format!("/accounts/{id}?version=999999")).await).await;
        let cents = |v: &Value| v.as_str().unwrap().replace('.', "").parse::<i64>().unwrap();
        total += cents(&a["balance"]);
        pending += cents(&a["pending_out"]);
        assert!(cents(&a["available"]) >= 0, "{a}");
    }
    assert_eq!(total, 40_000, "no money made or lost");
    assert_eq!(
        pending,
        100 * ok as i64,
        "each batch's pending leg holds 1.00"
    );
}

async fn one_idempotency_key_covers_the_whole_batch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open_funded(&app, &["a", "b"], "10").await;
    let body = json!({"operations": [
        {"op": "deposit", "account_id": "a", "amount": "1"},
        {"op": "transfer", "from_account_id": "a", "to_account_id": "b", "amount": "2"},
    ]});
    let send = |body: Value, key: &'static str| {
        let app = &app;
        async move {
            json(
                app.send(
                    Method::POST,
                    "/batches",
                    Some(body),
                    &[("idempotency-key", key)],
                )
                .await,
            )
            .await
        }
    };
    let (s1, first) = send(body.clone(), "batch-1").await;
    let (s2, again) = send(body.clone(), "batch-1").await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first, again, "the stored outcome is the whole answer");
    assert_eq!(version(&app, "a").await, json!(4));
    let (s, b) = send(
        json!({"operations": [{"op": "deposit", "account_id": "a", "amount": "9"}]}),
        "batch-1",
    )
    .await;
    assert_eq!((s, &b["code"]), (422, &json!("idempotency_key_reused")));
    let refused = json!({"operations": [{"op": "withdraw", "account_id": "a", "amount": "99"}]});
    let (s1, r1) = send(refused.clone(), "batch-2").await;
    let (s2, r2) = send(refused, "batch-2").await;
    assert_eq!((s1, s2), (422, 422));
    assert_eq!((&r1["operation"], &r2["operation"]), (&json!(0), &json!(0)));
    let nonatomic = json!({"atomic": false, "operations": [
        {"op": "deposit", "account_id": "b", "amount": "1"},
        {"op": "withdraw", "account_id": "b", "amount": "999"},
    ]});
    let (_, n1) = send(nonatomic.clone(), "batch-3").await;
    let (_, n2) = send(nonatomic, "batch-3").await;
    assert_eq!(n1["results"][0]["body"], n2["results"][0]["body"]);
    assert_eq!(version(&app, "b").await, json!(4));
    // The same key with another batch, non-atomic or atomic: refused whole, nothing runs.
    let other = json!({"atomic": false, "operations": [
        {"op": "deposit", "account_id": "b", "amount": "1"},
        {"op": "deposit", "account_id": "b", "amount": "1"},
    ]});
    let (s, b) = send(other, "batch-3").await;
    assert_eq!(
        (s, &b["code"]),
        (422, &json!("idempotency_key_reused")),
        "{b}"
    );
    let atomic = json!({"operations": [
        {"op": "deposit", "account_id": "b", "amount": "1"},
        {"op": "withdraw", "account_id": "b", "amount": "999"},
    ]});
    let (s, b) = send(atomic, "batch-3").await;
    assert_eq!(
        (s, &b["code"]),
        (422, &json!("idempotency_key_reused")),
        "{b}"
    );
    assert_eq!(version(&app, "b").await, json!(4));
    // An amount written another way is the same request.
    let (s1, a1) = send(
        json!({"operations": [{"op": "deposit", "account_id": "a", "amount": 12.5}]}),
        "batch-4",
    )
    .await;
    let (s2, a2) = send(
        json!({"operations": [{"op": "deposit", "account_id": "a", "amount": "12.50"}]}),
        "batch-4",
    )
    .await;
    assert_eq!((s1, s2), (200, 200), "{a2}");
    assert_eq!(a1, a2);
}
