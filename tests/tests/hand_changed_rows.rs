//! Read-model rows changed by hand (a database superuser's UPDATE, which the service
//! never writes), as a review found them handled: a negative checkpoint was read as the
//! feed's start (SQLite applied the whole feed again, doubling the analytics); a
//! PostgreSQL `date` of infinity panicked `GET /analytics/daily`, dropping the
//! connection; one pending transfer whose expiry could not be read stopped every expiry.

use std::time::Duration;

use ledger_tests::tamper::Store;
use ledger_tests::{json, on_both_backends, Backend, TestApp, ADMIN};
use serde_json::{json, Value};

async fn ok(app: &TestApp, path: &str, body: Value) {
    let (s, b) = json(app.post(path, body).await).await;
    assert!(s == 200 || s == 201, "{path}: {s} {b}");
}

async fn funded(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    for id in ["a", "b"] {
        ok(
            &app,
            "/accounts",
            json!({"account_id": id, "owner": "O", "currency": "USD"}),
        )
        .await;
    }
    ok(&app, "/accounts/a/deposit", json!({"amount": "10"})).await;
    app
}

async fn stopped(mut app: TestApp) -> TestApp {
    app.stop_and_wait().await;
    app
}

async fn a_negative_checkpoint_is_refused_not_read_as_the_start(backend: Backend) {
    let app = funded(backend).await;
    app.projections_caught_up().await;
    let app = stopped(app).await;
    Store::at(&app.storage_url())
        .exec_read_models("UPDATE projections SET tx = -1, position = -1 WHERE name = 'analytics'")
        .await;
    let beside = app.spawn_beside().await;
    ok(&beside, "/accounts/a/deposit", json!({"amount": "5"})).await;
    beside
        .eventually("/accounts/a", |b| b["balance"] == "15.00")
        .await;
    // That projection fails, saying why; the others go on.
    let refused = |p: &Value| {
        p["state"] == "failed"
            && p["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("checkpoint cannot be read"))
    };
    let mut said = Value::Null;
    for _ in 0..400 {
        let (_, status) = json(beside.admin_get("/admin/projections").await).await;
        let all = status["projections"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        said = all
            .into_iter()
            .find(|p| p["name"] == "analytics")
            .unwrap_or_default();
        if refused(&said) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused(&said), "{said}");
    beside
        .eventually("/accounts?owner=O", |b| {
            b["accounts"][0]["balance"] == "15.00"
        })
        .await;
    // Not applied again from the start (which made 25.00: 10 twice, and 5).
    let (_, summary) = json(beside.get("/analytics/summary").await).await;
    assert_eq!(
        summary["currencies"][0]["total_deposited"],
        json!("10.00"),
        "{summary}"
    );
    // Its rebuild replaces the checkpoint it could not read (a review found the
    // rebuild refusing it too): live again, every deposit counted once.
    let admin = format!("Bearer {ADMIN}");
    let rebuild = beside
        .send(
            reqwest::Method::POST,
            "/admin/rebuild-projections?projection=analytics",
            None,
            &[("authorization", &admin)],
        )
        .await;
    assert_eq!(rebuild.status().as_u16(), 202);
    beside.projections_caught_up().await;
    let (_, summary) = json(beside.get("/analytics/summary").await).await;
    assert_eq!(
        summary["currencies"][0]["total_deposited"],
        json!("15.00"),
        "{summary}"
    );
}

async fn an_unreadable_expiry_stops_no_other(backend: Backend) {
    let app = funded(backend).await;
    for (id, seconds) in [("due", 1), ("odd", 600)] {
        let body = json!({"transfer_id": id, "from_account_id": "a", "to_account_id": "b",
                          "amount": "1", "pending": true, "expires_in_seconds": seconds});
        ok(&app, "/transfers", body).await;
    }
    app.projections_caught_up().await;
    let app = stopped(app).await;
    let never = match backend {
        Backend::Sqlite => "-9223372036854775808",
        Backend::PostgresRedis => "'-infinity'",
    };
    Store::at(&app.storage_url())
        .exec_read_models(&format!(
            "UPDATE transfers SET expires_at = {never} WHERE transfer_id = 'odd'"
        ))
        .await;
    let beside = app.spawn_beside().await;
    beside
        .eventually("/transfers/due", |t| t["status"] == "expired")
        .await;
}

on_both_backends!(
    a_negative_checkpoint_is_refused_not_read_as_the_start,
    an_unreadable_expiry_stops_no_other,
);

/// A PostgreSQL `date` past what the service reads is a 500 with a problem, not a
/// dropped connection (sqlx's decoding panicked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_day_is_an_error_not_a_dropped_connection() {
    let app = funded(Backend::PostgresRedis).await;
    app.projections_caught_up().await;
    Store::at(&app.storage_url())
        .exec("UPDATE analytics_daily SET day = 'infinity'")
        .await;
    let (s, b) = json(app.get("/analytics/daily").await).await;
    assert_eq!((s, &b["code"]), (500, &json!("internal")), "{b}");
}
