//! What an owner key may not learn, and a caller whose access ends while its request is
//! under way (black-box testing found each): a `currency_mismatch` named the other
//! owner's currency; a stream opened with no credential while the API was open went on
//! after the first key closed it; a 401 named no scheme; a command whose body arrived
//! after its key was revoked (or the open API closed) was written.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use ledger_tests::sse::{Frame, SseReader};
use ledger_tests::{json, Backend, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

ledger_tests::on_both_backends!(
    a_currency_mismatch_names_only_the_payers_currency,
    an_open_apis_stream_ends_when_the_api_closes,
    a_command_whose_access_ends_before_its_body_writes_nothing,
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

/// A deposit's head sent with `authorization` (if any), then `end_access`, then its
/// body: the answer's status line and body.
async fn deposit_around(
    app: &TestApp,
    authorization: &str,
    end_access: impl std::future::Future,
) -> String {
    let body = r#"{"amount": "5"}"#;
    let head = format!(
        "POST /accounts/a/deposit HTTP/1.1\r\nHost: x\r\n{authorization}Content-Type: \
         application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let address = app.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    tcp.write_all(head.as_bytes()).await.expect("head");
    // The head is read and its caller admitted while the body has not come.
    tokio::time::sleep(Duration::from_millis(300)).await;
    end_access.await;
    tcp.write_all(body.as_bytes()).await.expect("body");
    let mut answer = Vec::new();
    let read = tcp.read_to_end(&mut answer);
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("answered")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// An open API with account `a`, closed by its first key while a deposit's head has
/// come and its body has not. A machine too loaded to read the head within the pause
/// refuses it as the closed API it then is ("a bearer token is required"): legal, but
/// not the case under test, so the scenario runs again on a fresh ledger (three tries).
async fn closed_by_the_first_key(backend: Backend) -> TestApp {
    for _ in 0..3 {
        let app = TestApp::spawn(backend).await;
        let body = json!({"account_id": "a", "owner": "o", "currency": "USD"});
        assert_eq!(call(&app, "/accounts", body, ADMIN).await.0, 201);
        let first = json!({"name": "the first", "role": "operator"});
        let answer = deposit_around(&app, "", async {
            let (s, made) = call(&app, "/admin/api-keys", first, ADMIN).await;
            assert_eq!(s, 201, "{made}");
        })
        .await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        if answer.contains("no longer open") {
            return app;
        }
        assert!(answer.contains("a bearer token is required"), "{answer}");
    }
    panic!("the head was never read before the first key, in three tries");
}

async fn a_command_whose_access_ends_before_its_body_writes_nothing(backend: Backend) {
    // An open API closed by its first key.
    let app = closed_by_the_first_key(backend).await;
    // A key revoked.
    let key = json!({"name": "revoked", "role": "operator"});
    let (s, made) = call(&app, "/admin/api-keys", key, ADMIN).await;
    assert_eq!(s, 201, "{made}");
    let bearer = format!(
        "Authorization: Bearer {}\r\n",
        made["secret"].as_str().unwrap()
    );
    let path = format!("/admin/api-keys/{}", made["key_id"].as_str().unwrap());
    let answer = deposit_around(&app, &bearer, async {
        let auth = format!("Bearer {ADMIN}");
        let r = app
            .send(Method::DELETE, &path, None, &[("authorization", &auth)])
            .await;
        assert_eq!(r.status(), 204);
    })
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("unknown or revoked"), "{answer}");
    let auth = format!("Bearer {ADMIN}");
    let r = app
        .send(
            Method::GET,
            "/accounts/a",
            None,
            &[("authorization", &auth)],
        )
        .await;
    let (_, account) = json(r).await;
    assert_eq!(account["balance"], "0.00", "nothing written: {account}");
}
