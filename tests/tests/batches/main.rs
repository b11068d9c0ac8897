//! Issue 17: batches, atomic and not, over HTTP on PostgreSQL + Redis and on SQLite.
//! `atomic.rs`: atomic batches, alone and racing; `requests.rs`: non-atomic batches,
//! refused requests and the idempotency key.

mod atomic;
mod requests;

use std::sync::Arc;

use atomic::*;
use ledger_tests::{json, Backend, TestApp};
use requests::*;
use reqwest::Method;
use serde_json::{json, Value};

ledger_tests::on_both_backends!(
    an_atomic_batch_with_a_failing_fifth_operation_writes_nothing,
    a_batch_opens_accounts_and_uses_them,
    a_non_atomic_batch_answers_each_operation,
    malformed_and_oversized_batches_are_refused_whole,
    concurrent_atomic_batches_in_both_directions_keep_the_bank_invariant,
    one_idempotency_key_covers_the_whole_batch,
    non_atomic_batches_ignore_if_match_and_keep_refusals_apart,
    a_key_with_a_hash_is_not_a_batch_operations_key,
    a_retried_batch_never_settles_a_transfer_made_since,
);

async fn batch(app: &TestApp, body: Value) -> (u16, Value) {
    json(app.post("/batches", body).await).await
}

async fn version(app: &TestApp, id: &str) -> Value {
    let (_, a) = json(app.get(&format!("/accounts/{id}?version=999999")).await).await;
    a["version"].clone()
}

async fn open_funded(app: &TestApp, ids: &[&str], amount: &str) {
    let mut ops = Vec::new();
    for id in ids {
        ops.push(json!({"op": "open_account", "account_id": id, "owner": "O", "currency": "USD"}));
        ops.push(json!({"op": "deposit", "account_id": id, "amount": amount}));
    }
    let (s, b) = batch(app, json!({"operations": ops})).await;
    assert_eq!(s, 200, "{b}");
}

/// A POST's head alone, declaring a body of `length` bytes: the answer, as read until
/// the server closes the connection.
pub(crate) async fn head_only(app: &TestApp, path: &str, length: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.expect("head");
    let mut answer = Vec::new();
    let read = tcp.read_to_end(&mut answer);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), read).await;
    String::from_utf8_lossy(&answer).into_owned()
}
