//! What a body must be: a JSON object (never an array read field by field), sent as
//! `application/json` (charset UTF-8 at most), an amount string without an exponent.
//! Found by black-box testing; each refusal writes nothing.

use crate::{expect_problem, open};
use ledger_tests::{json, Backend, TestApp, ADMIN};
use reqwest::Method;
use serde_json::json;

pub(crate) async fn only_json_objects_of_the_json_type_are_bodies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "a", "USD").await;
    open(&app, "b", "USD").await;
    let raw = |path: &str, ct: &str, body: &str| {
        app.client
            .post(format!("{}{path}", app.base))
            .header("content-type", ct.to_owned())
            .body(body.to_owned())
            .send()
    };
    let ct = "application/json";
    // Arrays of exactly the fields a struct has were once read as that struct.
    for (path, body) in [
        ("/accounts/a/deposit", r#"["5", null]"#),
        ("/accounts/a/limits", r#"["7"]"#),
        ("/accounts", r#"[null, "Ada", "USD", null]"#),
        ("/transfers", r#"[null, "a", "b", "1", null, null, null]"#),
        ("/accounts/a/deposit", r#"  "5" "#),
    ] {
        let r = raw(path, ct, body).await.unwrap();
        expect_problem(r, 400, "malformed_request").await;
    }
    let ops = r#"{"atomic": false, "operations": [["deposit", "a", "5"]]}"#;
    let (s, b) = json(raw("/batches", ct, ops).await.unwrap()).await;
    assert_eq!(
        (s, &b["code"], &b["operation"]),
        (400, &json!("malformed_request"), &json!(0)),
        "{b}"
    );
    for ct in [
        "application/problem+json",
        "application/vnd.api+json",
        "application/json; charset=latin1",
        "application/json; version=2",
    ] {
        let r = raw("/accounts/a/deposit", ct, r#"{"amount": "5"}"#)
            .await
            .unwrap();
        expect_problem(r, 415, "unsupported_media_type").await;
    }
    for amount in [r#""1e2""#, r#""100e-2""#, r#""1.00E1""#] {
        let body = format!(r#"{{"amount": {amount}}}"#);
        let r = raw("/accounts/a/deposit", ct, &body).await.unwrap();
        expect_problem(r, 422, "invalid_amount").await;
    }
    let (_, a) = json(app.get("/accounts/a").await).await;
    assert_eq!(
        (&a["version"], &a["balance"]),
        (&json!(1), &json!("0.00")),
        "nothing written"
    );
    // What is accepted: the type in any case with a UTF-8 charset, and an exponent in
    // a JSON number (JSON's own grammar).
    for (ct, amount) in [("Application/JSON; charset=\"UTF-8\"", "1"), (ct, "1e1")] {
        let body = format!(r#"{{"amount": {amount}}}"#);
        let (s, b) = json(raw("/accounts/a/deposit", ct, &body).await.unwrap()).await;
        assert_eq!(s, 200, "{ct}: {b}");
    }
    let (_, a) = json(app.get("/accounts/a").await).await;
    assert_eq!(a["balance"], json!("11.00"));
}

/// A misspelt query parameter is refused on every route that takes parameters: once,
/// `?asof=` answered today's state with 200 (black-box testing).
pub(crate) async fn a_misspelt_query_parameter_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "a", "USD").await;
    for path in [
        "/accounts/a?asof=2020-01-01T00:00:00Z",
        "/accounts/a?verson=1",
        "/accounts/a/events?after=0",
        "/accounts?stauts=open",
        "/audit?account=a",
        "/analytics/daily?form=2020-01-01",
        "/transfers?account=a",
        // A date is written exactly YYYY-MM-DD (chrono alone read these).
        "/analytics/daily?from=2020-1-1",
        "/analytics/daily?from=+2020-01-01",
        "/analytics/daily?to=2020-01-01T00:00:00Z",
        // A page of the daily lines: at most 10,000, after a `next_cursor`.
        "/analytics/daily?limit=10001",
        "/analytics/daily?limit=0",
        "/analytics/daily?cursor=2020-01-01",
        "/analytics/daily?cursor=2020-01-01.usd",
        "/analytics/daily?cursor=2020-02-30.USD",
        // Routes that take none: this day's transfer, every currency, once answered.
        "/transfers/t?as_of=2000-01-01T00:00:00Z",
        "/analytics/summary?currency=EUR",
        // A version of more than 19 digits, said as such.
        "/accounts/a?version=10000000000000000000",
    ] {
        expect_problem(app.get(path).await, 422, "validation_failed").await;
    }
    for path in [
        "/accounts/a?version=1",
        "/accounts/a/events?after_version=0&limit=5",
        "/accounts?status=open&limit=5",
        "/audit?account_id=a&limit=5",
        "/analytics/daily?from=2020-01-01",
        "/analytics/daily?limit=10000&cursor=2020-01-01.EUR",
        "/transfers?account_id=a&limit=5",
        "/analytics/summary",
        "/accounts/a?version=9999999999999999999",
        // 19 digits each, as the pattern says: past every event there is.
        "/events?after=9999999999999999999-9999999999999999999",
    ] {
        let (s, b) = json(app.get(path).await).await;
        assert_eq!(s, 200, "{path}: {b}");
    }
    // A command's field in the query string was ignored: `?pending=true` moved the
    // money at once. Refused, nothing written.
    open(&app, "b", "USD").await;
    let r = app
        .post("/accounts/a/deposit", json!({"amount": "9"}))
        .await;
    assert_eq!(r.status(), 200);
    let t = json!({"from_account_id": "a", "to_account_id": "b", "amount": "1"});
    let r = app.post("/transfers?pending=true", t).await;
    expect_problem(r, 422, "validation_failed").await;
    let (_, a) = json(app.get("/accounts/a").await).await;
    assert_eq!(
        (&a["balance"], &a["version"]),
        (&json!("9.00"), &json!(2)),
        "{a}"
    );
    // Every route that takes no query parameters refuses any, reads and revocations
    // too (a filter was ignored; `DELETE /admin/api-keys/{id}?x=1` revoked the key).
    // The open routes take what a probe adds.
    let admin = format!("Bearer {ADMIN}");
    let auth = [("authorization", admin.as_str())];
    let made = app.send(
        Method::POST,
        "/admin/api-keys",
        Some(json!({"name": "k", "role": "reader"})),
        &auth,
    );
    let (s, key) = json(made.await).await;
    assert_eq!(s, 201, "{key}");
    let revoke = format!("/admin/api-keys/{}", key["key_id"].as_str().unwrap());
    for (method, path) in [
        (Method::GET, "/whoami?x=1"),
        (Method::GET, "/analytics/summary?currency=EUR"),
        (Method::GET, "/transfers/t1?as_of=2020-01-01T00:00:00Z"),
        (Method::GET, "/admin/projections?x=1"),
        (Method::GET, "/admin/api-keys?role=reader"),
        (Method::DELETE, &format!("{revoke}?x=1")),
    ] {
        let head = method == Method::GET;
        let r = app.send(method, path, None, &auth).await;
        expect_problem(r, 422, "validation_failed").await;
        if head {
            let r = app.send(Method::HEAD, path, None, &auth).await;
            assert_eq!(r.status(), 422, "HEAD {path} answers as its GET");
        }
    }
    let secret = format!("Bearer {}", key["secret"].as_str().unwrap());
    let as_key = [("authorization", secret.as_str())];
    let whoami = app.send(Method::GET, "/whoami", None, &as_key).await;
    assert_eq!(whoami.status(), 200, "the key still works");
    for path in ["/health?probe=1", "/ready?probe=1"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
}

/// Found by black-box testing: a coded body was read as if plain (a body labelled
/// `br` was applied; a gzipped one was "not JSON"); of two `Idempotency-Key` fields the
/// first was used and the other dropped (a proxy keeping the other would apply the
/// money twice); a batch's missing amount did not name its operation; an overflowing
/// result called a 0.01 deposit "too large". Each refusal writes nothing.
pub(crate) async fn coded_bodies_and_doubled_keys_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "a", "USD").await;
    let deposit = || {
        app.client
            .post(format!("{}/accounts/a/deposit", app.base))
            .header("content-type", "application/json")
            .body(r#"{"amount": "1"}"#)
    };
    for (name, value) in [
        ("content-encoding", "br"),
        ("content-encoding", "gzip"),
        ("content-encoding", "identity, gzip"),
        ("transfer-encoding", "gzip, chunked"),
    ] {
        let r = deposit().header(name, value).send().await.unwrap();
        expect_problem(r, 415, "unsupported_media_type").await;
    }
    let r = deposit()
        .header("idempotency-key", "k1")
        .header("idempotency-key", "k2")
        .send()
        .await
        .unwrap();
    expect_problem(r, 422, "validation_failed").await;
    let ops = json!({"operations": [
        {"op": "deposit", "account_id": "a", "amount": "1"},
        {"op": "deposit", "account_id": "a"}
    ]});
    let (s, b) = json(app.post("/batches", ops).await).await;
    assert_eq!((s, &b["operation"]), (400, &json!(1)), "{b}");
    assert_eq!(b["detail"], "operation 1: `amount` is required", "{b}");
    let (_, a) = json(app.get("/accounts/a").await).await;
    assert_eq!((&a["version"], &a["balance"]), (&json!(1), &json!("0.00")));
    // What is accepted: `identity`, and one key.
    let r = deposit()
        .header("content-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let max = json!({"amount": "92233720368547757.07"});
    let (s, b) = json(app.post("/accounts/a/deposit", max).await).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = json(
        app.post("/accounts/a/deposit", json!({"amount": "0.01"}))
            .await,
    )
    .await;
    assert_eq!((s, &b["code"]), (422, &json!("invalid_amount")), "{b}");
    assert!(
        b["detail"]
            .as_str()
            .is_some_and(|d| d.contains("result would be out of")),
        "{b}"
    );
}

/// Found by black-box testing: a field a body does not have was ignored, so a misspelt
/// `pending` moved the money at once, a misspelt post `amount` posted everything, a
/// misspelt `expires_in_seconds` held it for ever. Each is 400 naming the field, and
/// nothing is written; `/audit` refuses an event type there is not; two
/// `Authorization` headers are refused; no answer may be cached.
pub(crate) async fn unknown_fields_are_refused_not_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "a", "USD").await;
    open(&app, "b", "USD").await;
    let (s, _) = json(
        app.post("/accounts/a/deposit", json!({"amount": "10"}))
            .await,
    )
    .await;
    assert_eq!(s, 200);
    let t = json!({"transfer_id": "t1", "from_account_id": "a", "to_account_id": "b",
        "amount": "4", "pending": true});
    assert_eq!(json(app.post("/transfers", t).await).await.0, 201);
    let mut misspelt = json!({"from_account_id": "a", "to_account_id": "b", "amount": "5",
        "pendng": true});
    let refused = [
        ("/transfers", misspelt.clone(), "pendng"),
        ("/transfers/t1/post", json!({"amout": "0.50"}), "amout"),
        (
            "/accounts/a/deposit",
            json!({"amount": "1", "memo": "x"}),
            "memo",
        ),
        (
            "/accounts/a/limits",
            json!({"overdraft_limt": "5"}),
            "overdraft_limt",
        ),
        (
            "/accounts",
            json!({"owner": "o", "currency": "USD", "limit": "1"}),
            "limit",
        ),
    ];
    for (path, body, field) in refused {
        let (s, b) = json(app.post(path, body).await).await;
        assert_eq!(
            (s, &b["code"]),
            (400, &json!("malformed_request")),
            "{path}: {b}"
        );
        let detail = b["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(&format!("unknown field `{field}`")), "{b}");
    }
    misspelt["op"] = json!("transfer");
    let ops = json!({"operations": [{"op": "deposit", "account_id": "a", "amount": "1"},
        misspelt]});
    let (s, b) = json(app.post("/batches", ops).await).await;
    assert_eq!((s, &b["operation"]), (400, &json!(1)), "{b}");
    let ops = json!({"atomc": false, "operations": [{"op": "deposit", "account_id": "a",
        "amount": "1"}]});
    assert_eq!(json(app.post("/batches", ops).await).await.0, 400);
    // Nothing of it written: the hold is whole, a's balance and version as they were.
    let (_, a) = json(app.get("/accounts/a").await).await;
    assert_eq!(
        (&a["version"], &a["balance"]),
        (&json!(3), &json!("10.00")),
        "{a}"
    );
    let (_, t1) = json(app.get("/transfers/t1").await).await;
    assert_eq!(
        (&t1["status"], &t1["remaining"]),
        (&json!("pending"), &json!("4.00"))
    );
    // The fields there are still work, `op` in a batch included.
    let ops = json!({"atomic": true, "operations": [{"op": "post_transfer",
        "transfer_id": "t1", "amount": "1"}]});
    assert_eq!(json(app.post("/batches", ops).await).await.0, 200);
    let (s, b) = json(app.get("/audit?event_type=Bogus").await).await;
    assert_eq!((s, &b["code"]), (422, &json!("validation_failed")), "{b}");
    let r = app
        .client
        .get(format!("{}/accounts/a", app.base))
        .header("authorization", "Bearer one")
        .header("authorization", "Bearer two")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    expect_problem(r, 401, "unauthorized").await;
    let r = app.get("/accounts/a").await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    // The console's files say their own; its refusals are no-store like any other.
    let r = app.get("/console/app.js").await;
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let r = app.get("/console/missing.js").await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    expect_problem(r, 404, "not_found").await;
    // The rebuild takes no body: one naming a projection was ignored and all rebuilt.
    let bearer = format!("Bearer {ADMIN}");
    let auth = [("authorization", bearer.as_str())];
    let one = json!({"projection": "analytics"});
    let r = app.send(Method::POST, "/admin/rebuild-projections", Some(one), &auth);
    expect_problem(r.await, 400, "malformed_request").await;
    // Read as every body is: past 64 KiB a problem, 413 (it once read up to 2 MiB).
    let big = json!({"x": "y".repeat(100_000)});
    let r = app.send(Method::POST, "/admin/rebuild-projections", Some(big), &auth);
    expect_problem(r.await, 413, "payload_too_large").await;
}
