//! Issue 14, item 2: two instances on one store asked to rebuild at the same moment.
//! One rebuild runs; the other request answers 202 with the running rebuild's status
//! and starts nothing; both end live, with no error, and the views unchanged.

use std::time::Duration;

use ledger_tests::{json, Backend, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_rebuilds_on_postgres() {
    racing_rebuilds(Backend::PostgresRedis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_rebuilds_on_sqlite() {
    racing_rebuilds(Backend::Sqlite).await;
}

async fn rebuild(app: &TestApp, query: &str) -> (u16, Value) {
    let auth = format!("Bearer {ADMIN}");
    json(
        app.send(
            Method::POST,
            &format!("/admin/rebuild-projections{query}"),
            None,
            &[("authorization", &auth)],
        )
        .await,
    )
    .await
}

/// Waits until every projection is live and caught up, as both instances report it
/// (from the store); no projection may fail or carry an error meanwhile.
async fn settled(a: &TestApp, b: &TestApp) {
    for _ in 0..800 {
        let mut done = true;
        for app in [a, b] {
            let (s, st) = json(app.admin_get("/admin/projections").await).await;
            assert_eq!(s, 200, "{st}");
            for p in st["projections"].as_array().expect("projections") {
                assert_ne!(p["state"], "failed", "{st}");
                assert!(p["last_error"].is_null(), "{st}");
                done &= p["state"] == "live" && p["lag_events"] == 0;
            }
        }
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the rebuilds never settled");
}

async fn racing_rebuilds(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.spawn_beside().await;
    for i in 0..40 {
        let (s, _) = json(
            a.post(
                "/accounts",
                json!({"account_id": format!("r{i}"), "owner": "O", "currency": "USD"}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 201);
        let (s, _) = json(
            b.post(&format!("/accounts/r{i}/deposit"), json!({"amount": i + 1}))
                .await,
        )
        .await;
        assert_eq!(s, 200);
    }
    settled(&a, &b).await;
    let (_, before) = json(a.get("/analytics/summary").await).await;
    assert_eq!(before["currencies"][0]["total_balance"], "820.00");
    for round in 0..12 {
        // All three, or one against all three: the claim covers every projection.
        let (qa, qb) = if round % 3 == 2 {
            ("?projection=analytics", "")
        } else {
            ("", "")
        };
        let ((sa, ba), (sb, bb)) = tokio::join!(rebuild(&a, qa), rebuild(&b, qb));
        assert_eq!((sa, sb), (202, 202), "round {round}: {ba} {bb}");
        // Each answer is a status read from the store.
        for body in [&ba, &bb] {
            assert_eq!(body["projections"].as_array().map(Vec::len), Some(3));
        }
        settled(&a, &b).await;
        let (_, after) = json(b.get("/analytics/summary").await).await;
        assert_eq!(after, before, "round {round}");
        let (_, view) = json(a.get("/accounts/r39").await).await;
        assert_eq!(view["balance"], "40.00");
    }
}
