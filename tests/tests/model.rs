//! A model-checked API (issue 23, part 1, so far): random sequences of commands (open,
//! deposit with and without `If-Match`, withdraw, transfers posted at once and pending,
//! post in part or whole, void, limits, close, idempotent retries) sent over HTTP to the
//! real service on both backends, each answer checked against the pure model
//! (`ledger_tests::model`); after each sequence every account's view, every version's
//! temporal query and every transfer equal the model's, and `ledger verify` finds
//! nothing. A failure shrinks to a minimal sequence. `LEDGER_MODEL_CASES` scales it
//! (25 sequences of 80-100 commands by default: at least 2,000 commands a backend).

use std::sync::atomic::{AtomicUsize, Ordering};

use ledger_tests::model::{usd, Model, Op};
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

fn fail(why: String) -> TestCaseError {
    TestCaseError::fail(why)
}

/// The request an op sends: method, path, body, `If-Match`.
fn request(op: &Op, model: &Model) -> (String, Value, Option<String>) {
    let a = |i: usize| format!("a{i}");
    match *op {
        Op::Open(i) => (
            "/accounts".into(),
            json!({"account_id": a(i), "owner": "Ada", "currency": "USD"}),
            None,
        ),
        Op::Deposit(i, m, if_match) => {
            let version = model.accounts.get(&i).map_or(0, |x| x.version);
            let tag = if_match.map(|stale| format!("\"{}\"", version.saturating_sub(stale)));
            (
                format!("/accounts/{}/deposit", a(i)),
                json!({"amount": usd(m)}),
                tag,
            )
        }
        Op::Withdraw(i, m) => (
            format!("/accounts/{}/withdraw", a(i)),
            json!({"amount": usd(m)}),
            None,
        ),
        Op::Transfer {
            from,
            to,
            amount,
            id,
            pending,
        } => (
            "/transfers".into(),
            json!({"transfer_id": format!("t{id}"), "from_account_id": a(from), "to_account_id": a(to),
                   "amount": usd(amount), "pending": pending}),
            None,
        ),
        Op::Post(t, m) => (
            format!("/transfers/t{t}/post"),
            m.map_or(json!({}), |m| json!({"amount": usd(m)})),
            None,
        ),
        Op::Void(t) => (format!("/transfers/t{t}/void"), json!({}), None),
        Op::Limit(i, l) => (
            format!("/accounts/{}/limits", a(i)),
            json!({"overdraft_limit": usd(l)}),
            None,
        ),
        Op::Close(i) => (format!("/accounts/{}/close", a(i)), json!({}), None),
        Op::Batch(ref ops, atomic) => {
            let operations: Vec<Value> = ops.iter().map(batch_op).collect();
            (
                "/batches".into(),
                json!({"atomic": atomic, "operations": operations}),
                None,
            )
        }
        Op::Retry => unreachable!("a retry resends the previous request"),
    }
}

/// One operation of a batch, as `POST /batches` takes it.
fn batch_op(op: &Op) -> Value {
    let a = |i: usize| format!("a{i}");
    match *op {
        Op::Open(i) => {
            json!({"op": "open_account", "account_id": a(i), "owner": "Ada", "currency": "USD"})
        }
        Op::Deposit(i, m, _) => json!({"op": "deposit", "account_id": a(i), "amount": usd(m)}),
        Op::Withdraw(i, m) => json!({"op": "withdraw", "account_id": a(i), "amount": usd(m)}),
        Op::Transfer {
            from,
            to,
            amount,
            id,
            pending,
        } => json!({"op": "transfer",
            "transfer_id": format!("t{id}"), "from_account_id": a(from), "to_account_id": a(to),
            "amount": usd(amount), "pending": pending}),
        Op::Post(t, m) => match m {
            Some(m) => {
                json!({"op": "post_transfer", "transfer_id": format!("t{t}"), "amount": usd(m)})
            }
            None => json!({"op": "post_transfer", "transfer_id": format!("t{t}")}),
        },
        Op::Void(t) => json!({"op": "void_transfer", "transfer_id": format!("t{t}")}),
        Op::Limit(i, l) => {
            json!({"op": "set_limits", "account_id": a(i), "overdraft_limit": usd(l)})
        }
        Op::Close(i) => json!({"op": "close_account", "account_id": a(i)}),
        Op::Retry | Op::Batch(..) => unreachable!("batches hold single commands"),
    }
}

