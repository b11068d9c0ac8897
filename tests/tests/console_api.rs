//! The routes the web console relies on, on both backends: `GET /whoami` for every
//! role, `GET /events/stream?after=end`, `GET /admin/seals/latest` (a valid seal, then
//! the same seal with a changed signature), and the console's files served without a
//! key on a closed API.

use std::process::Command;
use std::time::Duration;

use ledger_tests::sse::SseReader;
use ledger_tests::tamper::Store;
use ledger_tests::{json, ledger_binary, on_both_backends, Backend, Options, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    token: &str,
) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    json(
        app.send(method, path, body, &[("authorization", &auth)])
            .await,
    )
    .await
}

async fn key(app: &TestApp, role: &str, owner: Option<&str>) -> (String, String) {
    let body = json!({"name": role, "role": role, "owner": owner});
    let (s, b) = call(app, Method::POST, "/admin/api-keys", Some(body), ADMIN).await;
    assert_eq!(s, 201, "{b}");
    (
        b["key_id"].as_str().unwrap().into(),
        b["secret"].as_str().unwrap().into(),
    )
}

async fn whoami_names_each_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // An open API: anyone is the anonymous operator.
    let (s, me) = json(app.get("/whoami").await).await;
    assert_eq!(
        (s, me),
        (
            200,
            json!({"actor": "anonymous", "role": "operator", "owner": null})
        )
    );
    let (owner_id, owner) = key(&app, "owner", Some("Ada")).await;
    let (reader_id, reader) = key(&app, "reader", None).await;
    let expected = [
        (
            owner,
            json!({"actor": format!("key:{owner_id}"), "role": "owner", "owner": "Ada"}),
        ),
        (
            reader,
            json!({"actor": format!("key:{reader_id}"), "role": "reader", "owner": null}),
        ),
        (
            ADMIN.to_owned(),
            json!({"actor": "admin", "role": "admin", "owner": null}),
        ),
    ];
    for (secret, me) in expected {
        assert_eq!(
            call(&app, Method::GET, "/whoami", None, &secret).await,
            (200, me)
        );
    }
    // Closed now: no key, or an unknown one, is 401.
    assert_eq!(json(app.get("/whoami").await).await.0, 401);
    assert_eq!(
        call(&app, Method::GET, "/whoami", None, "ledger_sk_nope")
            .await
            .0,
        401
    );
    // The console itself needs no key; a file it does not have is 404 `not_found`.
    for path in ["/console", "/console/app.js", "/console/uPlot.LICENSE"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    let (s, problem) = json(app.get("/console/nothing.js").await).await;
    assert_eq!((s, problem["code"].as_str()), (404, Some("not_found")));
}

async fn the_feed_from_its_end_delivers_only_what_commits_later(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let open = json!({"account_id": "e-1", "owner": "Ada", "currency": "USD"});
    assert_eq!(json(app.post("/accounts", open).await).await.0, 201);
    for _ in 0..3 {
        app.post("/accounts/e-1/deposit", json!({"amount": "1.00"}))
            .await;
    }
    let url = format!("{}/events/stream?after=end", app.base);
    let mut live = SseReader::connect(&url, &[]).await;
    app.post("/accounts/e-1/withdraw", json!({"amount": "2.00"}))
        .await;
    // SQLite: the withdrawal comes first. PostgreSQL: the feed's safe end may stop short
    // of the newest events while other transactions of the server are open (other
    // tests'), so a few older ones may come first; the withdrawal comes, once.
    let mut before = 0;
    loop {
        let (_, event, data) = live
            .next_event(Duration::from_secs(10))
            .await
            .expect("an event");
        let body: Value = serde_json::from_str(&data).expect("json");
        if (event.as_str(), &body["version"]) == ("MoneyWithdrawn", &json!(5)) {
            break;
        }
        before += 1;
        assert!(before <= 4, "only the four earlier events may come first");
    }
    if backend == Backend::Sqlite {
        assert_eq!(before, 0, "on SQLite the end is exact");
    }
    let (s, problem) = json(app.get("/events/stream?after=start").await).await;
    assert_eq!(
        (s, problem["code"].as_str()),
        (422, Some("validation_failed"))
    );
}

async fn the_latest_seal_shows_its_signature_checked(backend: Backend) {
    let dir = std::env::temp_dir().join(format!("ledger-seal-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pem = dir.join("seal.pem");
    let made = Command::new(ledger_binary())
        .args(["keys", "generate", "--out"])
        .arg(&pem)
        .output();
    assert!(made.expect("runs").status.success());
    let options = Options {
        signing_key: Some(pem.display().to_string()),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let (s, problem) = call(&app, Method::GET, "/admin/seals/latest", None, ADMIN).await;
    assert_eq!(
        (s, problem["code"].as_str()),
        (404, Some("not_found")),
        "nothing sealed yet"
    );
    let open = json!({"account_id": "s-1", "owner": "Ada", "currency": "USD"});
    assert_eq!(json(app.post("/accounts", open).await).await.0, 201);
    let mut latest = Value::Null;
    // Up to about 20 s: a seal is made within a second or two, longer on a loaded machine.
    for _ in 0..200 {
        let (s, b) = call(&app, Method::GET, "/admin/seals/latest", None, ADMIN).await;
        if s == 200 {
            latest = b;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(latest["signature"], "valid", "{latest}");
    assert_eq!(
        (&latest["events"], &latest["version"]),
        (&json!(1), &json!(1)),
        "{latest}"
    );
    let (_, reader) = key(&app, "reader", None).await;
    assert_eq!(
        call(&app, Method::GET, "/admin/seals/latest", None, &reader)
            .await
            .0,
        403
    );

    // The same seal with another signature no longer verifies.
    let store = Store::at(&app.storage_url());
    let mut seal = store.events("$seals").await.pop().expect("a seal");
    let mut data: Value = serde_json::from_str(&seal.data).expect("json");
    data["signature"] = json!("00".repeat(64));
    seal.data = data.to_string();
    store.rewrite(&seal).await;
    let (s, b) = call(&app, Method::GET, "/admin/seals/latest", None, ADMIN).await;
    assert_eq!((s, b["signature"].as_str()), (200, Some("invalid")), "{b}");
    let _ = std::fs::remove_dir_all(dir);
}

on_both_backends!(
    whoami_names_each_role,
    the_feed_from_its_end_delivers_only_what_commits_later,
    the_latest_seal_shows_its_signature_checked,
);
