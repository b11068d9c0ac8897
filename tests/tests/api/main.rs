//! Every row of API.md against the real application, on PostgreSQL + Redis and on the
//! SQLite default.
//! One test binary in three parts: the walkthrough, the error codes, and the
//! semantics (idempotency, `If-Match`, temporal queries, rebuilds, tokens).

mod bodies;
mod errors;
mod semantics;
mod walkthrough;

use bodies::{
    a_misspelt_query_parameter_is_refused, coded_bodies_and_doubled_keys_are_refused,
    only_json_objects_of_the_json_type_are_bodies, unknown_fields_are_refused_not_ignored,
};
use errors::every_error_code_is_a_problem_document;
use ledger_tests::{json, TestApp};
use semantics::{
    access_tokens_are_enforced, an_idempotent_retry_returns_the_first_outcome,
    an_instance_without_projectors_leaves_the_read_models_alone,
    if_match_guards_against_lost_updates, rebuilding_projections_keeps_the_views,
    temporal_queries_show_the_past,
};
use serde_json::{json, Value};
use walkthrough::{a_walkthrough_of_every_read_and_write, daily_analytics_are_paged};

ledger_tests::on_both_backends!(
    a_walkthrough_of_every_read_and_write,
    daily_analytics_are_paged,
    every_error_code_is_a_problem_document,
    only_json_objects_of_the_json_type_are_bodies,
    a_misspelt_query_parameter_is_refused,
    coded_bodies_and_doubled_keys_are_refused,
    unknown_fields_are_refused_not_ignored,
    an_idempotent_retry_returns_the_first_outcome,
    if_match_guards_against_lost_updates,
    temporal_queries_show_the_past,
    rebuilding_projections_keeps_the_views,
    access_tokens_are_enforced,
    an_instance_without_projectors_leaves_the_read_models_alone,
);

pub(crate) async fn open(app: &TestApp, id: &str, currency: &str) -> Value {
    let (status, body) = json(
        app.post(
            "/accounts",
            json!({"account_id": id, "owner": "Ada", "currency": currency}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

pub(crate) async fn expect_problem(r: reqwest::Response, status: u16, code: &str) {
    assert_eq!(
        r.headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("application/problem+json".into()),
        "for {code}"
    );
    let (s, body) = json(r).await;
    assert_eq!(
        (s, body["code"].as_str().unwrap_or("")),
        (status, code),
        "{body}"
    );
    for field in ["type", "title", "status", "detail"] {
        assert!(!body[field].is_null(), "{field} missing in {body}");
    }
}
