//! Issue 20: every route × every caller, with the status each must get, on both
//! backends. The table must list every route the OpenAPI document has.

use std::collections::{BTreeSet, HashMap};

use ledger_tests::{json, Backend, Options, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

ledger_tests::on_both_backends!(every_route_answers_every_caller_as_the_table_says);

/// The callers, in the order of each row's statuses.
const CALLERS: [&str; 8] = [
    "admin", "operator", "reader", "owner", "other", "none", "revoked", "wrong",
];

/// A caller's principal is denied (403), refused (401), or lets the call through.
const D: u16 = 403;
const U: u16 = 401;

/// One route: method, OpenAPI path, the concrete path (`{caller}` stands for the
/// caller's name), a body, and the status for each of [`CALLERS`].
type Row = (&'static str, &'static str, &'static str, Value, [u16; 8]);

#[rustfmt::skip] // a table: one route a line
fn table() -> Vec<Row> {
    let deposit = json!({"amount": "1"});
    let open = json!({"owner": "alice", "currency": "USD"});
    let transfer = json!({"from_account_id": "alice-1", "to_account_id": "bob-1", "amount": "1"});
    let batch = json!({"operations": [{"op": "deposit", "account_id": "alice-1", "amount": "1"}]});
    let key = json!({"name": "made in the table", "role": "reader"});
    let limit = json!({"overdraft_limit": "0"});
    let none = || Value::Null;
    let read = [200, 200, 200, 200, 404, U, U, U];
    let write = [200, 200, D, 200, 404, U, U, U];
    let listed = [200, 200, 200, 200, 200, U, U, U];
    let ledger = [200, 200, 200, D, D, U, U, U];
    let admin = |ok: u16| [ok, D, D, D, D, U, U, U];
    let anyone = |ok: u16| [ok; 8];
    vec![
        ("post", "/accounts", "/accounts", open, [201, 201, D, 201, D, U, U, U]),
        ("get", "/accounts", "/accounts", none(), listed),
        ("get", "/accounts/{id}", "/accounts/alice-1", none(), read),
        ("post", "/accounts/{id}/deposit", "/accounts/alice-1/deposit", deposit.clone(), write),
        ("post", "/accounts/{id}/withdraw", "/accounts/alice-1/withdraw", deposit, write),
        ("post", "/accounts/{id}/close", "/accounts/close-{caller}/close", json!({}), write),
        ("post", "/accounts/{id}/limits", "/accounts/alice-1/limits", limit, write),
        ("get", "/accounts/{id}/events", "/accounts/alice-1/events", none(), read),
        ("get", "/accounts/{id}/events/stream", "/accounts/alice-1/events/stream", none(), read),
        ("post", "/transfers", "/transfers", transfer, [201, 201, D, 201, 404, U, U, U]),
        ("get", "/transfers", "/transfers", none(), listed),
        ("get", "/transfers/{id}", "/transfers/t-alice", none(), read),
        ("post", "/transfers/{id}/post", "/transfers/post-{caller}/post", json!({}), write),
        ("post", "/transfers/{id}/void", "/transfers/void-{caller}/void", json!({}), write),
        ("post", "/batches", "/batches", batch, write),
        ("get", "/audit", "/audit", none(), listed),
        ("get", "/analytics/summary", "/analytics/summary", none(), ledger),
        ("get", "/analytics/daily", "/analytics/daily", none(), ledger),
        ("get", "/events", "/events", none(), ledger),
        ("get", "/events/stream", "/events/stream", none(), ledger),
        ("get", "/admin/projections", "/admin/projections", none(), admin(200)),
        ("post", "/admin/rebuild-projections", "/admin/rebuild-projections?projection=audit_log", none(), admin(202)),
        ("post", "/admin/api-keys", "/admin/api-keys", key, admin(201)),
        ("get", "/admin/api-keys", "/admin/api-keys", none(), admin(200)),
        ("delete", "/admin/api-keys/{key_id}", "/admin/api-keys/{victim}", none(), admin(204)),
        ("get", "/health", "/health", none(), anyone(200)),
        ("get", "/ready", "/ready", none(), anyone(200)),
        ("get", "/metrics", "/metrics", none(), anyone(200)),
        ("get", "/openapi.json", "/openapi.json", none(), anyone(200)),
        ("get", "/integrity/public-key", "/integrity/public-key", none(), anyone(404)),
        ("get", "/admin/seals/latest", "/admin/seals/latest", none(), admin(404)),
        ("get", "/whoami", "/whoami", none(), listed),
        ("get", "/console", "/console", none(), anyone(200)),
        ("get", "/console/{file}", "/console/app.js", none(), anyone(200)),
    ]
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let response = app.send(method, path, body, &headers).await;
    let streaming = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        // A live stream never ends: its status is the answer.
        return (response.status().as_u16(), Value::Null);
    }
    json(response).await
}

async fn admin(app: &TestApp, method: &str, path: &str, body: Value) -> Value {
    let (s, b) = call(app, method, path, Some(body), Some(ADMIN)).await;
    assert!((200..300).contains(&s), "{method} {path}: {s} {b}");
    b
}

async fn make_key(app: &TestApp, role: &str, owner: Option<&str>) -> (String, String) {
    let mut body = json!({"name": format!("{role} key"), "role": role});
    if let Some(o) = owner {
        body["owner"] = json!(o);
    }
    let b = admin(app, "post", "/admin/api-keys", body).await;
    let secret = b["secret"].as_str().expect("a secret").to_owned();
    assert!(
        secret.starts_with("ledger_sk_") && secret.len() == 74,
        "{secret}"
    );
    (b["key_id"].as_str().expect("key id").to_owned(), secret)
}

/// Accounts of alice (the owner) and bob (the other owner), and for each caller its
/// own account to close and pending transfers to post and void.
async fn seed(app: &TestApp) {
    for (id, owner) in [("alice-1", "alice"), ("alice-2", "alice"), ("bob-1", "bob")] {
        let body = json!({"account_id": id, "owner": owner, "currency": "USD"});
        admin(app, "post", "/accounts", body).await;
    }
    admin(
        app,
        "post",
        "/accounts/alice-1/deposit",
        json!({"amount": "1000"}),
    )
    .await;
    let pending = |id: String| {
        json!({"transfer_id": id, "from_account_id": "alice-1", "to_account_id": "alice-2",
               "amount": "1", "pending": true})
    };
    admin(app, "post", "/transfers", pending("t-alice".into())).await;
    for caller in CALLERS {
        let body =
            json!({"account_id": format!("close-{caller}"), "owner": "alice", "currency": "USD"});
        admin(app, "post", "/accounts", body).await;
        admin(app, "post", "/transfers", pending(format!("post-{caller}"))).await;
        admin(app, "post", "/transfers", pending(format!("void-{caller}"))).await;
    }
}

async fn every_route_answers_every_caller_as_the_table_says(backend: Backend) {
    let options = Options {
        api_tokens: vec!["op-token".into()],
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    seed(&app).await;
    let mut tokens: HashMap<&str, Option<String>> = HashMap::new();
    tokens.insert("admin", Some(ADMIN.into()));
    tokens.insert("operator", Some(make_key(&app, "operator", None).await.1));
    tokens.insert("reader", Some(make_key(&app, "reader", None).await.1));
    tokens.insert(
        "owner",
        Some(make_key(&app, "owner", Some("alice")).await.1),
    );
    tokens.insert("other", Some(make_key(&app, "owner", Some("bob")).await.1));
    tokens.insert("none", None);
    let (revoked_id, revoked) = make_key(&app, "operator", None).await;
    admin(
        &app,
        "delete",
        &format!("/admin/api-keys/{revoked_id}"),
        Value::Null,
    )
    .await;
    tokens.insert("revoked", Some(revoked));
    tokens.insert("wrong", Some(format!("ledger_sk_{}", "0".repeat(64))));

    let rows = table();
    let mut failures = Vec::new();
    for (method, _, path, body, expected) in &rows {
        for (caller, want) in CALLERS.iter().zip(expected) {
            let mut path = path.replace("{caller}", caller);
            if path.contains("{victim}") {
                path = path.replace("{victim}", &make_key(&app, "reader", None).await.0);
            }
            let token = tokens[caller].as_deref();
            let body = (!body.is_null()).then(|| body.clone());
            let (got, answer) = call(&app, method, &path, body, token).await;
            if got != *want {
                failures.push(format!(
                    "{method} {path} as {caller}: {got}, not {want}: {answer}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong answers:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // The table lists every route of the served contract, and nothing else.
    let (_, doc) = call(&app, "get", "/openapi.json", None, None).await;
    let served: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(p, ops)| {
            let ops = ops.as_object().cloned().unwrap_or_default();
            ops.keys()
                .map(|m| (m.clone(), p.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let listed: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.0.to_owned(), r.1.to_owned()))
        .collect();
    assert_eq!(served, listed, "routes served vs routes in the table");

    // An API token is an operator: it acts, and it is not the admin.
    let (s, b) = call(
        &app,
        "post",
        "/accounts/alice-1/deposit",
        Some(json!({"amount": "1"})),
        Some("op-token"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = call(&app, "get", "/admin/api-keys", None, Some("op-token")).await;
    assert_eq!(s, 403);
}

/// An open API serves callers without a credential, but a bearer token that is sent
/// must be known and readable: a mistyped or revoked one, or an empty one, is 401 and
/// writes nothing (it was served as anonymous, hiding the mistake until the API
/// closed). The routes served to anyone ignore it, and another scheme (a proxy's
/// `Basic`) is not the service's: ignored.
#[tokio::test]
async fn an_open_api_refuses_credentials_it_cannot_read() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (s, _) = call(
        &app,
        "post",
        "/accounts",
        Some(json!(
        {"account_id": "open", "owner": "O", "currency": "USD"})),
        None,
    )
    .await;
    assert_eq!(s, 201);
    let wrong = format!("ledger_sk_{}", "0".repeat(64));
    for header in [
        "Bearer nope".to_owned(),
        format!("Bearer {wrong}"),
        "Bearer ".into(),
        "Bearer".into(),
    ] {
        let deposit = app
            .send(
                Method::POST,
                "/accounts/open/deposit",
                Some(json!({"amount": "1"})),
                &[
                    ("authorization", header.as_str()),
                    ("idempotency-key", "open-1"),
                ],
            )
            .await;
        let (s, b) = json(deposit).await;
        assert_eq!(
            (s, &b["code"]),
            (401, &json!("unauthorized")),
            "{header}: {b}"
        );
        let health = app
            .send(Method::GET, "/health", None, &[("authorization", &header)])
            .await;
        assert_eq!(health.status(), 200, "{header}");
    }
    let (_, account) = call(&app, "get", "/accounts/open", None, None).await;
    assert_eq!(
        (&account["balance"], &account["version"]),
        (&json!("0.00"), &json!(1))
    );
    let proxied = app
        .send(
            Method::POST,
            "/accounts/open/deposit",
            Some(json!({"amount": "1"})),
            &[("authorization", "Basic b3Blbjpub3Bl")],
        )
        .await;
    assert_eq!(proxied.status(), 200, "a proxy's own credential is ignored");
    let (s, who) = call(&app, "get", "/whoami", None, None).await;
    assert_eq!((s, &who["actor"]), (200, &json!("anonymous")));
}
