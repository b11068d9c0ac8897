//! `POST /batches`: up to 1,000 operations, atomic (all or none, one append) or not
//! (each on its own, concurrently). Operations are read one by one, so a malformed one
//! is named by its index.

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use ledger_application::batch::{BatchOperation, BatchReply, MAX_BATCH_OPERATIONS};
use ledger_application::{AccountAction, CommandError};
use ledger_domain::{AccountId, ErrorCode, TransferId};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::body;
use crate::commands::{context, count, finish};
use crate::dto::{AccountBody, OpenAccountBody, TransferAnswer, TransferBody};
use crate::dto_batches::*;
use crate::middleware::RequestContext;
use crate::problem::ApiError;
use ledger_application::access::Principal;

/// The body limit of this route (64 KiB everywhere else).
pub const BATCH_BODY_LIMIT: usize = 1024 * 1024;

pub(crate) fn router() -> Router<crate::State> {
    Router::new().route("/batches", post(batch))
}

/// Reads operation `i` as `T`; a shape error is 400 naming the operation.
fn shape<T: DeserializeOwned>(raw: &RawValue, i: usize) -> Result<T, ApiError> {
    body::object(raw.get().as_bytes()).map_err(|e| malformed(i, &e.detail))
}

/// Operation `i` is malformed: 400 naming it. A position in `detail` was counted in
/// the operation's own text, and says so.
fn malformed(i: usize, detail: &str) -> ApiError {
    let detail = match detail.strip_suffix(')') {
        Some(d) if d.contains(" (line ") => format!("{d} of the operation)"),
        _ => detail.to_owned(),
    };
    ApiError::malformed(format!("operation {i}: {detail}")).at(i)
}

/// An operation: `Err(Err(problem))` for a malformed one (the whole batch is 400),
/// `Err(Ok(problem))` for one with an invalid value (that operation's refusal).
type Read = Result<BatchOperation, Result<ApiError, ApiError>>;

fn account(s: String) -> Result<AccountId, ApiError> {
    AccountId::parse(s).map_err(|_| ApiError::account_not_found())
}

fn read(raw: &RawValue, i: usize) -> Read {
    let name: OpName = shape(raw, i).map_err(Err)?;
    // A missing field is a malformed operation (400 for the whole batch); an invalid
    // value is that operation's refusal.
    let value = |r: Result<BatchOperation, ApiError>| {
        r.map_err(|e| {
            if e.code == ErrorCode::MalformedRequest {
                Err(malformed(i, &e.detail))
            } else {
                Ok(e.at(i))
            }
        })
    };
    match name.op.as_str() {
        "open_account" => {
            let b: OpenOp = shape(raw, i).map_err(Err)?;
            value(OpenAccountBody::from(b).request().map(BatchOperation::Open))
        }
        "deposit" | "withdraw" => {
            let b: MoneyOp = shape(raw, i).map_err(Err)?;
            value((|| {
                let (amount, description) = (
                    body::amount(b.amount.as_deref())?,
                    body::note(b.description)?,
                );
                let action = if name.op == "deposit" {
                    AccountAction::Deposit {
                        amount,
                        description,
                    }
                } else {
                    AccountAction::Withdraw {
                        amount,
                        description,
                    }
                };
                Ok(BatchOperation::Act(account(b.account_id)?, action))
            })())
        }
        "close_account" => {
            let b: CloseOp = shape(raw, i).map_err(Err)?;
            value((|| {
                let reason = body::note(b.reason)?;
                Ok(BatchOperation::Act(
                    account(b.account_id)?,
                    AccountAction::Close { reason },
                ))
            })())
        }
        "set_limits" => {
            let b: LimitsOp = shape(raw, i).map_err(Err)?;
            value((|| {
                let overdraft_limit = body::overdraft_limit(b.overdraft_limit.as_deref())?;
                Ok(BatchOperation::Act(
                    account(b.account_id)?,
                    AccountAction::SetLimit { overdraft_limit },
                ))
            })())
        }
        "transfer" => {
            let b: TransferOp = shape(raw, i).map_err(Err)?;
            value(transfer(b.into()))
        }
        "post_transfer" => {
            let b: PostOp = shape(raw, i).map_err(Err)?;
            value((|| {
                let amount = b
                    .amount
                    .as_deref()
                    .map(|a| body::amount(Some(a)))
                    .transpose()?;
                Ok(BatchOperation::Post(transfer_id(b.transfer_id)?, amount))
            })())
        }
        "void_transfer" => {
            let b: VoidOp = shape(raw, i).map_err(Err)?;
            value((|| {
                Ok(BatchOperation::Void(
                    transfer_id(b.transfer_id)?,
                    body::note(b.reason)?,
                ))
            })())
        }
        other => Err(Err(ApiError::malformed(format!(
            "operation {i}: unknown op `{other}` (open_account, deposit, withdraw, transfer, \
             post_transfer, void_transfer, close_account, set_limits)"
        ))
        .at(i))),
    }
}

fn transfer_id(s: String) -> Result<TransferId, ApiError> {
    TransferId::parse(s).map_err(|_| ApiError::new(ErrorCode::TransferNotFound, "no such transfer"))
}

fn transfer(b: TransferBody) -> Result<BatchOperation, ApiError> {
    Ok(BatchOperation::Transfer(b.request()?))
}

