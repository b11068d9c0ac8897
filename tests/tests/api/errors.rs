//! Every error code of API.md, each a problem document.

use crate::{expect_problem, open};
use ledger_tests::{json, Backend, TestApp};
use reqwest::Method;
use serde_json::json;

pub(crate) async fn every_error_code_is_a_problem_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "a", "USD").await;
    open(&app, "e", "EUR").await;
    app.post("/accounts/a/deposit", json!({"amount": "10"}))
        .await;
    let raw = |method: Method, path: &str, ct: &str, body: Vec<u8>| {
        app.client
            .request(method, format!("{}{path}", app.base))
            .header("content-type", ct.to_owned())
            .body(body)
            .send()
    };
    expect_problem(
        raw(
            Method::POST,
            "/accounts",
            "application/json",
            b"{not json".to_vec(),
        )
        .await
        .unwrap(),
        400,
        "malformed_request",
    )
    .await;
    expect_problem(
        raw(
            Method::POST,
            "/accounts",
            "application/json",
            b"[1,2]".to_vec(),
        )
        .await
        .unwrap(),
        400,
        "malformed_request",
    )
    .await;
    expect_problem(
        raw(Method::POST, "/accounts", "text/plain", b"{}".to_vec())
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_problem(
        raw(
            Method::POST,
            "/accounts",
            "application/json",
            vec![b' '; 70 * 1024],
        )
        .await
        .unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    expect_problem(app.get("/no/such/route").await, 404, "not_found").await;
    expect_problem(
        app.send(Method::DELETE, "/accounts", None, &[]).await,
        405,
        "method_not_allowed",
    )
    .await;
    expect_problem(app.get("/accounts/nobody").await, 404, "account_not_found").await;
    expect_problem(
        app.get("/accounts/bad%20id!").await,
        404,
        "account_not_found",
    )
    .await;
    expect_problem(
        app.post("/accounts/nobody/deposit", json!({"amount": 1}))
            .await,
        404,
        "account_not_found",
    )
    .await;
    expect_problem(
        app.post(
            "/accounts",
            json!({"account_id": "a", "owner": "X", "currency": "USD"}),
        )
        .await,
        409,
        "account_exists",
    )
    .await;
    expect_problem(
        app.post("/accounts", json!({"owner": "", "currency": "USD"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.post(
            "/accounts",
            json!({"owner": "x".repeat(201), "currency": "USD"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.post(
            "/accounts",
            json!({"account_id": "has space", "owner": "X", "currency": "USD"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.post("/accounts", json!({"owner": "X", "currency": "usd"}))
            .await,
        422,
        "invalid_currency",
    )
    .await;
    expect_problem(
        app.post("/accounts", json!({"owner": "X", "currency": "ZZZ"}))
            .await,
        422,
        "invalid_currency",
    )
    .await;
    // Withdrawn from ISO 4217: no new account, alone or in a batch.
    expect_problem(
        app.post("/accounts", json!({"owner": "X", "currency": "HRK"}))
            .await,
        422,
        "invalid_currency",
    )
    .await;
    let hrk = json!({"op": "open_account", "owner": "X", "currency": "HRK"});
    let (s, b) = json(app.post("/batches", json!({"operations": [hrk]})).await).await;
    assert_eq!((s, &b["code"]), (422, &json!("invalid_currency")), "{b}");
    for bad in [
        json!("1.001"),
        json!(0),
        json!(-5),
        json!("abc"),
        json!(true),
        json!("1e30"),
        json!(1.001),
    ] {
        expect_problem(
            app.post("/accounts/a/deposit", json!({"amount": bad}))
                .await,
            422,
            "invalid_amount",
        )
        .await;
    }
    expect_problem(
        app.post(
            "/accounts/a/deposit",
            json!({"amount": "1", "description": "d".repeat(501)}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.post("/accounts/a/withdraw", json!({"amount": "10.01"}))
            .await,
        422,
        "insufficient_funds",
    )
    .await;
    expect_problem(
        app.post("/accounts/a/close", json!({})).await,
        422,
        "balance_not_zero",
    )
    .await;
    expect_problem(
        app.post(
            "/transfers",
            json!({"from_account_id": "a", "to_account_id": "e", "amount": "1"}),
        )
        .await,
        422,
        "currency_mismatch",
    )
    .await;
    expect_problem(
        app.post(
            "/transfers",
            json!({"from_account_id": "a", "to_account_id": "a", "amount": "1"}),
        )
        .await,
        422,
        "same_account",
    )
    .await;
    expect_problem(
        app.post(
            "/transfers",
            json!({"from_account_id": "a", "to_account_id": "ghost", "amount": "1"}),
        )
        .await,
        404,
        "account_not_found",
    )
    .await;
    open(&app, "b", "USD").await;
    let t =
        json!({"transfer_id": "dup", "from_account_id": "a", "to_account_id": "b", "amount": "1"});
    assert_eq!(app.post("/transfers", t.clone()).await.status(), 201);
    expect_problem(
        app.post("/transfers", t.clone()).await,
        409,
        "transfer_exists",
    )
    .await;
    // With an `If-Match` the first transfer made stale: still the transfer's answer.
    let stale = [("if-match", "\"1\"")];
    let retry = app.send(Method::POST, "/transfers", Some(t), &stale).await;
    expect_problem(retry, 409, "transfer_exists").await;
    open(&app, "c", "USD").await;
    assert_eq!(app.post("/accounts/c/close", json!({})).await.status(), 200);
    expect_problem(
        app.post("/accounts/c/deposit", json!({"amount": 1})).await,
        409,
        "account_closed",
    )
    .await;
    let key = [("idempotency-key", "k-1")];
    assert_eq!(
        app.send(
            Method::POST,
            "/accounts/a/deposit",
            Some(json!({"amount": 1})),
            &key
        )
        .await
        .status(),
        200
    );
    expect_problem(
        app.send(
            Method::POST,
            "/accounts/a/deposit",
            Some(json!({"amount": 2})),
            &key,
        )
        .await,
        422,
        "idempotency_key_reused",
    )
    .await;
    expect_problem(
        app.send(
            Method::POST,
            "/accounts/a/deposit",
            Some(json!({"amount": 1})),
            &[("if-match", "\"1\"")],
        )
        .await,
        412,
        "version_mismatch",
    )
    .await;
    expect_problem(
        app.get("/accounts/a/events?limit=0").await,
        422,
        "validation_failed",
    )
    .await;
    // Numbers in a query are plain digits, as the contract's patterns say; one past
    // the largest a column holds reads as that largest.
    for path in [
        "/transfers?limit=%2B5",
        "/transfers?cursor=%2B5",
        "/accounts/a?version=%2B5",
    ] {
        expect_problem(app.get(path).await, 422, "validation_failed").await;
    }
    let (s, page) = json(app.get("/transfers?cursor=9999999999999999999").await).await;
    assert_eq!(s, 200, "{page}");
    expect_problem(
        app.get("/accounts/a?version=abc").await,
        422,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.get("/accounts/a?as_of=yesterday").await,
        422,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.get("/accounts?status=sleeping").await,
        422,
        "validation_failed",
    )
    .await;
    expect_problem(app.get("/admin/projections").await, 401, "unauthorized").await;
}
