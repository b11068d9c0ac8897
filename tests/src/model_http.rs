//! The model's commands as HTTP requests, and the service's answers checked against
//! the model (for `tests/tests/model.rs`).

use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

use crate::model::{usd, Model, Op};

/// A failed check.
pub fn fail(why: String) -> TestCaseError {
    TestCaseError::fail(why)
}

/// A single command: its operation name in a batch, the id its path names (the field
/// a batch operation gives it in), and its body.
fn command(op: &Op) -> (&'static str, Option<(&'static str, String)>, Value) {
    let account = |i: usize| Some(("account_id", format!("a{i}")));
    let transfer = |t: usize| Some(("transfer_id", format!("t{t}")));
    match *op {
        Op::Open(i) => (
            "open_account",
            None,
            json!({"account_id": format!("a{i}"), "owner": "Ada", "currency": "USD"}),
        ),
        Op::Deposit(i, m, _) => ("deposit", account(i), json!({"amount": usd(m)})),
        Op::Withdraw(i, m) => ("withdraw", account(i), json!({"amount": usd(m)})),
        Op::Transfer {
            from,
            to,
            amount,
            id,
            pending,
            expires,
        } => {
            let mut body = json!({"transfer_id": format!("t{id}"), "from_account_id": format!("a{from}"),
                   "to_account_id": format!("a{to}"), "amount": usd(amount), "pending": pending});
            if let Some(e) = expires {
                body["expires_in_seconds"] = json!(e);
            }
            ("transfer", None, body)
        }
        Op::Post(t, m) => (
            "post_transfer",
            transfer(t),
            m.map_or(json!({}), |m| json!({"amount": usd(m)})),
        ),
        Op::Void(t) => ("void_transfer", transfer(t), json!({})),
        Op::Limit(i, l) => ("set_limits", account(i), json!({"overdraft_limit": usd(l)})),
        Op::Close(i) => ("close_account", account(i), json!({})),
        Op::Retry | Op::Batch(..) | Op::Advance(_) => unreachable!("not a single command"),
    }
}

/// The request an op sends (always a POST): path, body, `If-Match`.
pub fn request(op: &Op, model: &Model) -> (String, Value, Option<String>) {
    if let Op::Batch(ref ops, atomic) = *op {
        let operations: Vec<Value> = ops.iter().map(batch_op).collect();
        let body = json!({"atomic": atomic, "operations": operations});
        return ("/batches".into(), body, None);
    }
    let (name, id, body) = command(op);
    let path = match (name, id) {
        ("open_account", _) => "/accounts".to_owned(),
        ("transfer", _) => "/transfers".to_owned(),
        ("set_limits", Some((_, a))) => format!("/accounts/{a}/limits"),
        ("close_account", Some((_, a))) => format!("/accounts/{a}/close"),
        ("post_transfer", Some((_, t))) => format!("/transfers/{t}/post"),
        ("void_transfer", Some((_, t))) => format!("/transfers/{t}/void"),
        (verb, Some((_, a))) => format!("/accounts/{a}/{verb}"),
        (verb, None) => unreachable!("{verb} names an id in its path"),
    };
    let tag = match *op {
        Op::Deposit(i, _, Some(stale)) => {
            let version = model.accounts.get(&i).map_or(0, |x| x.version);
            Some(format!("\"{}\"", version.saturating_sub(stale)))
        }
        _ => None,
    };
    (path, body, tag)
}

/// One operation of a batch, as `POST /batches` takes it: the single command's body,
/// its operation name, and the id its path names.
pub fn batch_op(op: &Op) -> Value {
    let (name, id, mut body) = command(op);
    body["op"] = json!(name);
    if let Some((field, value)) = id {
        body[field] = json!(value);
    }
    body
}

/// A success answer (an account, or a transfer with both accounts) against the model.
pub fn same_answer(body: &Value, op: &Op, model: &Model) -> Result<(), TestCaseError> {
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
pub fn allowed(status: u16, problem: &Value, no: &[(u16, &str)]) -> bool {
    let code = problem["code"].as_str().unwrap_or_default();
    no.iter().any(|(s, c)| *s == status && *c == code)
}

/// A batch's answer against the model, which it moves on when the service did.
pub fn check_batch(
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

/// An account as the service shows it against the model's.
pub fn same_account(body: &Value, model: &Model, i: usize) -> Result<(), TestCaseError> {
    let m = model
        .accounts
        .get(&i)
        .ok_or_else(|| fail(format!("a{i} is not in the model")))?;
    let want = json!({"balance": usd(m.balance), "available": usd(m.available()),
        "pending_out": usd(m.pending_out), "pending_in": usd(m.pending_in),
        "overdraft_limit": usd(m.limit), "status": if m.closed { "closed" } else { "open" },
        "version": m.version});
    same_fields(&format!("a{i}"), body, &want)
}

/// A transfer as the service shows it against the model's.
pub fn same_transfer(body: &Value, model: &Model, t: usize) -> Result<(), TestCaseError> {
    let m = &model.transfers[&t];
    let want = json!({"status": m.status, "amount": usd(m.amount), "posted_amount": usd(m.posted),
        "remaining": usd(m.remaining())});
    same_fields(&format!("t{t}"), body, &want)
}

/// Each field of `want` as `body` has it (`what` names the thing in the failure).
fn same_fields(what: &str, body: &Value, want: &Value) -> Result<(), TestCaseError> {
    for (k, v) in want.as_object().into_iter().flatten() {
        if &body[k] != v {
            return Err(fail(format!(
                "{what}.{k}: service {} model {v} in {body}",
                body[k]
            )));
        }
    }
    Ok(())
}

/// The accounts and transfer an op's answer shows.
pub fn touched(op: &Op, model: &Model) -> (Vec<usize>, Option<usize>) {
    match *op {
        Op::Open(i) | Op::Deposit(i, ..) | Op::Withdraw(i, _) | Op::Limit(i, _) | Op::Close(i) => {
            (vec![i], None)
        }
        Op::Transfer { id, .. } | Op::Post(id, _) | Op::Void(id) => {
            let t = &model.transfers[&id];
            (vec![t.from, t.to], Some(id))
        }
        Op::Retry | Op::Batch(..) | Op::Advance(_) => (vec![], None),
    }
}
