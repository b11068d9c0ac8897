//! Issue 16: pending (two-phase) transfers, available balances and overdraft limits
//! over HTTP, on PostgreSQL + Redis and on the SQLite default.

use std::sync::Arc;
use std::time::Duration;

use ledger_tests::{json, Backend, TestApp};
use serde_json::{json, Value};

ledger_tests::on_both_backends!(
    reserve_partial_post_and_void,
    refusals_write_nothing,
    racing_posts_voids_and_withdrawals_never_overdo_anything,
    expiries_are_recorded_once_by_two_instances,
    limits_let_an_account_go_below_zero_as_far_as_they_allow,
    a_transfer_made_on_another_instance_can_be_settled_here,
);

async fn open(app: &TestApp, id: &str, extra: Value) -> Value {
    let mut body = json!({"account_id": id, "owner": "O", "currency": "USD"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (s, b) = json(app.post("/accounts", body).await).await;
    assert_eq!(s, 201, "{b}");
    b
}

async fn deposit(app: &TestApp, id: &str, amount: &str) {
    let (s, b) = json(
        app.post(
            &format!("/accounts/{id}/deposit"),
            json!({"amount": amount}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

async fn reserve(app: &TestApp, id: &str, amount: &str, expires: Option<u64>) -> (u16, Value) {
    let mut body = json!({"transfer_id": id, "from_account_id": "a", "to_account_id": "b",
                          "amount": amount, "pending": true});
    if let Some(s) = expires {
        body["expires_in_seconds"] = json!(s);
    }
    json(app.post("/transfers", body).await).await
}

async fn reserve_partial_post_and_void(backend: Backend) {
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

async fn refusals_write_nothing(backend: Backend) {
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
    // t-whole reserve and void, t1 void, t4 reserve and post.
    let (_, a) = json(app.get("/accounts/a?version=999").await).await;
    assert_eq!(a["version"], json!(8), "{a}");
    assert_eq!(a["balance"], json!("9.00"));
}

async fn reserve_with(app: &TestApp, id: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"transfer_id": id, "from_account_id": "a", "to_account_id": "b",
                          "amount": "1", "pending": true});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    json(app.post("/transfers", body).await).await
}

async fn racing_posts_voids_and_withdrawals_never_overdo_anything(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    open(&app, "a", json!({})).await;
    open(&app, "b", json!({})).await;
    deposit(&app, "a", "100").await;
    for i in 0..8 {
        let (s, b) = reserve(&app, &format!("p{i}"), "10", None).await;
        assert_eq!(s, 201, "{b}");
    }
    // 16 clients: posts of 3.00 and voids on every pending transfer, and withdrawals
    // of 5.00 from a, all at once.
    let mut tasks = Vec::new();
    for c in 0..16 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for i in 0..8 {
                let path = match (c + i) % 4 {
                    0 => format!("/transfers/p{i}/void"),
                    3 => "/accounts/a/withdraw".to_owned(),
                    _ => format!("/transfers/p{i}/post"),
                };
                let body = if path.ends_with("withdraw") {
                    json!({"amount": "5"})
                } else if path.ends_with("post") {
                    json!({"amount": "3"})
                } else {
                    json!({})
                };
                let (s, b) = json(app.post(&path, body).await).await;
                assert!(s == 200 || s == 409 || s == 422, "{path}: {s} {b}");
                codes.push(b["code"].as_str().unwrap_or("ok").to_owned());
            }
            codes
        }));
    }
    for t in tasks {
        for code in t.await.unwrap() {
            assert!(
                [
                    "ok",
                    "transfer_not_pending",
                    "amount_exceeds_pending",
                    "insufficient_funds"
                ]
                .contains(&code.as_str()),
                "{code}"
            );
        }
    }
    let mut posted = 0i64;
    for i in 0..8 {
        let (_, t) = json(app.get(&format!("/transfers/p{i}")).await).await;
        let cents =
            |v: &Value| (v.as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64;
        let (p, r) = (cents(&t["posted_amount"]), cents(&t["remaining"]));
        assert!(p + r <= 1000 && p % 300 == 0, "{t}");
        if t["status"] != json!("pending") {
            assert_eq!(r, 0, "{t}");
        }
        posted += p;
    }
    let (_, a) = json(app.get("/accounts/a?version=999999").await).await;
    let (_, b) = json(app.get("/accounts/b?version=999999").await).await;
    let cents = |v: &Value| (v.as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64;
    assert!(cents(&a["available"]) >= 0, "{a}");
    assert_eq!(cents(&b["balance"]), posted);
    let withdrawn = 10_000 - cents(&a["balance"]) - posted;
    assert!(withdrawn >= 0 && withdrawn % 500 == 0, "{a}");
}

async fn expiries_are_recorded_once_by_two_instances(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let second = first.spawn_beside().await;
    open(&first, "a", json!({})).await;
    open(&first, "b", json!({})).await;
    deposit(&first, "a", "50").await;
    for i in 0..5 {
        let (s, b) = reserve(&first, &format!("e{i}"), "10", Some(1)).await;
        assert_eq!(s, 201, "{b}");
        assert!(b["expires_at"].is_string());
    }
    // Past expires_at a post is refused even before the expiry is recorded.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, b) = json(second.post("/transfers/e0/post", json!({})).await).await;
    assert!(
        s == 409 && b["code"] == json!("transfer_expired"),
        "{s} {b}"
    );
    let mut expired = false;
    for _ in 0..150 {
        let (_, a) = json(first.get("/accounts/a?version=999999").await).await;
        if a["available"] == json!("50.00") {
            expired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(expired, "the expiries were recorded");
    // Each exactly once: one TransferExpired per transfer stream, one release per leg.
    // The feed shows a commit once every older transaction has ended: read it until the
    // five expiries are there (each must then be there once).
    let mut events = Vec::new();
    for _ in 0..100 {
        let (s, feed) = json(first.admin_get("/events?limit=1000").await).await;
        assert_eq!(s, 200, "{feed}");
        events = feed["events"].as_array().cloned().unwrap_or_default();
        let expired = events
            .iter()
            .filter(|e| e["event_type"] == json!("TransferExpired"))
            .count();
        if expired >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..5 {
        let stream = format!("transfer/e{i}");
        let n = events
            .iter()
            .filter(|e| {
                e["stream_id"] == json!(stream) && e["event_type"] == json!("TransferExpired")
            })
            .count();
        assert_eq!(n, 1, "{stream}");
        let (_, t) = json(second.get(&format!("/transfers/e{i}")).await).await;
        assert_eq!(t["status"], json!("expired"));
    }
    let releases = events
        .iter()
        .filter(|e| e["event_type"] == json!("PendingTransferReleased"))
        .count();
    assert_eq!(releases, 10);
    let actor = events
        .iter()
        .find(|e| e["event_type"] == json!("TransferExpired"))
        .map(|e| e["metadata"]["actor"].clone());
    assert_eq!(actor, Some(json!("system:expirer")));
}

async fn limits_let_an_account_go_below_zero_as_far_as_they_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = open(&app, "a", json!({"overdraft_limit": "50"})).await;
    assert_eq!(
        (&a["overdraft_limit"], &a["version"]),
        (&json!("50.00"), &json!(2))
    );
    open(&app, "b", json!({})).await;
    let (s, b) = json(
        app.post("/accounts/a/withdraw", json!({"amount": "30"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (&b["balance"], &b["available"]),
        (&json!("-30.00"), &json!("-30.00"))
    );
    let (s, b) = reserve(&app, "x", "20.01", None).await;
    assert_eq!((s, &b["code"]), (422, &json!("insufficient_funds")));
    let (s, _) = reserve(&app, "x", "20", None).await;
    assert_eq!(s, 201);
    let (s, b) = json(
        app.post("/accounts/a/limits", json!({"overdraft_limit": "49.99"}))
            .await,
    )
    .await;
    assert_eq!((s, &b["code"]), (422, &json!("limit_below_debt")), "{b}");
    for bad in [json!("-1"), json!("0.001"), json!("x")] {
        let (s, b) = json(
            app.post("/accounts/a/limits", json!({"overdraft_limit": bad}))
                .await,
        )
        .await;
        assert_eq!((s, &b["code"]), (422, &json!("invalid_amount")), "{bad}");
    }
    let (s, b) = json(
        app.post("/accounts/a/limits", json!({"overdraft_limit": 80}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (&b["overdraft_limit"], &b["available"]),
        (&json!("80.00"), &json!("-50.00"))
    );
    let view = app
        .eventually("/accounts/a", |v| v["overdraft_limit"] == json!("80.00"))
        .await;
    assert_eq!(view["pending_out"], json!("20.00"));
}

async fn a_transfer_made_on_another_instance_can_be_settled_here(backend: Backend) {
    let here = TestApp::spawn(backend).await;
    let there = here.spawn_beside().await;
    open(&here, "a", json!({})).await;
    open(&here, "b", json!({})).await;
    deposit(&here, "a", "10").await;
    // This instance learns that "late" does not exist yet...
    let (s, _) = json(here.post("/transfers/late/post", json!({})).await).await;
    assert_eq!(s, 404);
    let (s, _) = json(here.get("/transfers/late").await).await;
    assert_eq!(s, 404);
    // ...then the other instance makes it.
    let (s, b) = reserve(&there, "late", "4", None).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = json(
        here.post("/transfers/late/post", json!({"amount": "1"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = json(here.post("/transfers/late/void", json!({})).await).await;
    assert_eq!((s, &b["status"]), (200, &json!("voided")), "{b}");
}
