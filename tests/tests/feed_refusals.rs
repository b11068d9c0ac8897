//! The live feeds' refusals, on both backends: no or a wrong token, unreadable or
//! doubled cursors and `Last-Event-ID`s, misspelt or repeated parameters, accounts that do not
//! exist, doubled `Authorization` headers; the admin reads the feed too.

use ledger_tests::sse::open;
use ledger_tests::{on_both_backends, Backend, Options, TestApp, ADMIN};
use serde_json::Value;

async fn refusals(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        Options {
            api_tokens: vec!["reader-token".into()],
            ..Options::default()
        },
    )
    .await;
    let auth = [("authorization", "Bearer reader-token")];
    let status = |path: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let url = format!("{}{path}", app.base);
        async move {
            let r = open(&url, &headers).await;
            let s = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (s, body["code"].as_str().unwrap_or_default().to_owned())
        }
    };
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("/events/stream", vec![], 401, "unauthorized"),
        (
            "/events/stream",
            vec![("authorization", "Bearer wrong")],
            401,
            "unauthorized",
        ),
        (
            "/events/stream?after=bogus",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/events/stream?event_type=Nope",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        // A parameter takes one value: "A or B" must not deliver B alone.
        (
            "/events/stream?event_type=AccountOpened&event_type=MoneyDeposited",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/events?after=1-1&after=5-5",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/audit?event_type=AccountOpened&event_type=MoneyDeposited",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/audit?account_id=transfer%2Ft1",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/accounts?cursor=%FF%FF",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        ("/accounts?cursor=", auth.to_vec(), 422, "validation_failed"),
        (
            "/accounts?owner=%20%20",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/audit?request_id=",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/transfers?account_id=a%2Fb",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/events/stream?stram_id=x",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/events/stream",
            vec![auth[0], ("last-event-id", "1-x")],
            422,
            "validation_failed",
        ),
        (
            "/events/stream?after=1-1",
            vec![auth[0], ("last-event-id", "end")],
            422,
            "validation_failed",
        ),
        (
            "/events/stream",
            vec![auth[0], ("last-event-id", "1-1"), ("last-event-id", "1-2")],
            422,
            "validation_failed",
        ),
        (
            "/events/stream",
            vec![auth[0], ("authorization", "Bearer reader-token")],
            401,
            "unauthorized",
        ),
        (
            "/accounts/nobody/events/stream",
            auth.to_vec(),
            404,
            "account_not_found",
        ),
        (
            "/accounts/a%20b/events/stream",
            auth.to_vec(),
            404,
            "account_not_found",
        ),
        (
            "/accounts/nobody/events/stream?after_version=-1",
            auth.to_vec(),
            422,
            "validation_failed",
        ),
    ];
    for (path, headers, want, code) in cases {
        assert_eq!(
            status(path, headers.clone()).await,
            (want, code.to_owned()),
            "{path} {headers:?}"
        );
    }
    let r = open(
        &format!("{}/events/stream", app.base),
        &[("authorization", &format!("Bearer {ADMIN}"))],
    )
    .await;
    assert_eq!(r.status().as_u16(), 200, "the admin reads the feed too");
}

on_both_backends!(refusals);
