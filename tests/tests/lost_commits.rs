//! A commit whose answer never arrives. PostgreSQL is made to wait, after committing
//! locally, for a synchronous standby that does not exist (`synchronous_standby_names`),
//! and the test ends the service's waiting session (`pg_terminate_backend`), as a lost
//! connection or a server restart at that moment would: the command is committed, but
//! the service cannot know it. It must answer 503 saying the command may have taken
//! effect (never "retry later", which a client without an `Idempotency-Key` would obey
//! and so move the money twice), and a retry with the same key answers the first
//! outcome, written once.

use std::time::Duration;

use ledger_bootstrap::Application;
use ledger_tests::private::PrivatePostgres;
use ledger_tests::{open_usd, settings, Options};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection, Row};

/// Ends the sessions waiting to commit an append (its INSERT) once one waits: how
/// many it ended.
async fn end_the_waiting_writer(admin: &mut PgConnection) -> usize {
    for _ in 0..300 {
        let ended = sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE wait_event = 'SyncRep' AND query ILIKE '%INSERT INTO events%'",
        )
        .fetch_all(&mut *admin)
        .await
        .expect("terminate");
        if !ended.is_empty() {
            assert!(ended.iter().all(|r| r.get::<bool, _>(0)), "ended");
            return ended.len();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no append waited for the standby");
}

async fn standby_required(admin: &mut PgConnection, required: bool) {
    let set = match required {
        true => "ALTER SYSTEM SET synchronous_standby_names = 'nobody'",
        false => "ALTER SYSTEM RESET synchronous_standby_names",
    };
    admin.execute(set).await.expect("alter system");
    admin
        .execute("SELECT pg_reload_conf()")
        .await
        .expect("reload");
    // The setting reaches every backend at its next command; give the reload a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn balance(http: &reqwest::Client, base: &str, id: &str) -> Value {
    let r = http
        .get(format!("{base}/accounts/{id}"))
        .send()
        .await
        .expect("read");
    r.json::<Value>().await.expect("json")["balance"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_whose_answer_is_lost_is_answered_as_maybe_done() {
    let cluster = PrivatePostgres::start();
    let app = Application::build(settings(
        cluster.url(),
        "memory".into(),
        &Options::default(),
    ))
    .await
    .expect("builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = tokio::spawn(app.run_until(std::future::pending::<()>()));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    for id in ["a", "b"] {
        open_usd(&http, &base, id).await;
    }
    let r = http
        .post(format!("{base}/accounts/a/deposit"))
        .json(&json!({"amount": "20.00"}))
        .send()
        .await;
    assert_eq!(r.expect("deposit").status(), 200);
    let mut admin = PgConnection::connect(&cluster.url()).await.expect("admin");

    // A deposit without a key: committed, and its answer lost.
    standby_required(&mut admin, true).await;
    let deposit = http
        .post(format!("{base}/accounts/a/deposit"))
        .json(&json!({"amount": "5.00"}))
        .send();
    let (answer, ended) = tokio::join!(deposit, end_the_waiting_writer(&mut admin));
    assert_eq!(ended, 1);
    let answer = answer.expect("answered");
    assert_eq!(answer.status(), 503);
    let body: Value = answer.json().await.expect("problem");
    assert_eq!(body["code"], "service_unavailable");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("may have taken effect") && !detail.contains("retry later"),
        "the client is told the deposit may be done: {body}"
    );

    // A transfer with a key: the same, and its retry answers the first outcome.
    let transfer = || {
        http.post(format!("{base}/transfers"))
            .header("Idempotency-Key", "lost-transfer")
            .json(&json!({"transfer_id": "t1", "from_account_id": "a",
                "to_account_id": "b", "amount": "3.00"}))
            .send()
    };
    let (answer, ended) = tokio::join!(transfer(), end_the_waiting_writer(&mut admin));
    assert_eq!(ended, 1);
    assert_eq!(answer.expect("answered").status(), 503);
    standby_required(&mut admin, false).await;
    let retried = transfer().await.expect("retried");
    assert_eq!(retried.status(), 201, "the first outcome, replayed");
    let retried: Value = retried.json().await.expect("transfer");
    assert_eq!(retried["from"]["balance"], "22.00");

    // Both were committed once; the service writes on.
    assert_eq!(balance(&http, &base, "a").await, "22.00");
    assert_eq!(balance(&http, &base, "b").await, "3.00");
    let r = http
        .post(format!("{base}/accounts/b/deposit"))
        .json(&json!({"amount": "1.00"}))
        .send()
        .await;
    assert_eq!(r.expect("deposit").status(), 200);
    assert_eq!(balance(&http, &base, "b").await, "4.00");
    server.abort();
}
