//! Issue 16: pending (two-phase) transfers, available balances and overdraft limits
//! over HTTP, on PostgreSQL + Redis and on the SQLite default.
//! `steps.rs`: every step and refusal; `concurrency.rs`: races (settlements racing
//! each other, and the expirer), expiries across instances and overdraft limits.

mod concurrency;
mod steps;

use concurrency::{
    a_transfer_made_on_another_instance_can_be_settled_here,
    expiries_are_recorded_once_by_two_instances,
    limits_let_an_account_go_below_zero_as_far_as_they_allow,
    racing_posts_voids_and_withdrawals_never_overdo_anything,
    settlements_racing_the_expirer_settle_each_transfer_once,
};
use ledger_tests::{json, TestApp};
use serde_json::{json, Value};
use steps::{refusals_write_nothing, reserve_partial_post_and_void};

ledger_tests::on_both_backends!(
    reserve_partial_post_and_void,
    refusals_write_nothing,
    racing_posts_voids_and_withdrawals_never_overdo_anything,
    expiries_are_recorded_once_by_two_instances,
    limits_let_an_account_go_below_zero_as_far_as_they_allow,
    a_transfer_made_on_another_instance_can_be_settled_here,
    settlements_racing_the_expirer_settle_each_transfer_once,
);

pub(crate) async fn open(app: &TestApp, id: &str, extra: Value) -> Value {
    let mut body = json!({"account_id": id, "owner": "O", "currency": "USD"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (s, b) = json(app.post("/accounts", body).await).await;
    assert_eq!(s, 201, "{b}");
    b
}

pub(crate) async fn deposit(app: &TestApp, id: &str, amount: &str) {
    let (s, b) = json(
        app.post(
            &format!("/accounts/{id}/deposit"),
            json!({"amount": amount}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

pub(crate) async fn reserve(
    app: &TestApp,
    id: &str,
    amount: &str,
    expires: Option<u64>,
) -> (u16, Value) {
    let mut body = json!({"transfer_id": id, "from_account_id": "a", "to_account_id": "b",
                          "amount": amount, "pending": true});
    if let Some(s) = expires {
        body["expires_in_seconds"] = json!(s);
    }
    json(app.post("/transfers", body).await).await
}

pub(crate) async fn reserve_with(app: &TestApp, id: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"transfer_id": id, "from_account_id": "a", "to_account_id": "b",
                          "amount": "1", "pending": true});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    json(app.post("/transfers", body).await).await
}
