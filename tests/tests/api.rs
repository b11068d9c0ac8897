//! Every row of API.md against the real application, on PostgreSQL + Redis and on the
//! SQLite default.

use ledger_tests::{json, Backend, Options, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

ledger_tests::on_both_backends!(
    a_walkthrough_of_every_read_and_write,
    every_error_code_is_a_problem_document,
    an_idempotent_retry_returns_the_first_outcome,
    if_match_guards_against_lost_updates,
    temporal_queries_show_the_past,
    rebuilding_projections_keeps_the_views,
    access_tokens_are_enforced,
    an_instance_without_projectors_leaves_the_read_models_alone,
);

async fn open(app: &TestApp, id: &str, currency: &str) -> Value {
    let (status, body) = json(
        app.post(
            "/accounts",
            json!({"account_id": id, "owner": "Ada", "currency": currency}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn a_walkthrough_of_every_read_and_write(backend: Backend) {
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
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for series in [
        "ledger_commands_total",
        "ledger_http_requests_total",
        "ledger_aggregate_loads_total",
        "ledger_projection_lag_events",
        "ledger_event_store_events",
    ] {
        assert!(metrics.contains(series), "{series} missing from /metrics");
    }
    let (s, api) = json(app.get("/openapi.json").await).await;
    assert_eq!(s, 200);
    assert!(api["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(api["paths"]["/transfers"]["post"].is_object());

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

async fn expect_problem(r: reqwest::Response, status: u16, code: &str) {
    assert_eq!(
        r.headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("application/problem+json".into()),
        "for {code}"
    );
    let (s, body) = json(r).await;
    assert_eq!(
        (s, body["code"].as_str().unwrap_or("")),
        (status, code),
        "{body}"
    );
    for field in ["type", "title", "status", "detail"] {
        assert!(!body[field].is_null(), "{field} missing in {body}");
    }
}

async fn every_error_code_is_a_problem_document(backend: Backend) {
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
    expect_problem(app.post("/transfers", t).await, 409, "transfer_exists").await;
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

async fn an_idempotent_retry_returns_the_first_outcome(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "a", "USD").await;
    let headers = [("idempotency-key", "retry-1"), ("x-request-id", "req-abc")];
    let first = app
        .send(
            Method::POST,
            "/accounts/a/deposit",
            Some(json!({"amount": "5"})),
            &headers,
        )
        .await;
    assert_eq!(first.headers()["x-request-id"], "req-abc");
    let (s1, b1) = json(first).await;
    let (s2, b2) = json(
        app.send(
            Method::POST,
            "/accounts/a/deposit",
            Some(json!({"amount": "5.00"})),
            &headers,
        )
        .await,
    )
    .await;
    assert_eq!((s1, &b1), (s2, &b2), "the same outcome");
    assert_eq!(b2["balance"], "5.00", "applied once");
    let (_, events) = json(app.get("/accounts/a/events").await).await;
    let list = events["events"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["metadata"]["request_id"], "req-abc");
    // An open with a key and no id gets the same server-chosen id on retry.
    let k = [("idempotency-key", "open-1")];
    let (_, a) = json(
        app.send(
            Method::POST,
            "/accounts",
            Some(json!({"owner": "O", "currency": "EUR"})),
            &k,
        )
        .await,
    )
    .await;
    let (s, b) = json(
        app.send(
            Method::POST,
            "/accounts",
            Some(json!({"owner": "O", "currency": "EUR"})),
            &k,
        )
        .await,
    )
    .await;
    assert_eq!((s, &a["account_id"]), (201, &b["account_id"]));
}

async fn if_match_guards_against_lost_updates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "a", "USD").await;
    let r = app.get("/accounts/a").await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, "\"1\"");
    let ok = app
        .send(
            Method::POST,
            "/accounts/a/deposit",
            Some(json!({"amount": 1})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(ok.status(), 200);
    let stale = app
        .send(
            Method::POST,
            "/accounts/a/deposit",
            Some(json!({"amount": 1})),
            &[("if-match", &etag)],
        )
        .await;
    expect_problem(stale, 412, "version_mismatch").await;
}

async fn temporal_queries_show_the_past(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "a", "USD").await;
    app.post("/accounts/a/deposit", json!({"amount": "1"}))
        .await;
    let (_, v2) = json(app.get("/accounts/a?version=2").await).await;
    let as_of = v2["as_of"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.post("/accounts/a/deposit", json!({"amount": "2"}))
        .await;
    assert_eq!(v2["balance"], "1.00");
    assert_eq!(v2["version"], 2);
    let (s, t) = json(
        app.get(&format!("/accounts/a?as_of={}", as_of.replace('+', "%2B")))
            .await,
    )
    .await;
    assert_eq!(
        (s, t["balance"].clone(), t["version"].clone()),
        (200, json!("1.00"), json!(2))
    );
    let (_, now) = json(app.get("/accounts/a?version=99").await).await;
    assert_eq!(now["balance"], "3.00");
    expect_problem(
        app.get("/accounts/a?as_of=2000-01-01T00:00:00Z").await,
        404,
        "account_not_found",
    )
    .await;
    expect_problem(
        app.get("/accounts/a?version=0").await,
        404,
        "account_not_found",
    )
    .await;
}

async fn rebuilding_projections_keeps_the_views(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..5 {
        open(&app, &format!("acc-{i}"), "USD").await;
        app.post(
            &format!("/accounts/acc-{i}/deposit"),
            json!({"amount": i + 1}),
        )
        .await;
    }
    let before = app
        .eventually("/analytics/summary", |v| {
            v["currencies"][0]["total_balance"] == "15.00"
        })
        .await;
    let auth = format!("Bearer {ADMIN}");
    let r = app
        .send(
            Method::POST,
            "/admin/rebuild-projections",
            None,
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(r.status(), 202);
    let (_, body) = json(r).await;
    assert_eq!(body["projections"].as_array().unwrap().len(), 3);
    for _ in 0..200 {
        let (_, st) = json(app.admin_get("/admin/projections").await).await;
        if st["projections"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "live" && p["lag_events"] == 0)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let (_, after) = json(app.get("/analytics/summary").await).await;
    assert_eq!(after, before);
    let one = app
        .send(
            Method::POST,
            "/admin/rebuild-projections?projection=audit_log",
            None,
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(one.status(), 202);
    let bad = app
        .send(
            Method::POST,
            "/admin/rebuild-projections?projection=nope",
            None,
            &[("authorization", &auth)],
        )
        .await;
    expect_problem(bad, 422, "validation_failed").await;
}

async fn access_tokens_are_enforced(backend: Backend) {
    let options = Options {
        api_tokens: vec!["tok-1".into(), "tok-2".into()],
        ..Default::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    expect_problem(
        app.post("/accounts", json!({"owner": "X", "currency": "USD"}))
            .await,
        401,
        "unauthorized",
    )
    .await;
    let wrong = [("authorization", "Bearer nope")];
    expect_problem(
        app.send(Method::GET, "/accounts", None, &wrong).await,
        401,
        "unauthorized",
    )
    .await;
    let good = [("authorization", "Bearer tok-2")];
    let (s, a) = json(
        app.send(
            Method::POST,
            "/accounts",
            Some(json!({"account_id": "x", "owner": "X", "currency": "USD"})),
            &good,
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let (_, events) = json(
        app.send(Method::GET, "/accounts/x/events", None, &good)
            .await,
    )
    .await;
    assert_eq!(events["events"][0]["metadata"]["actor"], "api-token-2");
    expect_problem(
        app.send(Method::GET, "/admin/projections", None, &good)
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/metrics").await.status(), 200);
    let no_admin = TestApp::spawn_with(
        Backend::Sqlite,
        Options {
            no_admin: true,
            ..Default::default()
        },
    )
    .await;
    expect_problem(no_admin.get("/admin/projections").await, 403, "forbidden").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_is_stored_verbatim_and_harmless() {
    let app = TestApp::spawn(Backend::PostgresRedis).await;
    let owners = [
        "Robert'); DROP TABLE events;--",
        "$(rm -rf /) `reboot` && echo pwned",
        "Zoë \"quoted\" \\ back\\slash ünïcødé 💸",
        "<script>alert(1)</script>",
    ];
    for (i, owner) in owners.iter().enumerate() {
        let id = format!("sql:{i}.x-y_z");
        let (s, body) = json(
            app.post(
                "/accounts",
                json!({"account_id": id, "owner": owner, "currency": "EUR"}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 201, "{body}");
        assert_eq!(body["owner"], *owner);
        let view = app
            .eventually(&format!("/accounts/{id}"), |v| v["owner"].is_string())
            .await;
        assert_eq!(view["owner"], *owner, "stored verbatim");
        let (s, d) = json(
            app.post(
                &format!("/accounts/{id}/deposit"),
                json!({"amount": "1", "description": owner}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200, "{d}");
    }
    let (_, events) = json(app.get("/accounts/sql:0.x-y_z/events").await).await;
    assert_eq!(events["events"][1]["data"]["description"], owners[0]);
    let (s, _) = json(app.admin_get("/events").await).await;
    assert_eq!(s, 200, "the events table is still there");
}

/// `projections.enabled = false`: commands and reads of the event store work, the
/// projections' checkpoints do not move (another instance keeps them).
async fn an_instance_without_projectors_leaves_the_read_models_alone(backend: Backend) {
    let options = Options {
        no_projectors: true,
        ..Default::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    open(&app, "quiet", "USD").await;
    let (s, body) = json(
        app.post("/accounts/quiet/deposit", json!({"amount": "5.00"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["balance"], "5.00");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, st) = json(app.admin_get("/admin/projections").await).await;
    let projections = st["projections"].as_array().unwrap();
    assert_eq!(projections.len(), 3);
    for p in projections {
        assert_eq!(p["lag_events"], 2, "{p}: nothing projected here");
    }
    let (s, events) = json(app.get("/accounts/quiet/events").await).await;
    assert_eq!(s, 200);
    assert_eq!(events["events"].as_array().unwrap().len(), 2);
}
