//! Issue 14, item 4: edge cases where the service disagreed with API.md, on PostgreSQL
//! + Redis and on the SQLite default.

use ledger_tests::{json, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

ledger_tests::on_both_backends!(
    dot_ids_are_refused,
    if_match_is_strong_exact_and_takes_star_and_lists,
    idempotency_keys_are_visible_ascii_only,
    texts_refuse_every_control_character,
    a_long_uri_is_a_problem_with_a_request_id,
    a_body_of_the_wrong_shape_names_no_rust_type,
    audit_entries_of_every_event_carry_the_currency,
    a_control_character_in_a_query_is_refused_not_an_error,
    generated_request_ids_are_time_ordered_and_find_their_entries,
);

async fn open(app: &TestApp, id: &str) {
    let (s, b) = json(
        app.post(
            "/accounts",
            json!({"account_id": id, "owner": "O", "currency": "USD"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{b}");
}

/// Sends a request line as written (HTTP clients resolve `.` and `..` themselves).
async fn raw_get(app: &TestApp, target: &str) -> String {
    let addr = app.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    out
}

async fn dot_ids_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for id in [".", ".."] {
        let (s, b) = json(
            app.post(
                "/accounts",
                json!({"account_id": id, "owner": "O", "currency": "USD"}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, b["code"].clone()),
            (422, json!("validation_failed")),
            "{id}"
        );
        let (s, b) = json(
            app.post(
                "/transfers",
                json!({"transfer_id": id, "from_account_id": "a", "to_account_id": "b", "amount": "1"}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 422, "transfer id {id}: {b}");
    }
    for target in ["/accounts/..", "/accounts/.", "/accounts/../events"] {
        let answer = raw_get(&app, target).await;
        assert!(answer.starts_with("HTTP/1.1 404"), "{target}: {answer}");
        assert!(answer.contains("account_not_found"), "{target}: {answer}");
    }
}

async fn deposit_if(app: &TestApp, id: &str, tag: &str) -> (u16, Value) {
    json(
        app.send(
            Method::POST,
            &format!("/accounts/{id}/deposit"),
            Some(json!({"amount": "1"})),
            &[("if-match", tag)],
        )
        .await,
    )
    .await
}

async fn if_match_is_strong_exact_and_takes_star_and_lists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "im").await;
    // At version 1: only the exact strong tag "1" names it.
    for tag in ["W/\"1\"", "\"01\"", "\"+1\"", "\"1.0\"", "\"2\""] {
        let (s, b) = deposit_if(&app, "im", tag).await;
        assert_eq!(
            (s, b["code"].clone()),
            (412, json!("version_mismatch")),
            "{tag}"
        );
    }
    let (s, b) = deposit_if(&app, "im", "\"1\"").await;
    assert_eq!((s, b["version"].clone()), (200, json!(2)));
    let (s, b) = deposit_if(&app, "im", "*").await;
    assert_eq!((s, b["version"].clone()), (200, json!(3)));
    let (s, b) = deposit_if(&app, "im", "\"7\", W/\"3\", \"3\"").await;
    assert_eq!(
        (s, b["version"].clone()),
        (200, json!(4)),
        "a list matches by any tag"
    );
    let (s, b) = deposit_if(&app, "im", "\"7\", W/\"4\"").await;
    assert_eq!(s, 412, "{b}");
    for tag in ["4", "\"4", "abc"] {
        let (s, b) = deposit_if(&app, "im", tag).await;
        assert_eq!(
            (s, b["code"].clone()),
            (400, json!("malformed_request")),
            "{tag}"
        );
    }
    // An empty value (a client's unset variable) and commas alone name nothing.
    for tag in ["", " , ,"] {
        let (s, b) = deposit_if(&app, "im", tag).await;
        let refused = (s, b["code"].clone());
        assert_eq!(refused, (422, json!("validation_failed")), "{tag:?}");
    }
    // On an account that does not exist: 404, whatever the tag.
    for tag in ["\"1\"", "*"] {
        let (s, b) = deposit_if(&app, "nobody", tag).await;
        assert_eq!(
            (s, b["code"].clone()),
            (404, json!("account_not_found")),
            "{tag}"
        );
    }
    // Lines of their own are one list: `*` beside a stale tag is as malformed as on
    // one line (taken as `*`, the stale tag was ignored and the deposit made); `*`
    // twice is no list either, as `*, *` on one line is not.
    for lines in [["\"1\"", "*"], ["*", "\"1\""], ["*", "*"]] {
        let headers = [("if-match", lines[0]), ("if-match", lines[1])];
        let path = "/accounts/im/deposit";
        let answer = app.send(Method::POST, path, Some(json!({"amount": "1"})), &headers);
        let (s, b) = json(answer.await).await;
        assert_eq!(
            (s, b["code"].clone()),
            (400, json!("malformed_request")),
            "{lines:?}"
        );
    }
    // A second Content-Type line makes the body's type not JSON alone.
    let headers = [("content-type", "text/plain")];
    let answer = app.send(
        Method::POST,
        "/accounts/im/deposit",
        Some(json!({"amount": "1"})),
        &headers,
    );
    let (s, b) = json(answer.await).await;
    assert_eq!(
        (s, b["code"].clone()),
        (415, json!("unsupported_media_type"))
    );
    let (_, view) = json(app.get("/accounts/im").await).await;
    assert_eq!(
        view["balance"], "3.00",
        "only the three matching deposits count"
    );
}

async fn idempotency_keys_are_visible_ascii_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "ik").await;
    for key in ["a b", "a\tb", "caf\u{e9}"] {
        let (s, b) = json(
            app.send(
                Method::POST,
                "/accounts/ik/deposit",
                Some(json!({"amount": "1"})),
                &[("idempotency-key", key)],
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, b["code"].clone()),
            (422, json!("validation_failed")),
            "{key:?}"
        );
    }
    let (_, view) = json(app.get("/accounts/ik").await).await;
    assert_eq!(view["version"], 1, "nothing was deposited");
}

async fn texts_refuse_every_control_character(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for owner in ["A\tB", "A\nB", "A\u{7f}B"] {
        let (s, b) = json(
            app.post(
                "/accounts",
                json!({"account_id": "ctl", "owner": owner, "currency": "USD"}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, b["code"].clone()),
            (422, json!("validation_failed")),
            "{owner:?}"
        );
    }
    open(&app, "ctl").await;
    let (s, _) = json(
        app.post(
            "/accounts/ctl/deposit",
            json!({"amount": "1", "description": "line\nbreak"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = json(
        app.post("/accounts/ctl/close", json!({"reason": "tab\there"}))
            .await,
    )
    .await;
    assert_eq!(s, 422);
}

async fn a_long_uri_is_a_problem_with_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = "a".repeat(9000);
    let r = app.get(&format!("/accounts?owner={owner}")).await;
    assert_eq!(r.status(), 414);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let (_, b) = json(r).await;
    assert_eq!(b["code"], "uri_too_long");
}

async fn a_body_of_the_wrong_shape_names_no_rust_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "shape").await;
    for (path, body) in [
        ("/accounts/shape/close", json!("a string")),
        ("/accounts/shape/deposit", json!([1, 2])),
        ("/accounts", json!(5)),
        ("/transfers", json!({"from_account_id": ["x"]})),
    ] {
        let (s, b) = json(app.post(path, body).await).await;
        assert_eq!(
            (s, b["code"].clone()),
            (400, json!("malformed_request")),
            "{path}"
        );
        let detail = b["detail"].as_str().unwrap();
        for rust in ["struct", "Body", "Vec<", "Option<"] {
            assert!(!detail.contains(rust), "{path}: {detail}");
        }
    }
}

async fn audit_entries_of_every_event_carry_the_currency(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (s, _) = json(
        app.post(
            "/accounts",
            json!({"account_id": "aud", "owner": "O", "currency": "JPY"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = json(app.post("/accounts/aud/close", json!({})).await).await;
    assert_eq!(s, 200);
    let audit = app
        .eventually("/audit?account_id=aud", |v| {
            v["entries"].as_array().is_some_and(|e| e.len() == 2)
        })
        .await;
    for e in audit["entries"].as_array().unwrap() {
        assert_eq!(e["currency"], "JPY", "{e}");
        assert!(e["amount"].is_null(), "{e}");
    }
}

/// Found by schemathesis: a NUL in a query parameter reached PostgreSQL (which cannot
/// store it in text) and came back as 500. Found by black-box testing: bytes that are
/// not UTF-8 were looked up as U+FFFD (an empty page for an owner no one has).
async fn a_control_character_in_a_query_is_refused_not_an_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in [
        "/accounts?cursor=a%00b",
        "/accounts?owner=%00",
        "/audit?account_id=x%00",
        "/audit?request_id=%01",
        // Not UTF-8 once decoded: no parameter's value.
        "/accounts?owner=%C0%AF",
        "/transfers?account_id=a%FF",
    ] {
        let (s, b) = json(app.get(path).await).await;
        assert_eq!(
            (s, b["code"].clone()),
            (422, json!("validation_failed")),
            "{path}: {b}"
        );
    }
}

/// A request id the service makes up is a UUIDv7, later ids sorting after earlier ones
/// (the audit log's index by request id takes them at its right edge, BENCHMARKS.md),
/// and `GET /audit?request_id=` finds the entries of the request it names.
async fn generated_request_ids_are_time_ordered_and_find_their_entries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "rid").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = app
            .post("/accounts/rid/deposit", json!({"amount": "1.00"}))
            .await;
        assert_eq!(r.status(), 200);
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(
            (id.len(), id.as_bytes()[14]),
            (36, b'7'),
            "not a UUIDv7: {id}"
        );
        ids.push(id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for id in &ids {
        let b = app
            .eventually(&format!("/audit?request_id={id}"), |b| {
                b["entries"].as_array().is_some_and(|e| !e.is_empty())
            })
            .await;
        let entries = b["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{b}");
        assert_eq!(
            (&entries[0]["request_id"], &entries[0]["event_type"]),
            (&json!(id), &json!("MoneyDeposited")),
            "{b}"
        );
    }
}
