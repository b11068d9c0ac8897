//! A batch that settles a stored transfer and also names its id in a transfer of its
//! own: the settlement acts on the stored transfer's accounts (found by the
//! model-checked API test, where the void was decided against the new operation's
//! accounts and refused with a wrong code and operation).

use ledger_tests::{json, on_both_backends, Backend, TestApp};
use serde_json::{json, Value};

async fn setup(app: &TestApp) {
    for id in ["s0", "s1", "s2", "s3"] {
        let open = json!({"account_id": id, "owner": "O", "currency": "USD"});
        assert_eq!(json(app.post("/accounts", open).await).await.0, 201);
    }
    for id in ["s1", "s3"] {
        let path = format!("/accounts/{id}/deposit");
        let (s, b) = json(app.post(&path, json!({"amount": "10.00"})).await).await;
        assert_eq!(s, 200, "{b}");
    }
    let hold = json!({"transfer_id": "held", "from_account_id": "s3", "to_account_id": "s0",
        "amount": "4.00", "pending": true});
    let (s, b) = json(app.post("/transfers", hold).await).await;
    assert_eq!(s, 201, "{b}");
}

fn reuse(from: &str, to: &str) -> Value {
    json!({"op": "transfer", "transfer_id": "held", "from_account_id": from,
        "to_account_id": to, "amount": "1.00"})
}

async fn an_atomic_batch_is_refused_at_the_operation_reusing_the_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let body = json!({"atomic": true, "operations": [
        {"op": "void_transfer", "transfer_id": "held"}, reuse("s1", "s2")]});
    let (s, b) = json(app.post("/batches", body).await).await;
    assert_eq!(
        (s, &b["code"], &b["operation"]),
        (409, &json!("transfer_exists"), &json!(1)),
        "{b}"
    );
    let (_, t) = json(app.get("/transfers/held").await).await;
    assert_eq!(t["status"], "pending", "nothing written: {t}");
}

async fn a_non_atomic_batch_settles_the_stored_transfer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let body = json!({"atomic": false, "operations": [
        reuse("s1", "s2"), {"op": "post_transfer", "transfer_id": "held", "amount": "1.50"}]});
    let (s, b) = json(app.post("/batches", body).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["results"][0]["problem"]["code"], "transfer_exists", "{b}");
    assert_eq!(b["results"][1]["status"], 200, "{b}");
    let posted = &b["results"][1]["body"];
    assert_eq!(
        (&posted["posted_amount"], &posted["remaining"]),
        (&json!("1.50"), &json!("2.50"))
    );
    assert_eq!(
        (&posted["from"]["account_id"], &posted["to"]["account_id"]),
        (&json!("s3"), &json!("s0"))
    );
    assert_eq!(posted["from"]["balance"], "8.50", "{b}");
    for (untouched, balance, version) in [("s1", "10.00", 2), ("s2", "0.00", 1)] {
        let (_, a) = json(app.get(&format!("/accounts/{untouched}?version=99")).await).await;
        assert_eq!(
            (&a["balance"], &a["version"]),
            (&json!(balance), &json!(version)),
            "{a}"
        );
    }
}

on_both_backends!(
    an_atomic_batch_is_refused_at_the_operation_reusing_the_id,
    a_non_atomic_batch_settles_the_stored_transfer,
);
