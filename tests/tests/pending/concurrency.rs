//! Racing posts, voids and withdrawals; expiries recorded once by two instances;
//! overdraft limits; a transfer settled on another instance than the one that made it.

use std::sync::Arc;
use std::time::Duration;

use ledger_tests::{cents, json, Backend, TestApp};
use serde_json::{json, Value};

use crate::{deposit, open, reserve};

pub(crate) async fn racing_posts_voids_and_withdrawals_never_overdo_anything(backend: Backend) {
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
    let (mut posted, mut remaining) = (0i64, 0i64);
    for i in 0..8 {
        let (_, t) = json(app.get(&format!("/transfers/p{i}")).await).await;
        let (p, r) = (cents(&t["posted_amount"]), cents(&t["remaining"]));
        assert!(p + r <= 1000 && p % 300 == 0, "{t}");
        if t["status"] != json!("pending") {
            assert_eq!(r, 0, "{t}");
        }
        posted += p;
        remaining += r;
    }
    let (_, a) = json(app.get("/accounts/a?version=999999").await).await;
    let (_, b) = json(app.get("/accounts/b?version=999999").await).await;
    assert!(cents(&a["available"]) >= 0, "{a}");
    assert_eq!(cents(&b["balance"]), posted);
    // What is still held is exactly what the transfers still have: a hold released
    // twice (or posted after its void) would leave these apart.
    assert_eq!(cents(&a["pending_out"]), remaining, "{a}");
    assert_eq!(cents(&b["pending_in"]), remaining, "{b}");
    assert_eq!(
        cents(&a["available"]),
        cents(&a["balance"]) - remaining,
        "{a}"
    );
    let withdrawn = 10_000 - cents(&a["balance"]) - posted;
    assert!(withdrawn >= 0 && withdrawn % 500 == 0, "{a}");
    assert_eq!(app.verify_here().await, Vec::<String>::new());
}

pub(crate) async fn expiries_are_recorded_once_by_two_instances(backend: Backend) {
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
    // e0's expiry may be recorded by the post refused above (with that request's
    // actor), or by the expirer before it; the others only by the expirer.
    let actors: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == json!("TransferExpired"))
        .filter(|e| e["stream_id"] != json!("transfer/e0"))
        .map(|e| &e["metadata"]["actor"])
        .collect();
    assert_eq!(actors, vec![&json!("system:expirer"); 4]);
}

pub(crate) async fn limits_let_an_account_go_below_zero_as_far_as_they_allow(backend: Backend) {
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
    // A sign on zero in a string is refused as on any other limit (`"-0"` was taken as
    // 0): the contract's pattern has no sign.
    let minus_zero = [json!("-0"), json!(" -0.00")];
    for bad in [json!("-1"), json!("0.001"), json!("x")]
        .into_iter()
        .chain(minus_zero)
    {
        let (s, b) = json(
            app.post("/accounts/a/limits", json!({"overdraft_limit": bad}))
                .await,
        )
        .await;
        assert_eq!((s, &b["code"]), (422, &json!("invalid_amount")), "{bad}");
    }
    // A JSON number -0 is zero (the contract's `minimum: 0` takes it; it was refused as
    // negative): here a limit too low for the debt.
    for zero in ["-0", "-0.0", "-0e3"] {
        let escaped = app
            .client
            .post(format!("{}/accounts/a/limits", app.base))
            .header("content-type", "application/json")
            .body(format!(r#"{{"overdraft_limit": {zero}}}"#))
            .send()
            .await
            .expect("sent");
        let (s, b) = json(escaped).await;
        assert_eq!(
            (s, &b["code"]),
            (422, &json!("limit_below_debt")),
            "{zero}: {b}"
        );
    }
    // The sign escaped in the JSON text is a sign all the same.
    let escaped = app
        .client
        .post(format!("{}/accounts/a/limits", app.base))
        .header("content-type", "application/json")
        .body(r#"{"overdraft_limit": "\u002d0"}"#)
        .send()
        .await
        .expect("sent");
    let (s, b) = json(escaped).await;
    assert_eq!((s, &b["code"]), (422, &json!("invalid_amount")), "{b}");
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

pub(crate) async fn a_transfer_made_on_another_instance_can_be_settled_here(backend: Backend) {
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

/// Posts and voids from two instances racing the expirer across `expires_at`: each
/// transfer ends settled once (posted, voided or expired, nothing remaining), the
/// money posted is exactly what reached `b`, nothing is still held, and the ledger
/// verifies.
pub(crate) async fn settlements_racing_the_expirer_settle_each_transfer_once(backend: Backend) {
    let first = Arc::new(TestApp::spawn(backend).await);
    let second = Arc::new(first.spawn_beside().await);
    open(&first, "a", json!({})).await;
    open(&first, "b", json!({})).await;
    deposit(&first, "a", "1000").await;
    // Small posts on large holds, and voids only from just before the deadline on: the
    // transfers are still pending when they fall due, and the race is with the expirer
    // (runs see some voided, most expired).
    for i in 0..10 {
        let (s, b) = reserve(&first, &format!("x{i}"), "50", Some(1)).await;
        assert_eq!(s, 201, "{b}");
    }
    let reserved = std::time::Instant::now();
    let mut tasks = Vec::new();
    for c in 0..8usize {
        let app = Arc::clone(if c % 2 == 0 { &first } else { &second });
        tasks.push(tokio::spawn(async move {
            for round in 0..15usize {
                for i in 0..10usize {
                    let late = reserved.elapsed() > Duration::from_millis(900);
                    let (path, body) = match late && (c + i + round) % 8 == 0 {
                        true => (format!("/transfers/x{i}/void"), json!({})),
                        false => (format!("/transfers/x{i}/post"), json!({"amount": "0.25"})),
                    };
                    let (s, b) = json(app.post(&path, body).await).await;
                    let code = b["code"].as_str().unwrap_or("ok");
                    assert!(
                        matches!(
                            (s, code),
                            (200, "ok")
                                | (409, "transfer_not_pending" | "transfer_expired")
                                | (422, "amount_exceeds_pending")
                        ),
                        "{path}: {s} {b}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut posted = 0i64;
    for i in 0..10 {
        let mut t = Value::Null;
        for _ in 0..200 {
            t = json(first.get(&format!("/transfers/x{i}")).await).await.1;
            if t["status"] != json!("pending") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status = t["status"].as_str().unwrap_or_default();
        assert!(["posted", "voided", "expired"].contains(&status), "{t}");
        assert_eq!(cents(&t["remaining"]), 0, "{t}");
        assert!(cents(&t["posted_amount"]) <= 5_000, "{t}");
        posted += cents(&t["posted_amount"]);
    }
    let (_, a) = json(first.get("/accounts/a?version=999999").await).await;
    let (_, b) = json(first.get("/accounts/b?version=999999").await).await;
    assert_eq!(cents(&b["balance"]), posted, "{b}");
    assert_eq!(cents(&a["balance"]), 100_000 - posted, "{a}");
    assert_eq!((cents(&a["pending_out"]), cents(&b["pending_in"])), (0, 0));
    assert_eq!(first.verify_here().await, Vec::<String>::new());
}
