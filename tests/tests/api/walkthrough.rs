//! Every read and write of API.md, once, in the order a user meets them.

use crate::open;
use ledger_tests::{json, Backend, TestApp};
use serde_json::json;

pub(crate) async fn a_walkthrough_of_every_read_and_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .post(
            "/accounts",
            json!({"owner": "Ada Lovelace", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (_, created) = json(r).await;
    let id = created["account_id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/accounts/{id}"));
    assert_eq!(created["balance"], "0.00");
    assert_eq!(created["status"], "open");
    assert_eq!(created["version"], 1);

    let (s, dep) = json(
        app.post(
            &format!("/accounts/{id}/deposit"),
            json!({"amount": 12.5, "description": "pay"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, dep["balance"].clone()), (200, json!("12.50")));
    let (s, dep) = json(
        app.post(
            &format!("/accounts/{id}/deposit"),
            json!({"amount": "0.10"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, dep["balance"].clone(), dep["version"].clone()),
        (200, json!("12.60"), json!(3))
    );
    let (s, wd) = json(
        app.post(
            &format!("/accounts/{id}/withdraw"),
            json!({"amount": "2.60"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, wd["balance"].clone()), (200, json!("10.00")));

    open(&app, "bob", "USD").await;
    let (s, t) = json(app.post("/transfers", json!({"transfer_id": "t-1", "from_account_id": id, "to_account_id": "bob", "amount": "4.25"})).await).await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["transfer_id"], "t-1");
    assert_eq!(t["from"]["balance"], "5.75");
    assert_eq!(t["to"]["balance"], "4.25");

    let yen = open(&app, "yen", "JPY").await;
    assert_eq!(yen["balance"], "0");
    let (_, y) = json(
        app.post("/accounts/yen/deposit", json!({"amount": 1200}))
            .await,
    )
    .await;
    assert_eq!(y["balance"], "1200");
    let bhd = open(&app, "dinar", "BHD").await;
    assert_eq!(bhd["balance"], "0.000");
    let (_, b) = json(
        app.post("/accounts/dinar/deposit", json!({"amount": "1.25"}))
            .await,
    )
    .await;
    assert_eq!(b["balance"], "1.250");

    let view = app
        .eventually(&format!("/accounts/{id}"), |v| v["version"] == 5)
        .await;
    assert_eq!(view["balance"], "5.75");
    assert_eq!(view["total_deposits"], "12.60");
    assert_eq!(view["total_withdrawals"], "6.85");
    assert_eq!(view["transaction_count"], 4);
    assert!(view["closed_at"].is_null());
    let r = app.get(&format!("/accounts/{id}")).await;
    assert_eq!(r.headers()["etag"], "\"5\"");

    let (s, events) = json(
        app.get(&format!("/accounts/{id}/events?after_version=1&limit=2"))
            .await,
    )
    .await;
    assert_eq!(s, 200);
    let list = events["events"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["event_type"], "MoneyDeposited");
    assert_eq!(list[0]["data"]["amount"], "12.50");
    assert_eq!(list[0]["version"], 2);
    assert!(list[0]["metadata"]["request_id"].is_string());
    assert_eq!(list[0]["metadata"]["actor"], "anonymous");
    assert_eq!(events["next_after_version"], 3);

    app.eventually("/accounts?owner=Ada", |v| {
        v["accounts"].as_array().is_some_and(|a| a.len() == 3)
    })
    .await;
    let (_, page) = json(app.get("/accounts?owner=Ada&limit=2").await).await;
    assert_eq!(page["accounts"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = json(
        app.get(&format!("/accounts?owner=Ada&limit=2&cursor={cursor}"))
            .await,
    )
    .await;
    assert_eq!(rest["accounts"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());

    let summary = app
        .eventually("/analytics/summary", |v| {
            v["currencies"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|x| x["currency"] == "USD" && x["transfer_volume"] == "4.25")
            })
        })
        .await;
    let usd = summary["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["currency"] == "USD")
        .unwrap()
        .clone();
    assert_eq!(usd["total_balance"], "10.00");
    assert_eq!(usd["open_accounts"], 2);
    let (s, daily) = json(app.get("/analytics/daily?currency=USD").await).await;
    assert_eq!(s, 200);
    assert_eq!(daily["days"][0]["deposit_volume"], "12.60");
    assert_eq!(daily["days"][0]["transfer_count"], 1);

    let audit = app
        .eventually(&format!("/audit?account_id={id}&limit=2"), |v| {
            v["entries"].as_array().is_some_and(|e| e.len() == 2)
        })
        .await;
    assert_eq!(audit["entries"][0]["event_type"], "TransferDebited");
    assert_eq!(audit["entries"][0]["amount"], "4.25");
    assert!(audit["next_cursor"].is_string());

    // On PostgreSQL the feed shows a commit once no older transaction on the server is
    // running: wait for all twelve, then page through them.
    app.admin_eventually("/events?limit=1000", |f| {
        f["events"].as_array().is_some_and(|e| e.len() == 12)
    })
    .await;
    let (s, feed) = json(app.admin_get("/events?limit=3").await).await;
    assert_eq!(s, 200);
    assert_eq!(feed["events"].as_array().unwrap().len(), 3);
    let next = feed["next"].as_str().unwrap().to_owned();
    let (_, more) = json(
        app.admin_get(&format!("/events?after={next}&limit=1000"))
            .await,
    )
    .await;
    assert_eq!(more["events"].as_array().unwrap().len() + 3, 12);

    assert_eq!(app.get("/health").await.status(), 200);
    let (s, ready) = json(app.get("/ready").await).await;
    assert_eq!((s, ready["snapshots"].clone()), (200, json!("ok")));
    let metrics = app.metrics_with_store().await;
    for series in [
        "ledger_commands_total",
        "ledger_http_requests_total",
        "ledger_aggregate_loads_total",
        "ledger_projection_lag_events",
        "ledger_event_store_events",
        // Counted from 0 before the first refusal: an alert on them works from the start.
        "ledger_sse_refused_total{bound=\"instance\"} 0",
        "ledger_sse_refused_total{bound=\"key\"} 0",
    ] {
        assert!(metrics.contains(series), "{series} missing from /metrics");
    }
    let (s, api) = json(app.get("/openapi.json").await).await;
    assert_eq!(s, 200);
    assert!(api["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(api["paths"]["/transfers"]["post"].is_object());
    let answer = &api["paths"]["/accounts/{id}"]["get"]["responses"]["200"];
    assert!(answer["headers"]["ETag"].is_object(), "{answer}");
    assert!(answer["headers"]["X-Request-ID"].is_object(), "{answer}");
    // The request headers each route reads: `X-Request-ID` everywhere, `If-Match` on
    // every command (not evaluated on a post, a void or a batch, but still read).
    let names = |path: &str, method: &str| -> Vec<String> {
        let params = api["paths"][path][method]["parameters"].as_array().cloned();
        let names = params
            .unwrap_or_default()
            .iter()
            .map(|p| p["name"].to_string())
            .collect();
        names
    };
    for (path, method) in [
        ("/health", "get"),
        ("/openapi.json", "get"),
        ("/batches", "post"),
    ] {
        assert!(
            names(path, method).contains(&"\"X-Request-ID\"".into()),
            "{path}"
        );
    }
    for path in ["/transfers/{id}/post", "/transfers/{id}/void", "/batches"] {
        assert!(
            names(path, "post").contains(&"\"If-Match\"".into()),
            "{path}"
        );
    }

    let (s, closed) = json(
        app.post("/accounts/bob/withdraw", json!({"amount": "4.25"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{closed}");
    let (s, closed) = json(
        app.post("/accounts/bob/close", json!({"reason": "moving away"}))
            .await,
    )
    .await;
    assert_eq!((s, closed["status"].clone()), (200, json!("closed")));
}

/// `/analytics/daily` is paged by day and currency: it answered at most 10,000 lines
/// and said nothing of the rest (code review).
pub(crate) async fn daily_analytics_are_paged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (id, currency) in [("u", "USD"), ("e", "EUR"), ("j", "JPY")] {
        open(&app, id, currency).await;
        let r = app
            .post(&format!("/accounts/{id}/deposit"), json!({"amount": "7"}))
            .await;
        assert_eq!(r.status(), 200);
    }
    let all = app
        .eventually("/analytics/daily", |v| {
            v["days"].as_array().is_some_and(|d| d.len() == 3)
        })
        .await;
    assert_eq!(all["next_cursor"], serde_json::Value::Null, "{all}");
    let mut paged = Vec::new();
    let mut path = "/analytics/daily?limit=2".to_owned();
    loop {
        let (s, page) = json(app.get(&path).await).await;
        assert_eq!(s, 200, "{page}");
        let lines = page["days"].as_array().unwrap();
        assert!(lines.len() <= 2, "{page}");
        paged.extend(lines.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/analytics/daily?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(serde_json::Value::from(paged), all["days"]);
    // The cursor names the last line (the lines may straddle a UTC midnight).
    let (_, first) = json(app.get("/analytics/daily?limit=1").await).await;
    let line = &first["days"][0];
    let (date, currency) = (
        line["date"].as_str().unwrap(),
        line["currency"].as_str().unwrap(),
    );
    let cursor = format!("{date}.{currency}");
    assert_eq!(first["next_cursor"], cursor, "{first}");
    let (_, usd) = json(app.get("/analytics/daily?currency=USD&limit=1").await).await;
    assert_eq!(usd["days"][0]["deposit_volume"], "7.00", "{usd}");
    let date = usd["days"][0]["date"].as_str().unwrap();
    let after = format!("/analytics/daily?currency=USD&limit=1&cursor={date}.USD");
    let (_, none) = json(app.get(&after).await).await;
    assert_eq!(none, json!({"days": [], "next_cursor": null}));
}
