//! Atomic batches: all or nothing, accounts opened and used in one batch, racing batches.

use super::*;

pub(crate) async fn an_atomic_batch_with_a_failing_fifth_operation_writes_nothing(
    backend: Backend,
) {
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

pub(crate) async fn a_batch_opens_accounts_and_uses_them(backend: Backend) {
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

pub(crate) async fn concurrent_atomic_batches_in_both_directions_keep_the_bank_invariant(
    backend: Backend,
) {
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
