//! Every step of a pending transfer and every refusal, each writing nothing.

use ledger_tests::{json, Backend, TestApp};
use serde_json::{json, Value};

use crate::{deposit, open, reserve, reserve_with};

pub(crate) async fn reserve_partial_post_and_void(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "a", json!({})).await;
    open(&app, "b", json!({})).await;
    deposit(&app, "a", "100").await;
    let (s, t) = reserve(&app, "hold-1", "40", None).await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(
        (
            &t["status"],
            &t["amount"],
            &t["remaining"],
            &t["posted_amount"]
        ),
        (
            &json!("pending"),
            &json!("40.00"),
            &json!("40.00"),
            &json!("0.00")
        )
    );
    assert_eq!(t["expires_at"], Value::Null);
    let a = &t["from"];
    assert_eq!(
        (&a["balance"], &a["available"], &a["pending_out"]),
        (&json!("100.00"), &json!("60.00"), &json!("40.00"))
    );
    assert_eq!(t["to"]["pending_in"], json!("40.00"));
    let (s, t) = json(
        app.post("/transfers/hold-1/post", json!({"amount": "15.5"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        (&t["status"], &t["remaining"]),
        (&json!("pending"), &json!("24.50"))
    );
    assert_eq!(
        (&t["from"]["balance"], &t["from"]["available"]),
        (&json!("84.50"), &json!("60.00"))
    );
    assert_eq!(t["to"]["balance"], json!("15.50"));
    let (s, t) = json(
        app.post("/transfers/hold-1/void", json!({"reason": "done"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        (&t["status"], &t["posted_amount"], &t["remaining"]),
        (&json!("voided"), &json!("15.50"), &json!("0.00"))
    );
    assert_eq!(t["from"]["available"], json!("84.50"));
    assert_eq!(t["to"]["pending_in"], json!("0.00"));
    let (s, got) = json(app.get("/transfers/hold-1").await).await;
    assert_eq!(s, 200);
    assert_eq!(got["status"], json!("voided"));
    assert!(got.get("from").is_none());
    // The views, the audit log, the analytics and the temporal queries show every step.
    let view = app
        .eventually("/accounts/a", |v| v["version"] == json!(5))
        .await;
    assert_eq!(
        (&view["balance"], &view["available"], &view["pending_out"]),
        (&json!("84.50"), &json!("84.50"), &json!("0.00"))
    );
    let (_, then) = json(app.get("/accounts/a?version=3").await).await;
    assert_eq!(
        (&then["pending_out"], &then["available"]),
        (&json!("40.00"), &json!("60.00"))
    );
    let list = app
        .eventually("/transfers?account_id=a", |v| {
            v["transfers"][0]["status"] == json!("voided")
        })
        .await;
    assert_eq!(list["transfers"].as_array().map(Vec::len), Some(1));
    let audit = app
        .eventually("/audit?account_id=a", |v| {
            v["entries"].as_array().is_some_and(|e| e.len() == 5)
        })
        .await;
    let types: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "PendingTransferReleased",
            "PendingTransferPosted",
            "PendingTransferReserved",
            "MoneyDeposited",
            "AccountOpened"
        ]
    );
    let summary = app
        .eventually("/analytics/summary", |v| {
            v["currencies"][0]["transfer_volume"] == json!("15.50")
        })
        .await;
    assert_eq!(summary["currencies"][0]["pending_volume"], json!("0.00"));
}

pub(crate) async fn refusals_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "a", json!({})).await;
    open(&app, "b", json!({})).await;
    deposit(&app, "a", "10").await;
    let (s, _) = reserve(&app, "t1", "4", None).await;
    assert_eq!(s, 201);
    let post = |body: Value| app.post("/transfers/t1/post", body);
    for (amount, code) in [
        (json!("-1"), "invalid_amount"),
        (json!("0"), "invalid_amount"),
        (json!("0.001"), "invalid_amount"),
        (json!("4.01"), "amount_exceeds_pending"),
    ] {
        let (s, b) = json(post(json!({"amount": amount})).await).await;
        assert_eq!(b["code"], json!(code), "{amount}: {b}");
        assert_eq!(s, 422);
    }
    let (s, b) = json(app.post("/transfers/nope/post", json!({})).await).await;
    assert_eq!((s, &b["code"]), (404, &json!("transfer_not_found")));
    let (s, b) = json(app.post("/transfers/nope/void", json!({})).await).await;
    assert_eq!((s, &b["code"]), (404, &json!("transfer_not_found")));
    let (s, b) = json(app.get("/transfers/nope").await).await;
    assert_eq!((s, &b["code"]), (404, &json!("transfer_not_found")));
    let (s, b) = reserve_with(&app, "t-whole", json!({"expires_in_seconds": 60.0})).await;
    assert_eq!(s, 201, "a whole number written 60.0: {b}");
    let (s, _) = json(app.post("/transfers/t-whole/void", json!({})).await).await;
    assert_eq!(s, 200);
    for bad in [json!(0), json!(2_592_001), json!(-5), json!(1.5)] {
        let (s, b) = reserve_with(&app, "t2", json!({"expires_in_seconds": bad})).await;
        assert_eq!((s, &b["code"]), (422, &json!("validation_failed")), "{bad}");
    }
    let (s, b) = reserve_with(&app, "t2", json!({"expires_in_seconds": "60"})).await;
    assert_eq!((s, &b["code"]), (400, &json!("malformed_request")), "{b}");
    // Read exactly from the number's text: a float would make the first 60, the second 1.
    for (seconds, status) in [
        ("59.99999999999999999", 422),
        ("1.00000000000000001", 422),
        ("6e1", 201),
    ] {
        let body = format!(
            r#"{{"transfer_id": "t-exact", "from_account_id": "a", "to_account_id": "b",
                "amount": "1", "pending": true, "expires_in_seconds": {seconds}}}"#
        );
        let r = app
            .client
            .post(format!("{}/transfers", app.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(json(r).await.0, status, "{seconds}");
    }
    let (s, _) = json(app.post("/transfers/t-exact/void", json!({})).await).await;
    assert_eq!(s, 200);
    // Two bad values: the amount is judged first, alone and in a batch alike.
    let both = json!({"amount": "-1", "expires_in_seconds": 0});
    let (s, b) = reserve_with(&app, "t2", both.clone()).await;
    assert_eq!((s, &b["code"]), (422, &json!("invalid_amount")), "{b}");
    let mut op = json!({"op": "transfer", "transfer_id": "t2", "from_account_id": "a",
                        "to_account_id": "b", "pending": true});
    op.as_object_mut()
        .unwrap()
        .extend(both.as_object().unwrap().clone());
    let (s, b) = json(
        app.post("/batches", json!({"atomic": false, "operations": [op]}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["results"][0]["problem"]["code"],
        json!("invalid_amount"),
        "{b}"
    );
    let (s, b) = reserve(&app, "t3", "6.01", None).await;
    assert_eq!((s, &b["code"]), (422, &json!("insufficient_funds")), "{b}");
    let (s, b) = json(app.post("/accounts/b/close", json!({})).await).await;
    assert_eq!((s, &b["code"]), (409, &json!("pending_transfers")));
    let (s, _) = json(app.post("/transfers/t1/void", json!({})).await).await;
    assert_eq!(s, 200);
    let (s, b) = json(app.post("/transfers/t1/post", json!({})).await).await;
    assert_eq!((s, &b["code"]), (409, &json!("transfer_not_pending")));
    let (s, b) = json(app.post("/transfers/t1/void", json!({})).await).await;
    assert_eq!((s, &b["code"]), (409, &json!("transfer_not_pending")));
    let (_, t) = reserve(&app, "t4", "1", None).await;
    assert_eq!(t["status"], json!("pending"));
    let (s, _) = json(app.post("/transfers/t4/post", json!({})).await).await;
    assert_eq!(s, 200);
    let (s, b) = json(app.post("/transfers/t4/void", json!({})).await).await;
    assert_eq!((s, &b["code"]), (409, &json!("transfer_not_pending")));
    // Nothing of the refusals was written: a is at open, deposit, t1 reserve,
    // t-whole reserve and void, t-exact reserve and void, t1 void, t4 reserve and post.
    let (_, a) = json(app.get("/accounts/a?version=999").await).await;
    assert_eq!(a["version"], json!(10), "{a}");
    assert_eq!(a["balance"], json!("9.00"));
}
