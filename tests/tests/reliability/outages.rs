//! PostgreSQL and Redis outages: 503s and recovery, degraded but no failed command.

use super::*;

/// Serves settings in the background; returns the base URL and the stop switch.
async fn serve(settings: ledger_bootstrap::Settings) -> (String, tokio::sync::oneshot::Sender<()>) {
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    (base, tx)
}

fn pg_upstream() -> String {
    let url = std::env::var("LEDGER_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
    let after_at = url.rsplit('@').next().unwrap_or("127.0.0.1:5432");
    after_at
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:5432")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_outage_answers_503_and_recovers_by_itself() {
    let db = TestDatabase::create().await;
    // Migrate directly, then run the application through a proxy we can cut.
    let pool = ledger_postgres::pool(&db.url, 2).unwrap();
    ledger_postgres::migrate(&pool).await.unwrap();
    pool.close().await;
    let mut proxy = Proxy::start(&pg_upstream()).await;
    let url = db
        .url
        .replacen(&pg_upstream(), &format!("127.0.0.1:{}", proxy.port), 1);
    let mut s = settings(url, redis_url(), &Options::default());
    s.server.request_timeout_ms = 8000;
    let (base, tx) = serve(s).await;
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).json(&body).send();
    assert_eq!(
        post(
            "/accounts",
            json!({"account_id": "p", "owner": "P", "currency": "USD"})
        )
        .await
        .unwrap()
        .status(),
        201
    );

    proxy.cut();
    let started = Instant::now();
    let r = post("/accounts/p/deposit", json!({"amount": 1}))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let (_, body) = json(r).await;
    assert_eq!(body["code"], "service_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "answered within the request timeout"
    );
    assert_eq!(
        client
            .get(format!("{base}/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        client
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the process stays up"
    );

    proxy.restore().await;
    let mut recovered = false;
    for _ in 0..60 {
        if post("/accounts/p/deposit", json!({"amount": 1}))
            .await
            .unwrap()
            .status()
            == 200
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "commands succeed again once PostgreSQL is back");
    let _ = tx.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_fails_no_command_and_shows_as_degraded() {
    let db = TestDatabase::create().await;
    let redis_host = redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let mut proxy = Proxy::start(&redis_host).await;
    let mut s = settings(
        db.url.clone(),
        format!("redis://127.0.0.1:{}", proxy.port),
        &Options::default(),
    );
    s.snapshots.every = 2;
    let (base, tx) = serve(s).await;
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).json(&body).send();
    assert_eq!(
        post(
            "/accounts",
            json!({"account_id": "r", "owner": "R", "currency": "USD"})
        )
        .await
        .unwrap()
        .status(),
        201
    );
    proxy.cut();
    for _ in 0..30 {
        assert_eq!(
            post("/accounts/r/deposit", json!({"amount": "0.01"}))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let (s, ready) = json(client.get(format!("{base}/ready")).send().await.unwrap()).await;
    assert_eq!((s, ready["snapshots"].clone()), (200, json!("degraded")));
    proxy.restore().await;
    let mut back = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        post("/accounts/r/deposit", json!({"amount": "0.01"}))
            .await
            .unwrap();
        let (_, ready) = json(client.get(format!("{base}/ready")).send().await.unwrap()).await;
        if ready["snapshots"] == "ok" {
            back = true;
            break;
        }
    }
    assert!(back, "snapshots resume when Redis returns");
    let (_, view) = json(
        client
            .get(format!("{base}/accounts/r?version=1000"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(cents(&view["balance"]) >= 30);
    let _ = tx.send(());
}
