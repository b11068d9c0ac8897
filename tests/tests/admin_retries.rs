//! The admin's POSTs under an `Idempotency-Key`, as every POST: a retry gets the first
//! answer and changes nothing; another request under the key is refused.
//! `POST /admin/api-keys` answers the same secret on any instance, derived again, never
//! stored (`application/src/key_replay.rs`); `POST /admin/rebuild-projections` answers
//! the status it first gave and starts no rebuild.

use std::time::Duration;

use ledger_tests::{json, Backend, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

ledger_tests::on_both_backends!(
    a_retried_key_creation_answers_the_first_key_and_makes_no_other,
    racing_creations_under_one_idempotency_key_make_one_key,
    a_retried_rebuild_answers_its_first_status_and_starts_nothing,
    an_idempotency_key_is_shared_by_key_creations_and_commands,
);

async fn create(app: &TestApp, body: &Value, idem: &str) -> (u16, Value) {
    let auth = format!("Bearer {ADMIN}");
    let headers = [("authorization", auth.as_str()), ("idempotency-key", idem)];
    let r = app
        .send(
            Method::POST,
            "/admin/api-keys",
            Some(body.clone()),
            &headers,
        )
        .await;
    json(r).await
}

async fn keys_named(app: &TestApp, name: &str) -> Vec<Value> {
    let auth = format!("Bearer {ADMIN}");
    let r = app
        .send(
            Method::GET,
            "/admin/api-keys",
            None,
            &[("authorization", &auth)],
        )
        .await;
    let (s, b) = json(r).await;
    assert_eq!(s, 200, "{b}");
    b["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == name)
        .cloned()
        .collect()
}

async fn status_with(app: &TestApp, secret: &str) -> u16 {
    let auth = format!("Bearer {secret}");
    app.send(Method::GET, "/accounts", None, &[("authorization", &auth)])
        .await
        .status()
        .as_u16()
}

async fn a_retried_key_creation_answers_the_first_key_and_makes_no_other(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.spawn_beside().await;
    let body = json!({"name": "payroll", "role": "operator"});
    let idem = "3f0c6a52-54c4-4d8e-a6a4-0d7e3e1f9b21";
    let (s, first) = create(&a, &body, idem).await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(
        status_with(&a, first["secret"].as_str().unwrap()).await,
        200
    );
    // The same request again, here and on another instance: the first answer.
    for app in [&a, &b] {
        let (s, again) = create(app, &body, idem).await;
        assert_eq!((s, &again), (201, &first));
    }
    assert_eq!(keys_named(&a, "payroll").await.len(), 1, "one key made");
    // Another request under the key: refused, nothing made.
    let other = json!({"name": "payroll", "role": "reader"});
    let (s, refused) = create(&a, &other, idem).await;
    assert_eq!(
        (s, refused["code"].clone()),
        (422, json!("idempotency_key_reused")),
        "{refused}"
    );
    // Another key: another key and secret.
    let (s, second) = create(&a, &body, "another-key-7c1e").await;
    assert_eq!(s, 201, "{second}");
    assert_ne!(second["key_id"], first["key_id"]);
    assert_ne!(second["secret"], first["secret"]);
    assert_eq!(keys_named(&a, "payroll").await.len(), 2);
    // Revoked, the key stays revoked: a retry answers what the first request did and
    // makes nothing again.
    let path = format!("/admin/api-keys/{}", first["key_id"].as_str().unwrap());
    let auth = format!("Bearer {ADMIN}");
    let r = a
        .send(Method::DELETE, &path, None, &[("authorization", &auth)])
        .await;
    assert_eq!(r.status(), 204);
    let (s, after) = create(&a, &body, idem).await;
    assert_eq!((s, &after), (201, &first));
    assert_eq!(
        status_with(&a, first["secret"].as_str().unwrap()).await,
        401
    );
    assert_eq!(keys_named(&a, "payroll").await.len(), 1, "only the second");
}

async fn racing_creations_under_one_idempotency_key_make_one_key(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.spawn_beside().await;
    for round in 0..5 {
        let body = json!({"name": format!("race-{round}"), "role": "reader"});
        let idem = format!("race-{round}-e1b7c3d0");
        let answers = futures_util::future::join_all((0..8).map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            create(app, &body, &idem)
        }))
        .await;
        let (s, first) = &answers[0];
        assert_eq!(*s, 201, "{first}");
        for (s, answer) in &answers {
            assert_eq!((s, answer), (&201, first), "round {round}");
        }
        let name = format!("race-{round}");
        assert_eq!(keys_named(&a, &name).await.len(), 1, "round {round}");
        assert_eq!(
            status_with(&b, first["secret"].as_str().unwrap()).await,
            200
        );
    }
}

