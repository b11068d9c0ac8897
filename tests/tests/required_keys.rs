//! `server.require_idempotency_key`: a command sent without an `Idempotency-Key` is
//! refused (422) and writes nothing, so no client of the service can move money twice
//! by retrying a request whose answer it lost. The admin's POSTs are not commands and
//! are not refused.

use ledger_tests::{json, Backend, Options, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

ledger_tests::on_both_backends!(commands_without_an_idempotency_key_are_refused_and_write_nothing);

async fn post(app: &TestApp, path: &str, body: Value, key: Option<&str>) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    json(app.send(Method::POST, path, Some(body), &headers).await).await
}

async fn refused(app: &TestApp, path: &str, body: Value) {
    let (status, problem) = post(app, path, body, None).await;
    assert_eq!(status, 422, "{path}: {problem}");
    assert_eq!(problem["code"], "validation_failed", "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("Idempotency-Key header is required"),
        "{detail}"
    );
}

async fn balance(app: &TestApp, id: &str) -> (u16, Value) {
    let (status, account) = json(
        app.send(Method::GET, &format!("/accounts/{id}"), None, &[])
            .await,
    )
    .await;
    (status, account["balance"].clone())
}

async fn commands_without_an_idempotency_key_are_refused_and_write_nothing(backend: Backend) {
    let options = Options {
        require_idempotency_key: true,
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let open = |id: &str| json!({"account_id": id, "owner": "Ada", "currency": "USD"});

    refused(&app, "/accounts", open("a")).await;
    assert_eq!(balance(&app, "a").await.0, 404, "an account was opened");
    for (id, key) in [("a", "open-a"), ("b", "open-b")] {
        assert_eq!(post(&app, "/accounts", open(id), Some(key)).await.0, 201);
    }
    let amount = json!({"amount": "10.00"});
    refused(&app, "/accounts/a/deposit", amount.clone()).await;
    assert_eq!(
        post(&app, "/accounts/a/deposit", amount.clone(), Some("d1"))
            .await
            .0,
        200
    );
    refused(&app, "/accounts/a/withdraw", json!({"amount": "1.00"})).await;
    refused(
        &app,
        "/accounts/a/limits",
        json!({"overdraft_limit": "5.00"}),
    )
    .await;
    let transfer = json!({"from_account_id": "a", "to_account_id": "b", "amount": "2.00",
                          "transfer_id": "t1", "pending": true});
    refused(&app, "/transfers", transfer.clone()).await;
    let (status, _) = json(app.send(Method::GET, "/transfers/t1", None, &[]).await).await;
    assert_eq!(status, 404, "a transfer was made");
    assert_eq!(post(&app, "/transfers", transfer, Some("t1")).await.0, 201);
    refused(&app, "/transfers/t1/post", json!({"amount": "1.00"})).await;
    refused(&app, "/transfers/t1/void", json!({})).await;
    let batch = json!({"atomic": true, "operations": [
        {"op": "deposit", "account_id": "a", "amount": "1.00"}]});
    refused(&app, "/batches", batch).await;
    refused(&app, "/accounts/b/close", json!({})).await;
    // Nothing refused was written: the one keyed deposit, and the reserved 2.00.
    assert_eq!(balance(&app, "a").await, (200, json!("10.00")));
    let (_, a) = json(app.send(Method::GET, "/accounts/a", None, &[]).await).await;
    assert_eq!(a["available"], "8.00", "{a}");

    // The admin's POSTs are not commands.
    let auth = format!("Bearer {ADMIN}");
    let r = app
        .send(
            Method::POST,
            "/admin/api-keys",
            Some(json!({"name": "k", "role": "reader"})),
            &[("authorization", auth.as_str())],
        )
        .await;
    assert_eq!(r.status(), 201);
}
