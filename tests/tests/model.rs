//! A model-checked API (issue 23, part 1): random sequences (after opening and funding
//! four of the five accounts) of commands (open, deposit
//! with and without `If-Match`, withdraw, transfers posted at once and pending with or
//! without an expiry, post in part or whole, void, limits, close, atomic and non-atomic
//! batches, idempotent retries, and the service's clock moved on so that the expirer
//! records what is due) sent over HTTP to the real service on both backends, each answer
//! checked against the pure model (`ledger_tests::model`). After every step the views
//! of the accounts it changed, the temporal query of each new version, their transfers
//! view and every changed transfer equal the model's (`ledger_tests::model_checks`),
//! and `ledger verify`'s four passes find nothing (run in this process after every
//! step, and as the binary after every sequence). A failure shrinks to a minimal sequence.
//! `LEDGER_MODEL_CASES` scales it (25 sequences of 80-100 commands by default: at least
//! 2,000 commands a backend).

use std::sync::atomic::{AtomicUsize, Ordering};

use std::sync::Arc;

use ledger_application::ports::system::ManualClock;
use ledger_tests::model::{Model, Op};
use ledger_tests::model_checks::{changes, expiries_recorded, Seen};
use ledger_tests::model_http::{allowed, check_batch, fail, request, same_answer};
use ledger_tests::tamper::verify;
use ledger_tests::{json, Backend, Options, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

const ACCOUNTS: usize = 5;
/// Accounts every sequence opens and funds first (so that transfers, pending ones and
/// their expiries happen often); the last of `ACCOUNTS` is left to the random part.
const FUNDED: usize = 4;
const TRANSFERS: usize = 16;

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
                    Op::Retry | Op::Advance(_) => None,
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
        // Smaller than deposits, so that more of them are accepted.
        6 => (acc(), acc(), 1i64..1_000, tid(), any::<bool>(), prop_oneof![Just(None), Just(Some(60)), Just(Some(300))])
            .prop_map(|(from, to, amount, id, pending, expires)| {
                let expires = expires.filter(|_| pending);
                Op::Transfer { from, to, amount, id, pending, expires }
            }),
        3 => (tid(), proptest::option::of(1i64..1_000)).prop_map(|(t, m)| Op::Post(t, m)),
        1 => tid().prop_map(Op::Void),
        1 => (acc(), 0i64..3_000).prop_map(|(a, l)| Op::Limit(a, l)),
        1 => acc().prop_map(Op::Close),
        1 => Just(Op::Retry),
        2 => prop_oneof![Just(30i64), Just(61), Just(400)].prop_map(Op::Advance),
    ]
}

/// A request sent (path, body, `If-Match`, idempotency key) and its answer.
type Sent = (String, Value, Option<String>, String, (u16, Value));

/// Commands checked and expiries recorded, over all sequences of a run.
#[derive(Default)]
struct Counts {
    steps: AtomicUsize,
    expired: AtomicUsize,
}

async fn case(backend: Backend, ops: Vec<Op>, counts: &Counts) -> Result<(), TestCaseError> {
    let steps = &counts.steps;
    let start = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0);
    let clock = Arc::new(ManualClock::new(start));
    let options = Options {
        clock: Some(clock.clone()),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    let mut model = Model::default();
    let mut seen = Seen::default();
    let mut last: Option<Sent> = None;
    for (n, op) in ops.iter().enumerate() {
        steps.fetch_add(1, Ordering::Relaxed);
        step(&app, &clock, op, n, &mut model, &mut last).await?;
        changes(&app, &model, &mut seen).await?;
        let findings = app.verify_here().await;
        if !findings.is_empty() {
            return Err(fail(format!("step {n}: verification found {findings:?}")));
        }
        if let Op::Batch(ops, _) = op {
            steps.fetch_add(ops.len() - 1, Ordering::Relaxed);
        }
    }
    // And the binary itself, once a sequence.
    let (code, out) = verify(&app.storage_url(), None).await;
    if code != 0 {
        return Err(fail(format!("ledger verify: {out}")));
    }
    let expired = model.transfers.values().filter(|t| t.status == "expired");
    counts.expired.fetch_add(expired.count(), Ordering::Relaxed);
    Ok(())
}