/// A success answer (an account, or a transfer with both accounts) against the model.
fn same_answer(body: &Value, op: &Op, model: &Model) -> Result<(), TestCaseError> {
    let (accounts, transfer) = touched(op, model);
    match transfer {
        Some(t) => {
            same_transfer(body, model, t)?;
            same_account(&body["from"], model, accounts[0])?;
            same_account(&body["to"], model, accounts[1])
        }
        None => same_account(body, model, accounts[0]),
    }
}

/// One refusal against the codes the model allows.
fn allowed(status: u16, problem: &Value, no: &[(u16, &str)]) -> bool {
    let code = problem["code"].as_str().unwrap_or_default();
    no.iter().any(|(s, c)| *s == status && *c == code)
}

/// A batch's answer against the model, which it moves on when the service did.
fn check_batch(
    ops: &[Op],
    atomic: bool,
    answer: &(u16, Value),
    model: &mut Model,
) -> Result<(), TestCaseError> {
    let results = answer.1["results"].as_array().cloned().unwrap_or_default();
    if atomic {
        // The first operation the model refuses decides the answer; nothing is written.
        let mut dry = model.clone();
        for (k, op) in ops.iter().enumerate() {
            if let Err(no) = dry.apply(op) {
                if !allowed(answer.0, &answer.1, &no) || answer.1["operation"] != json!(k) {
                    let why = format!("atomic batch op {k} {op:?}: answered {answer:?}, the model expects one of {no:?}");
                    return Err(fail(why));
                }
                return Ok(());
            }
        }
    }
    let mut trial = model.clone();
    for (k, op) in ops.iter().enumerate() {
        let result = results.get(k);
        match trial.apply(op) {
            Ok(()) => {
                let ok = answer.0 == 200
                    && result.is_some_and(|r| r["status"].as_u64().is_some_and(|s| s < 300));
                if !ok {
                    return Err(fail(format!("batch op {k} {op:?}: the model accepts it, the service answered {answer:?}")));
                }
                same_answer(&results[k]["body"], op, &trial)?;
            }
            Err(no) => {
                let r =
                    result.ok_or_else(|| fail(format!("batch op {k}: no result in {answer:?}")))?;
                let status = r["status"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(0);
                if !allowed(status, &r["problem"], &no) {
                    return Err(fail(format!(
                        "batch op {k} {op:?}: answered {r}, the model expects one of {no:?}"
                    )));
                }
            }
        }
    }
    *model = trial;
    Ok(())
}

fn same_account(body: &Value, model: &Model, i: usize) -> Result<(), TestCaseError> {
    let m = model
        .accounts
        .get(&i)
        .ok_or_else(|| fail(format!("a{i} is not in the model")))?;
    let want = json!({"balance": usd(m.balance), "available": usd(m.available()),
        "pending_out": usd(m.pending_out), "pending_in": usd(m.pending_in),
        "overdraft_limit": usd(m.limit), "status": if m.closed { "closed" } else { "open" },
        "version": m.version});
    for (k, v) in want.as_object().into_iter().flatten() {
        if &body[k] != v {
            return Err(fail(format!(
                "a{i}.{k}: service {} model {v} in {body}",
                body[k]
            )));
        }
    }
    Ok(())
}

fn same_transfer(body: &Value, model: &Model, t: usize) -> Result<(), TestCaseError> {
    let m = &model.transfers[&t];
    let want = json!({"status": m.status, "amount": usd(m.amount), "posted_amount": usd(m.posted),
        "remaining": usd(m.remaining())});
    for (k, v) in want.as_object().into_iter().flatten() {
        if &body[k] != v {
            return Err(fail(format!(
                "t{t}.{k}: service {} model {v} in {body}",
                body[k]
            )));
        }
    }
    Ok(())
}

/// The accounts and transfer an op's answer shows.
fn touched(op: &Op, model: &Model) -> (Vec<usize>, Option<usize>) {
    match *op {
        Op::Open(i) | Op::Deposit(i, ..) | Op::Withdraw(i, _) | Op::Limit(i, _) | Op::Close(i) => {
            (vec![i], None)
        }
        Op::Transfer { id, .. } | Op::Post(id, _) | Op::Void(id) => {
            let t = &model.transfers[&id];
            (vec![t.from, t.to], Some(id))
        }
        Op::Retry | Op::Batch(..) => (vec![], None),
    }
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
