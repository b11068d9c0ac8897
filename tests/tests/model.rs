//! A model-checked API (issue 23, part 1, so far): random sequences of commands (open,
//! deposit with and without `If-Match`, withdraw, transfers posted at once and pending,
//! post in part or whole, void, limits, close, idempotent retries) sent over HTTP to the
//! real service on both backends, each answer checked against the pure model
//! (`ledger_tests::model`); after each sequence every account's view, every version's
//! temporal query and every transfer equal the model's, and `ledger verify` finds
//! nothing. A failure shrinks to a minimal sequence. `LEDGER_MODEL_CASES` scales it
//! (25 sequences of 80-100 commands by default: at least 2,000 commands a backend).

use std::sync::atomic::{AtomicUsize, Ordering};

use ledger_tests::model::{Model, Op};
use ledger_tests::model_http::{
    allowed, check_batch, fail, request, same_account, same_answer, same_transfer,
};
use ledger_tests::tamper::verify;
use ledger_tests::{json, Backend, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

const ACCOUNTS: usize = 4;
const TRANSFERS: usize = 8;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => single(),
        2 => (proptest::collection::vec(single(), 1..=4), any::<bool>())
            .prop_map(|(ops, atomic)| {
                // A non-atomic batch runs its operations concurrently, each on its own:
                // the model can say its outcome only when no two share an account, so
                // such a batch holds account operations, one per account.
                let mut seen = std::collections::BTreeSet::new();
                let plain = ops.into_iter().filter_map(|o| match o {
                    Op::Retry => None,
                    Op::Deposit(a, m, _) if atomic || seen.insert(a) => Some(Op::Deposit(a, m, None)),
                    Op::Open(a) | Op::Withdraw(a, _) | Op::Limit(a, _) | Op::Close(a)
                        if !atomic && !seen.insert(a) => None,
                    Op::Transfer { .. } | Op::Post(..) | Op::Void(_) if !atomic => None,
                    Op::Deposit(..) => None,
                    o => Some(o),
                });
                Op::Batch(plain.collect(), atomic)
            })
            .prop_filter("a batch holds an operation", |b| matches!(b, Op::Batch(ops, _) if !ops.is_empty())),
    ]
}

fn single() -> impl Strategy<Value = Op> {
    let acc = || 0..ACCOUNTS;
    let cents = || 1i64..4_000;
    let tid = || 0..TRANSFERS;
    let if_match = prop_oneof![Just(None), Just(Some(0)), Just(Some(1))];
    prop_oneof![
        2 => acc().prop_map(Op::Open),
        4 => (acc(), cents(), if_match).prop_map(|(a, m, i)| Op::Deposit(a, m, i)),
        2 => (acc(), cents()).prop_map(|(a, m)| Op::Withdraw(a, m)),
        4 => (acc(), acc(), cents(), tid(), any::<bool>())
            .prop_map(|(from, to, amount, id, pending)| Op::Transfer { from, to, amount, id, pending }),
        3 => (tid(), proptest::option::of(1i64..3_000)).prop_map(|(t, m)| Op::Post(t, m)),
        1 => tid().prop_map(Op::Void),
        1 => (acc(), 0i64..3_000).prop_map(|(a, l)| Op::Limit(a, l)),
        1 => acc().prop_map(Op::Close),
        1 => Just(Op::Retry),
    ]
}

/// A request sent (path, body, `If-Match`, idempotency key) and its answer.
type Sent = (String, Value, Option<String>, String, (u16, Value));

async fn case(backend: Backend, ops: Vec<Op>, steps: &AtomicUsize) -> Result<(), TestCaseError> {
    let app = TestApp::spawn(backend).await;
    let mut model = Model::default();
    let mut last: Option<Sent> = None;
    for (n, op) in ops.iter().enumerate() {
        steps.fetch_add(1, Ordering::Relaxed);
        if let Op::Retry = op {
            let Some((path, body, tag, key, first)) = &last else {
                continue;
            };
            let again = send(&app, path, body, tag.as_deref(), key).await;
            if &again != first {
                return Err(fail(format!(
                    "step {n}: a retry of {path} answered {again:?}, first {first:?}"
                )));
            }
            continue;
        }
        let (path, body, tag) = request(op, &model);
        let key = format!("k-{n}");
        let answer = send(&app, &path, &body, tag.as_deref(), &key).await;
        if let Op::Batch(ops, atomic) = op {
            steps.fetch_add(ops.len() - 1, Ordering::Relaxed);
            check_batch(ops, *atomic, &answer, &mut model)?;
            last = Some((path, body, tag, key, answer));
            continue;
        }
        match model.apply(op) {
            Ok(()) if answer.0 < 300 => same_answer(&answer.1, op, &model)?,
            Ok(()) => {
                let why = format!("step {n} {op:?}: refused {answer:?}, the model accepts it");
                return Err(fail(why));
            }
            Err(no) if allowed(answer.0, &answer.1, &no) => {}
            Err(no) => {
                let why = format!(
                    "step {n} {op:?}: answered {answer:?}, the model expects one of {no:?}"
                );
                return Err(fail(why));
            }
        }
        last = Some((path, body, tag, key, answer));
    }
    check_reads(&app, &model).await?;
    let (code, out) = verify(&app.storage_url(), None).await;
    if code != 0 {
        return Err(fail(format!("ledger verify: {out}")));
    }
    Ok(())
}

async fn send(
    app: &TestApp,
    path: &str,
    body: &Value,
    tag: Option<&str>,
    key: &str,
) -> (u16, Value) {
    let mut headers = vec![("idempotency-key", key)];
    if let Some(t) = tag {
        headers.push(("if-match", t));
    }
    json(
        app.send(Method::POST, path, Some(body.clone()), &headers)
            .await,
    )
    .await
}

/// The views (eventually), every version's temporal query and every transfer.
async fn check_reads(app: &TestApp, model: &Model) -> Result<(), TestCaseError> {
    for (&i, m) in &model.accounts {
        let done = |b: &Value| b["version"] == json!(m.version);
        let view = app.eventually(&format!("/accounts/a{i}"), done).await;
        same_account(&view, model, i)?;
        for (v, then) in model.history[&i].iter().enumerate() {
            let (s, b) = json(app.get(&format!("/accounts/a{i}?version={}", v + 1)).await).await;
            let mut at = Model::default();
            at.accounts.insert(i, then.clone());
            if s != 200 {
                return Err(fail(format!("a{i} at version {}: {s} {b}", v + 1)));
            }
            same_account(&b, &at, i)?;
        }
    }
    for &t in model.transfers.keys() {
        let (_, b) = json(app.get(&format!("/transfers/t{t}")).await).await;
        same_transfer(&b, model, t)?;
    }
    Ok(())
}

fn run(backend: Backend) {
    let cases = std::env::var("LEDGER_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let steps = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&proptest::collection::vec(op(), 80..=100), |ops| {
        rt.block_on(case(backend, ops, &steps))
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    let n = steps.load(Ordering::Relaxed);
    println!("{backend:?}: {n} commands checked against the model");
    assert!(n >= 2_000 || cases < 25, "{n} commands");
}

#[test]
fn the_api_follows_the_model_on_sqlite() {
    run(Backend::Sqlite);
}

#[test]
fn the_api_follows_the_model_on_postgres_and_redis() {
    run(Backend::PostgresRedis);
}
