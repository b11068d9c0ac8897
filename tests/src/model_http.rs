//! The model's commands as HTTP requests, and the service's answers checked against
//! the model (for `tests/tests/model.rs`).

use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

use crate::model::{usd, Model, Op};

/// A failed check.
pub fn fail(why: String) -> TestCaseError {
    TestCaseError::fail(why)
}

/// The request an op sends (always a POST): path, body, `If-Match`.
pub fn request(op: &Op, model: &Model) -> (String, Value, Option<String>) {
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
pub fn batch_op(op: &Op) -> Value {
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

/// A transfer as the service shows it against the model's.
pub fn same_transfer(body: &Value, model: &Model, t: usize) -> Result<(), TestCaseError> {
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
pub fn touched(op: &Op, model: &Model) -> (Vec<usize>, Option<usize>) {
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