/// An operation's answer as the single command would give it to `who`.
fn result(reply: &BatchReply, who: &Principal) -> BatchResult {
    let (status, body) = match reply {
        BatchReply::Account { opened, account } => (
            if *opened { 201 } else { 200 },
            serde_json::value::to_raw_value(&AccountBody::from(account)),
        ),
        BatchReply::Transfer { created, transfer } => (
            if *created { 201 } else { 200 },
            serde_json::value::to_raw_value(&TransferAnswer::seen_by(transfer, who)),
        ),
    };
    BatchResult {
        status,
        body: body.ok(),
        problem: None,
    }
}

fn refused(e: ApiError) -> BatchResult {
    BatchResult {
        status: e.status.as_u16(),
        body: None,
        problem: Some(e.problem()),
    }
}

#[utoipa::path(post, path = "/batches", request_body = BatchBody,
    responses((status = 200, body = BatchAnswer)))]
pub(crate) async fn batch(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchAnswer>, ApiError> {
    let ctx = context(&state, &rc, &headers)?;
    let b: BatchBody = body::json_up_to(&headers, body, BATCH_BODY_LIMIT).await?;
    if b.operations.is_empty() || b.operations.len() > MAX_BATCH_OPERATIONS {
        return Err(ApiError::validation(format!(
            "a batch takes 1 to {MAX_BATCH_OPERATIONS} operations; this one has {}",
            b.operations.len()
        )));
    }
    let mut ops = Vec::with_capacity(b.operations.len());
    for (i, raw) in b.operations.iter().enumerate() {
        ops.push(match read(raw, i) {
            Err(Err(malformed)) => return Err(malformed),
            other => other.map_err(|e| e.unwrap_or_else(|e| e)),
        });
    }
    rc.hand_over(&state.keys).await?;
    if b.atomic.unwrap_or(true) {
        // A refused value is that operation's refusal, judged in its turn.
        let valid: Vec<BatchOperation> = ops
            .into_iter()
            .map(|op| op.unwrap_or_else(|e| BatchOperation::Rejected(e.code, e.detail)))
            .collect();
        // One command: counted once, as refused when an operation is.
        let replies = match state.commands.atomic_batch(valid, &ctx).await {
            Ok(Err(refusal)) => {
                count(&state, "batch", refusal.code.as_str());
                return Err(ApiError::new(refusal.code, refusal.detail).at(refusal.operation));
            }
            Ok(Ok(replies)) => finish(&state, "batch", Ok(replies))?,
            Err(e) => finish(&state, "batch", Err(e))?,
        };
        return Ok(Json(BatchAnswer {
            atomic: true,
            results: replies.iter().map(|r| result(r, &rc.principal)).collect(),
        }));
    }
    let valid: Vec<(usize, BatchOperation)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.as_ref().ok().map(|op| (i, op.clone())))
        .collect();
    // A refused operation is fingerprinted by what was sent (parsed, so spacing does
    // not count): the same key with another refused value is another request.
    let invalid: Vec<(usize, String)> = (0..ops.len())
        .filter(|i| ops[*i].is_err())
        .map(|i| (i, sent(&b.operations[i])))
        .collect();
    // A key reused with another request refuses the whole batch.
    let outcomes = state
        .commands
        .batch(valid, &invalid, &ctx)
        .await
        .and_then(|o| {
            match o
                .iter()
                .any(|o| matches!(o, Err(CommandError::IdempotencyKeyReused)))
            {
                true => Err(CommandError::IdempotencyKeyReused),
                false => Ok(o),
            }
        });
    let mut outcomes = finish(&state, "batch", outcomes)?.into_iter();
    let mut results = Vec::with_capacity(ops.len());
    // Every refusal names its operation, whatever refused it (its value, read here, or
    // the rules, in the command service). Each operation the service decided is a
    // command of its own, counted as the single command is.
    for (i, op) in ops.into_iter().enumerate() {
        results.push(match op {
            Err(e) => refused(e.at(i)),
            Ok(op) => match outcomes.next() {
                Some(Ok(reply)) => {
                    count(&state, command_name(&op), "ok");
                    result(&reply, &rc.principal)
                }
                Some(Err(e)) => {
                    count(&state, command_name(&op), e.code().as_str());
                    refused(ApiError::from(e).at(i))
                }
                None => refused(ApiError::internal("a batch operation went unanswered").at(i)),
            },
        });
    }
    Ok(Json(BatchAnswer {
        atomic: false,
        results,
    }))
}

/// The `command` label an operation is counted under: the single command's.
fn command_name(op: &BatchOperation) -> &'static str {
    match op {
        BatchOperation::Open(_) => "open",
        BatchOperation::Act(_, AccountAction::Deposit { .. }) => "deposit",
        BatchOperation::Act(_, AccountAction::Withdraw { .. }) => "withdraw",
        BatchOperation::Act(_, AccountAction::Close { .. }) => "close",
        BatchOperation::Act(_, AccountAction::SetLimit { .. }) => "limits",
        BatchOperation::Transfer(_) => "transfer",
        BatchOperation::Post(..) => "post",
        BatchOperation::Void(..) => "void",
        BatchOperation::Rejected(..) => "rejected",
    }
}

/// An operation as sent, in a form that does not depend on its spacing.
fn sent(raw: &RawValue) -> String {
    serde_json::from_str::<serde_json::Value>(raw.get())
        .map_or_else(|_| raw.get().to_owned(), |v| v.to_string())
}
