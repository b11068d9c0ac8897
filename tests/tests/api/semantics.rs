//! Idempotent retries, `If-Match`, temporal queries, rebuilds, access tokens, hostile
//! text and an instance without projectors.

use crate::{expect_problem, open};
use ledger_tests::{json, Backend, Options, TestApp, ADMIN};
use reqwest::Method;
use serde_json::json;

pub(crate) async fn an_idempotent_retry_returns_the_first_outcome(backend: Backend) {
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
    // A request refused for its own values is not stored: corrected, it runs under the
    // same key. So is one with more decimals than the account's currency has, though
    // only the account says so: the key's fingerprint holds the amount's value, so a
    // stored refusal of "1.000" would answer the corrected "1.00" too.
    let app = &app;
    let deposit = |amount: &str, key: &'static str| {
        let body = json!({"amount": amount});
        async move {
            let headers = [("idempotency-key", key)];
            app.send(Method::POST, "/accounts/a/deposit", Some(body), &headers)
                .await
        }
    };
    expect_problem(deposit("-1", "fix-1").await, 422, "invalid_amount").await;
    assert_eq!(json(deposit("2", "fix-1").await).await.0, 200);
    expect_problem(deposit("1.000", "fix-2").await, 422, "invalid_amount").await;
    expect_problem(deposit("1.000", "fix-2").await, 422, "invalid_amount").await;
    assert_eq!(json(deposit("1.00", "fix-2").await).await.0, 200);
    let (s, b) = json(deposit("1.000", "fix-2").await).await;
    assert_eq!(
        (s, &b["balance"]),
        (200, &json!("8.00")),
        "the same value: replayed {b}"
    );
    // One refused by the account's state is stored: a retry gets it back.
    let withdraw = |amount: &str| {
        let body = json!({"amount": amount});
        async move {
            let headers = [("idempotency-key", "fix-4")];
            app.send(Method::POST, "/accounts/a/withdraw", Some(body), &headers)
                .await
        }
    };
    expect_problem(withdraw("100").await, 422, "insufficient_funds").await;
    expect_problem(withdraw("1").await, 422, "idempotency_key_reused").await;
    let (_, a) = json(app.get("/accounts/a").await).await;
    assert_eq!(a["balance"], "8.00", "{a}");
}

pub(crate) async fn if_match_guards_against_lost_updates(backend: Backend) {
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

pub(crate) async fn temporal_queries_show_the_past(backend: Backend) {
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
    // An offset's `+` sent unencoded (a query string reads it as a space) is an offset.
    let offset = chrono::DateTime::parse_from_rfc3339(&as_of)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339();
    assert!(offset.ends_with("+02:00"), "{offset}");
    let (s, t2) = json(app.get(&format!("/accounts/a?as_of={offset}")).await).await;
    assert_eq!((s, &t2), (200, &t), "{offset}");
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

pub(crate) async fn rebuilding_projections_keeps_the_views(backend: Backend) {
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
    app.projections_caught_up().await;
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

pub(crate) async fn access_tokens_are_enforced(backend: Backend) {
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
pub(crate) async fn an_instance_without_projectors_leaves_the_read_models_alone(backend: Backend) {
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