async fn rebuild(app: &TestApp, query: &str, idem: &str) -> (u16, Value) {
    let auth = format!("Bearer {ADMIN}");
    let headers = [("authorization", auth.as_str()), ("idempotency-key", idem)];
    let path = format!("/admin/rebuild-projections{query}");
    json(app.send(Method::POST, &path, None, &headers).await).await
}

/// The projections' statuses once all are live and caught up.
async fn settled(app: &TestApp) -> Value {
    for _ in 0..300 {
        let (s, b) = json(app.admin_get("/admin/projections").await).await;
        assert_eq!(s, 200, "{b}");
        let all = b["projections"].as_array().unwrap();
        if all
            .iter()
            .all(|p| p["state"] == "live" && p["lag_events"] == 0)
        {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the projections did not settle");
}

async fn deposit(app: &TestApp, id: &str) {
    let body = json!({"amount": "1.00"});
    let r = app.post(&format!("/accounts/{id}/deposit"), body).await;
    assert_eq!(r.status(), 200);
}

async fn a_retried_rebuild_answers_its_first_status_and_starts_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .post(
            "/accounts",
            json!({"account_id": "acc-1", "owner": "ada", "currency": "USD"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // Enough events that a rebuild is seen running for a while after it starts.
    let ops: Vec<Value> = (0..1000)
        .map(|_| json!({"op": "deposit", "account_id": "acc-1", "amount": "0.01"}))
        .collect();
    for _ in 0..4 {
        let r = app.post("/batches", json!({"operations": ops})).await;
        assert_eq!(r.status(), 200);
    }
    settled(&app).await;
    let (s, first) = rebuild(&app, "?projection=analytics", "rebuild-7f2a").await;
    assert_eq!(s, 202, "{first}");
    // Once the rebuild is done and the views have moved on, a fresh answer would show
    // the new positions; the retry answers the first one, here and on another instance.
    settled(&app).await;
    deposit(&app, "acc-1").await;
    let now = settled(&app).await;
    assert_ne!(now, first, "the views moved on");
    let beside = app.spawn_beside().await;
    for instance in [&app, &beside] {
        let (s, again) = rebuild(instance, "?projection=analytics", "rebuild-7f2a").await;
        assert_eq!((s, &again), (202, &first));
        // Nothing started: a rebuild of 4,000 events would be seen running now.
        let (_, statuses) = json(app.admin_get("/admin/projections").await).await;
        assert_eq!(statuses, now, "a retry started a rebuild");
    }
    // Another request under the key: refused.
    let (s, refused) = rebuild(&app, "", "rebuild-7f2a").await;
    assert_eq!(
        (s, refused["code"].clone()),
        (422, json!("idempotency_key_reused")),
        "{refused}"
    );
}

async fn an_idempotency_key_is_shared_by_key_creations_and_commands(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let auth = format!("Bearer {ADMIN}");
    let open = json!({"account_id": "acc-9", "owner": "ada", "currency": "USD"});
    let headers = [
        ("authorization", auth.as_str()),
        ("idempotency-key", "shared-1"),
    ];
    let r = app
        .send(Method::POST, "/accounts", Some(open), &headers)
        .await;
    assert_eq!(r.status(), 201);
    // A key a command used: another request, refused, and no key made.
    let body = json!({"name": "shared", "role": "reader"});
    let (s, refused) = create(&app, &body, "shared-1").await;
    assert_eq!(
        (s, refused["code"].clone()),
        (422, json!("idempotency_key_reused"))
    );
    assert!(keys_named(&app, "shared").await.is_empty());
    // A key a key creation used: refused for a command, and the key still replays.
    let (s, made) = create(&app, &body, "shared-2").await;
    assert_eq!(s, 201, "{made}");
    let headers = [
        ("authorization", auth.as_str()),
        ("idempotency-key", "shared-2"),
    ];
    let deposit = json!({"amount": "1.00"});
    let r = app
        .send(
            Method::POST,
            "/accounts/acc-9/deposit",
            Some(deposit),
            &headers,
        )
        .await;
    let (s, refused) = json(r).await;
    assert_eq!(
        (s, refused["code"].clone()),
        (422, json!("idempotency_key_reused"))
    );
    assert_eq!(create(&app, &body, "shared-2").await, (201, made));
    assert_eq!(keys_named(&app, "shared").await.len(), 1);
}
