//! What an owner key may not learn, and an open API's streams once the API closes
//! (black-box testing found each): a `currency_mismatch` named the other owner's
//! currency; a stream opened with no credential while the API was open went on after
//! the first key closed it; a 401 named no scheme.

use std::time::Duration;

use ledger_tests::sse::{Frame, SseReader};
use ledger_tests::{json, Backend, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

ledger_tests::on_both_backends!(
    a_currency_mismatch_names_only_the_payers_currency,
    an_open_apis_stream_ends_when_the_api_closes,
);

async fn call(app: &TestApp, path: &str, body: Value, token: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str())];
    json(app.send(Method::POST, path, Some(body), &headers).await).await
}

async fn a_currency_mismatch_names_only_the_payers_currency(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = json!({"name": "alice app", "role": "owner", "owner": "alice"});
    let (s, made) = call(&app, "/admin/api-keys", key, ADMIN).await;
    assert_eq!(s, 201, "{made}");
    let alice = made["secret"].as_str().unwrap().to_owned();
    for (id, owner, currency) in [("al", "alice", "USD"), ("bob", "bob", "EUR")] {
        let body = json!({"account_id": id, "owner": owner, "currency": currency});
        assert_eq!(call(&app, "/accounts", body, ADMIN).await.0, 201);
    }
    // A payee of another currency: said, without naming the other owner's currency.
    let t = json!({"from_account_id": "al", "to_account_id": "bob", "amount": "1"});
    let (s, b) = call(&app, "/transfers", t, &alice).await;
    assert_eq!((s, &b["code"]), (422, &json!("currency_mismatch")), "{b}");
    assert!(!b["detail"].as_str().unwrap().contains("EUR"), "{b}");
}

async fn an_open_apis_stream_ends_when_the_api_closes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"account_id": "a", "owner": "o", "currency": "USD"});
    assert_eq!(json(app.post("/accounts", body).await).await.0, 201);
    let url = format!("{}/events/stream?after=end", app.base);
    let mut stream = SseReader::connect(&url, &[]).await;
    let key = json!({"name": "the first", "role": "operator"});
    assert_eq!(call(&app, "/admin/api-keys", key, ADMIN).await.0, 201);
    let r = app.get("/accounts/a").await;
    assert_eq!(r.status(), 401, "closed");
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"ledger\"");
    let deposit = json!({"amount": "1"});
    assert_eq!(
        call(&app, "/accounts/a/deposit", deposit, ADMIN).await.0,
        200
    );
    let mut frames = Vec::new();
    while let Some(frame) = stream.next(Duration::from_secs(10)).await {
        frames.push(frame);
    }
    assert!(
        frames.iter().all(|f| !matches!(f, Frame::Event { .. })),
        "no event once the API closed: {frames:?}"
    );
    let closed = "closed: the API is no longer open: an API key or token is needed";
    assert!(
        frames.contains(&Frame::Comment(closed.into())),
        "{frames:?}"
    );
}
