//! Issue 14, item 3: the metrics API.md names, with counters as counters; `/ready`
//! naming a failed projection. On PostgreSQL + Redis and on the SQLite default.

use ledger_tests::{json, Backend, TestApp};
use reqwest::Method;
use serde_json::json;

ledger_tests::on_both_backends!(
    metrics_have_append_latency_store_size_and_true_counters,
    batches_are_counted_as_commands
);

/// The value of an unlabelled series, or of the first line starting with `prefix`.
fn value(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{prefix} missing from /metrics:\n{text}"))
}

async fn metrics_have_append_latency_store_size_and_true_counters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (s, _) = json(
        app.post(
            "/accounts",
            json!({"account_id": "m", "owner": "O", "currency": "USD"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201);
    for _ in 0..3 {
        let (s, _) = json(
            app.post("/accounts/m/deposit", json!({"amount": "1"}))
                .await,
        )
        .await;
        assert_eq!(s, 200);
    }
    // Paths and methods a client makes up never become labels (unbounded series).
    assert_eq!(app.get("/made-up-path-123").await.status(), 404);
    assert_eq!(app.get("/accounts/m/made-up-tail").await.status(), 404);
    // Every route has a label of its own (batches and a transfer's reads were "other").
    let batch = json!({"operations": [{"op": "deposit", "account_id": "nobody", "amount": "1"}]});
    app.post("/batches", batch).await;
    app.get("/transfers/t-1").await;
    let text = app.metrics_with_store().await;
    assert!(!text.contains("made-up"), "{text}");
    for route in ["POST /batches", "GET /transfers/{id}", "GET other"] {
        let label = format!("route=\"{route}\"");
        assert!(text.contains(&label), "no {label}:\n{text}");
    }
    // Four appends, each timed.
    assert_eq!(
        value(
            &text,
            "ledger_append_duration_seconds_count{outcome=\"ok\"}"
        ),
        4.0
    );
    assert!(text.contains("# TYPE ledger_append_duration_seconds histogram"));
    assert!(text.contains("ledger_append_duration_seconds_bucket{outcome=\"ok\",le=\"+Inf\"} 4"));
    assert_eq!(value(&text, "ledger_event_store_events "), 4.0);
    assert!(value(&text, "ledger_event_store_bytes ") > 0.0, "{text}");
    for counter in [
        "ledger_events_replayed_total",
        "ledger_snapshot_hits_total",
        "ledger_snapshot_misses_total",
        "ledger_snapshot_errors_total",
        "ledger_snapshots_written_total",
        "ledger_aggregate_loads_total",
        "ledger_commands_total",
        "ledger_http_requests_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {counter} counter")),
            "{counter} is not a counter:\n{text}"
        );
    }
    for gauge in ["ledger_projection_lag_events", "ledger_projection_failed"] {
        assert!(
            text.contains(&format!("# TYPE {gauge} gauge")),
            "{gauge}:\n{text}"
        );
    }
    assert_eq!(
        value(
            &text,
            "ledger_projection_failed{projection=\"current_state\"}"
        ),
        0.0
    );
    let (s, ready) = json(app.get("/ready").await).await;
    assert_eq!(s, 200);
    assert_eq!(ready["projections"], "ok", "{ready}");
    assert_eq!(ready["failed_projections"], json!([]));
}

/// An atomic batch is one command (counted once, as refused when an operation is); each
/// operation of a non-atomic batch is a command of its own, counted as the single
/// command is.
async fn batches_are_counted_as_commands(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let open = json!({"account_id": "m", "owner": "O", "currency": "USD"});
    assert_eq!(app.post("/accounts", open).await.status(), 201);
    let refused = json!({"operations": [
        {"op": "deposit", "account_id": "m", "amount": "1"},
        {"op": "withdraw", "account_id": "m", "amount": "5"}]});
    assert_eq!(app.post("/batches", refused).await.status(), 422);
    let written = json!({"operations": [{"op": "deposit", "account_id": "m", "amount": "1"}]});
    assert_eq!(app.post("/batches", written).await.status(), 200);
    let each = json!({"atomic": false, "operations": [
        {"op": "deposit", "account_id": "m", "amount": "1"},
        {"op": "withdraw", "account_id": "m", "amount": "50"},
        {"op": "deposit", "account_id": "nobody", "amount": "1"}]});
    let key = [("idempotency-key", "k-1")];
    let (s, body) = json(app.send(Method::POST, "/batches", Some(each), &key).await).await;
    assert_eq!(s, 200, "{body}");
    // The same key with another batch: the whole batch is refused, and counted so.
    let other = json!({"atomic": false, "operations": [
        {"op": "deposit", "account_id": "m", "amount": "2"}]});
    let (s, body) = json(app.send(Method::POST, "/batches", Some(other), &key).await).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let text = app.get("/metrics").await.text().await.unwrap();
    let counted = |command: &str, outcome: &str| {
        value(
            &text,
            &format!("ledger_commands_total{{command=\"{command}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(counted("open", "ok"), 1.0);
    assert_eq!(counted("batch", "insufficient_funds"), 1.0);
    assert_eq!(counted("batch", "ok"), 2.0);
    assert_eq!(counted("deposit", "ok"), 1.0);
    assert_eq!(counted("withdraw", "insufficient_funds"), 1.0);
    assert_eq!(counted("deposit", "account_not_found"), 1.0);
    assert_eq!(counted("batch", "idempotency_key_reused"), 1.0);
}
