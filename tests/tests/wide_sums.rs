//! Issue 14, item 1: every total derived from accepted events is representable. Legal
//! amounts that add up past the range of one amount never freeze a read model, on
//! PostgreSQL + Redis and on the SQLite default.

use std::time::Duration;

use ledger_tests::{json, Backend, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

/// The largest USD amount (i64::MAX minor units).
const MAX_USD: &str = "92233720368547758.07";

ledger_tests::on_both_backends!(
    an_account_cycling_the_maximum_keeps_its_view,
    two_accounts_at_the_maximum_add_up_in_the_analytics,
);

async fn ok(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, body) = json(app.post(path, body).await).await;
    assert!(status == 200 || status == 201, "{path}: {status} {body}");
    body
}

async fn open(app: &TestApp, id: &str) {
    ok(
        app,
        "/accounts",
        json!({"account_id": id, "owner": "O", "currency": "USD"}),
    )
    .await;
}

async fn rebuild(app: &TestApp) {
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
    // The rebuild swaps in once it is done; the views must then still add up.
    for _ in 0..400 {
        let (_, st) = json(app.admin_get("/admin/projections").await).await;
        let ps = st["projections"].as_array().expect("projections").clone();
        assert!(ps.iter().all(|p| p["state"] != "failed"), "{st}");
        if ps.iter().all(|p| p["state"] == "live") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the rebuild never finished");
}

async fn an_account_cycling_the_maximum_keeps_its_view(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    open(&app, "cyc").await;
    open(&app, "other").await;
    ok(&app, "/accounts/cyc/deposit", json!({"amount": MAX_USD})).await;
    ok(&app, "/accounts/cyc/withdraw", json!({"amount": MAX_USD})).await;
    let last = ok(&app, "/accounts/cyc/deposit", json!({"amount": "1"})).await;
    assert_eq!(last["balance"], "1.00");
    // Another account moves afterwards: its view must follow.
    ok(&app, "/accounts/other/deposit", json!({"amount": "2.50"})).await;
    for round in ["live", "rebuilt"] {
        app.projections_caught_up().await;
        let (s, view) = json(app.get("/accounts/cyc").await).await;
        assert_eq!(s, 200, "{round}: {view}");
        assert_eq!(view["balance"], "1.00", "{round}");
        assert_eq!(view["total_deposits"], "92233720368547759.07", "{round}");
        assert_eq!(view["total_withdrawals"], MAX_USD, "{round}");
        assert_eq!(view["transaction_count"], 3, "{round}");
        let (_, other) = json(app.get("/accounts/other").await).await;
        assert_eq!(other["balance"], "2.50", "{round}");
        let (_, list) = json(app.get("/accounts?owner=O").await).await;
        assert_eq!(list["accounts"].as_array().map(Vec::len), Some(2), "{list}");
        let (_, sum) = json(app.get("/analytics/summary").await).await;
        let usd = &sum["currencies"][0];
        assert_eq!(usd["total_balance"], "3.50", "{round}: {sum}");
        assert_eq!(usd["total_deposited"], "92233720368547761.57", "{round}");
        assert_eq!(usd["total_withdrawn"], MAX_USD, "{round}");
        let (_, daily) = json(app.get("/analytics/daily?currency=USD").await).await;
        assert_eq!(daily["days"][0]["deposit_volume"], "92233720368547761.57");
        if round == "live" {
            rebuild(&app).await;
        }
    }
}

async fn two_accounts_at_the_maximum_add_up_in_the_analytics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for id in ["max-a", "max-b"] {
        open(&app, id).await;
        ok(
            &app,
            &format!("/accounts/{id}/deposit"),
            json!({"amount": MAX_USD}),
        )
        .await;
    }
    // Room for a credit of 0.07 on max-a, then max-b pays it: max-a is at the maximum
    // again and has taken in more than the maximum.
    ok(&app, "/accounts/max-a/withdraw", json!({"amount": "0.07"})).await;
    ok(
        &app,
        "/transfers",
        json!({"from_account_id": "max-b", "to_account_id": "max-a", "amount": "0.07"}),
    )
    .await;
    for round in ["live", "rebuilt"] {
        app.projections_caught_up().await;
        let (s, sum) = json(app.get("/analytics/summary").await).await;
        assert_eq!(s, 200, "{sum}");
        let usd = &sum["currencies"][0];
        assert_eq!(usd["total_balance"], "184467440737095516.07", "{round}");
        assert_eq!(usd["total_deposited"], "184467440737095516.14", "{round}");
        assert_eq!(usd["total_withdrawn"], "0.07", "{round}");
        assert_eq!(usd["transfer_volume"], "0.07", "{round}");
        assert_eq!(usd["open_accounts"], 2, "{round}");
        let (s, a) = json(app.get("/accounts/max-a").await).await;
        assert_eq!(s, 200, "{a}");
        assert_eq!(a["balance"], MAX_USD, "{round}");
        assert_eq!(a["total_deposits"], "92233720368547758.14", "{round}");
        if round == "live" {
            rebuild(&app).await;
        }
    }
}
