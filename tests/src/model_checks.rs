//! What the model-checked API test (`tests/tests/model.rs`) reads back after each step:
//! the current-state view of every account the step changed, the temporal query of
//! each of its new versions, the transfers view of those accounts, and each transfer
//! the step changed.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

use crate::model::{usd, Account, Model, Transfer};
use crate::model_http::{fail, same_account, same_transfer};
use crate::{json, TestApp};

/// What the reads have already shown: each account's version, each transfer's state.
#[derive(Debug, Default)]
pub struct Seen {
    accounts: BTreeMap<usize, u64>,
    transfers: BTreeMap<usize, Transfer>,
}

/// Polls `path` (every 2 ms, up to 10 s) until `done` holds for its JSON body.
pub async fn settled(
    app: &TestApp,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<Value, TestCaseError> {
    let mut last = Value::Null;
    for _ in 0..5_000 {
        let (status, body) = json(app.get(path).await).await;
        if status == 200 && done(&body) {
            return Ok(body);
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Err(fail(format!("{path} never settled; last {last}")))
}

/// Runs expirer steps until the service shows every transfer the model has expired as
/// expired (the expirer's own loop races these steps: each expiry is written once).
pub async fn expiries_recorded(app: &TestApp, model: &Model) -> Result<(), TestCaseError> {
    for (&t, m) in model
        .transfers
        .iter()
        .filter(|(_, m)| m.status == "expired")
    {
        let path = format!("/transfers/t{t}");
        for attempt in 0.. {
            let (_, b) = json(app.get(&path).await).await;
            if b["status"] == "expired" {
                break;
            }
            if attempt == 1_000 {
                return Err(fail(format!("t{t} ({m:?}) not expired: {b}")));
            }
            let _ = app.expirer.step().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(())
}

/// Reads back what changed since the last call and checks it against the model.
pub async fn changes(app: &TestApp, model: &Model, seen: &mut Seen) -> Result<(), TestCaseError> {
    let changed: Vec<(usize, &Account)> = model
        .accounts
        .iter()
        .filter(|(i, a)| seen.accounts.get(i) != Some(&a.version))
        .map(|(&i, a)| (i, a))
        .collect();
    for &(i, m) in &changed {
        let path = format!("/accounts/a{i}");
        let view = settled(app, &path, |b| b["version"] == json!(m.version)).await?;
        same_account(&view, model, i)?;
        let from = seen.accounts.get(&i).copied().unwrap_or(0);
        for v in from + 1..=m.version {
            let (s, b) = json(app.get(&format!("{path}?version={v}")).await).await;
            if s != 200 {
                return Err(fail(format!("a{i} at version {v}: {s} {b}")));
            }
            let mut then = Model::default();
            let index = usize::try_from(v - 1).unwrap_or(usize::MAX);
            then.accounts.insert(i, model.history[&i][index].clone());
            same_account(&b, &then, i)?;
        }
        transfers_view(app, model, i).await?;
        seen.accounts.insert(i, m.version);
    }
    for (&t, m) in &model.transfers {
        if seen.transfers.get(&t) != Some(m) {
            let (_, b) = json(app.get(&format!("/transfers/t{t}")).await).await;
            same_transfer(&b, model, t)?;
            seen.transfers.insert(t, m.clone());
        }
    }
    Ok(())
}

/// The transfers view of account `i` (its own read model, caught up with the
/// accounts' view above) against the model's transfers touching it.
async fn transfers_view(app: &TestApp, model: &Model, i: usize) -> Result<(), TestCaseError> {
    let want: BTreeMap<String, Value> = model
        .transfers
        .iter()
        .filter(|(_, t)| t.from == i || t.to == i)
        .map(|(id, t)| {
            let row = json!({"status": t.status, "posted_amount": usd(t.posted),
                "remaining": usd(t.remaining())});
            (format!("t{id}"), row)
        })
        .collect();
    let path = format!("/transfers?account_id=a{i}&limit=100");
    let shown = |b: &Value| -> BTreeMap<String, Value> {
        b["transfers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let row = json!({"status": t["status"], "posted_amount": t["posted_amount"],
                    "remaining": t["remaining"]});
                (
                    t["transfer_id"].as_str().unwrap_or_default().to_owned(),
                    row,
                )
            })
            .collect()
    };
    settled(app, &path, |b| shown(b) == want)
        .await
        .map_err(|e| fail(format!("the transfers view of a{i}, want {want:?}: {e}")))?;
    Ok(())
}