/// Sends one step's request (or moves the clock) and checks the answer; the model
/// moves on as the service must have.
async fn step(
    app: &TestApp,
    clock: &ManualClock,
    op: &Op,
    n: usize,
    model: &mut Model,
    last: &mut Option<Sent>,
) -> Result<(), TestCaseError> {
    match op {
        Op::Retry => {
            let Some((path, body, tag, key, first)) = last.as_ref() else {
                return Ok(());
            };
            let again = send(app, path, body, tag.as_deref(), key).await;
            if &again != first {
                let why =
                    format!("step {n}: a retry of {path} answered {again:?}, first {first:?}");
                return Err(fail(why));
            }
            return Ok(());
        }
        Op::Advance(seconds) => {
            // In the expirer's order (`expires_at`, then the id as text): a void refused
            // as expired records the expiry, so the accounts' events come in the
            // model's order whichever of the two records each.
            let mut pending: Vec<(Option<i64>, String, usize)> = model
                .transfers
                .iter()
                .filter(|(_, t)| t.status == "pending")
                .map(|(&t, d)| (d.expires_at, format!("t{t}"), t))
                .collect();
            pending.sort();
            clock.advance(chrono::Duration::seconds(*seconds));
            let _ = model.apply(op);
            // Due now: a void is refused at once, whether or not the expirer has
            // recorded the expiry yet.
            for t in pending
                .into_iter()
                .map(|(.., t)| t)
                .filter(|t| model.transfers[t].status == "expired")
            {
                let path = format!("/transfers/t{t}/void");
                let answer = send(app, &path, &json!({}), None, &format!("k-{n}-{t}")).await;
                if !allowed(answer.0, &answer.1, &[(409, "transfer_expired")]) {
                    return Err(fail(format!(
                        "step {n}: a void of due t{t} answered {answer:?}"
                    )));
                }
            }
            return expiries_recorded(app, model).await;
        }
        _ => {}
    }
    let (path, body, tag) = request(op, model);
    let key = format!("k-{n}");
    let answer = send(app, &path, &body, tag.as_deref(), &key).await;
    if let Op::Batch(ops, atomic) = op {
        check_batch(ops, *atomic, &answer, model)?;
    } else {
        match model.apply(op) {
            Ok(()) if answer.0 < 300 => same_answer(&answer.1, op, model)?,
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
    }
    *last = Some((path, body, tag, key, answer));
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
    let counts = Counts::default();
    let mut runner = TestRunner::new(config);
    let sequences = proptest::collection::vec(op(), 80..=100).prop_map(|ops| {
        let open = (0..FUNDED).map(Op::Open);
        let fund = (0..FUNDED).map(|a| Op::Deposit(a, 5_000, None));
        open.chain(fund).chain(ops).collect::<Vec<_>>()
    });
    let outcome = runner.run(&sequences, |ops| rt.block_on(case(backend, ops, &counts)));
    if let Err(e) = outcome {
        panic!("{e}");
    }
    let n = counts.steps.load(Ordering::Relaxed);
    let expired = counts.expired.load(Ordering::Relaxed);
    println!("{backend:?}: {n} commands checked against the model, {expired} expiries among them");
    assert!(n >= 2_000 || cases < 25, "{n} commands");
    assert!(expired > 0 || cases < 25, "no transfer expired");
}

#[test]
fn the_api_follows_the_model_on_sqlite() {
    run(Backend::Sqlite);
}

#[test]
fn the_api_follows_the_model_on_postgres_and_redis() {
    run(Backend::PostgresRedis);
}
