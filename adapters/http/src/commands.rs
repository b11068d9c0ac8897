//! The write side of accounts: open, deposit, withdraw, close, limits (transfers:
//! `transfers.rs`).

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use ledger_application::{AccountAction, CommandContext, CommandError};
use ledger_domain::{Decimal, Note};

use crate::body;
use crate::dto::{AccountBody, CloseBody, LimitsBody, MoneyBody, OpenAccountBody};
use crate::middleware::RequestContext;
use crate::problem::ApiError;

pub(crate) fn router() -> Router<crate::State> {
    Router::new()
        .route(
            "/accounts",
            post(open_account).get(crate::queries::list_accounts),
        )
        .route("/accounts/{id}/deposit", post(deposit))
        .route("/accounts/{id}/withdraw", post(withdraw))
        .route("/accounts/{id}/close", post(close))
        .route("/accounts/{id}/limits", post(limits))
}

pub(crate) fn context(
    state: &crate::State,
    rc: &RequestContext,
    headers: &HeaderMap,
) -> Result<CommandContext, ApiError> {
    let ctx = CommandContext {
        if_match: crate::headers::if_match(headers)?,
        ..admin_context(rc, headers)?
    };
    if state.require_idempotency_key && ctx.idempotency_key.is_none() {
        return Err(ApiError::validation(MISSING_KEY));
    }
    Ok(ctx)
}

/// The refusal of a command without an `Idempotency-Key` where one is required.
pub(crate) const MISSING_KEY: &str = "an Idempotency-Key header is required by this service \
    (server.require_idempotency_key): send one, and the same one again on every retry of \
    the request";

/// The context of an admin POST (`/admin/api-keys`, `/admin/rebuild-projections`):
/// its caller and `Idempotency-Key`; `If-Match` has no account to name there.
pub(crate) fn admin_context(
    rc: &RequestContext,
    headers: &HeaderMap,
) -> Result<CommandContext, ApiError> {
    Ok(CommandContext {
        principal: rc.principal.clone(),
        request_id: Some(rc.request_id.clone()),
        idempotency_key: crate::headers::idempotency_key(headers)?,
        if_match: None,
    })
}

/// Counts a command's outcome (`ok` or its error code) in `ledger_commands_total`.
pub(crate) fn count(state: &crate::State, command: &str, outcome: &str) {
    state.metrics.count(
        "ledger_commands_total",
        "Commands by type and outcome",
        &[("command", command), ("outcome", outcome)],
        1,
    );
}

/// Counts the command, wakes the projectors, and maps the error.
pub(crate) fn finish<T>(
    state: &crate::State,
    command: &str,
    r: Result<T, CommandError>,
) -> Result<T, ApiError> {
    count(
        state,
        command,
        match &r {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        },
    );
    if r.is_ok() {
        state.wake.notify_waiters();
    }
    r.map_err(ApiError::from)
}

#[utoipa::path(post, path = "/accounts", request_body = OpenAccountBody,
    responses((status = 201, body = AccountBody), (status = 409, body = crate::problem::Problem),
              (status = 422, body = crate::problem::Problem)))]
pub(crate) async fn open_account(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ctx = context(&state, &rc, &headers)?;
    let req = body::json::<OpenAccountBody>(&headers, body)
        .await?
        .request()?;
    rc.hand_over(&state.keys).await?;
    let reply = finish(&state, "open", state.commands.open_account(req, &ctx).await)?;
    let mut response = (StatusCode::CREATED, Json(AccountBody::from(&reply))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/accounts/{}", reply.account_id)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

async fn act(
    (state, rc): (&crate::State, &RequestContext),
    command: &str,
    id: &str,
    ctx: CommandContext,
    action: AccountAction,
) -> Result<Json<AccountBody>, ApiError> {
    let id = body::path_account(id)?;
    rc.hand_over(&state.keys).await?;
    let reply = finish(state, command, state.commands.act(id, action, &ctx).await)?;
    Ok(Json(AccountBody::from(&reply)))
}

/// The amount and description of a deposit or withdrawal body.
async fn money(headers: &HeaderMap, body: Body) -> Result<(Decimal, Option<Note>), ApiError> {
    let b: MoneyBody = body::json(headers, body).await?;
    Ok((
        body::amount(b.amount.as_deref())?,
        body::note(b.description)?,
    ))
}

#[utoipa::path(post, path = "/accounts/{id}/deposit", request_body = MoneyBody,
    params(("id" = String, Path)), responses((status = 200, body = AccountBody)))]
pub(crate) async fn deposit(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AccountBody>, ApiError> {
    let ctx = context(&state, &rc, &headers)?;
    let (amount, description) = money(&headers, body).await?;
    let action = AccountAction::Deposit {
        amount,
        description,
    };
    act((&state, &rc), "deposit", &id, ctx, action).await
}

#[utoipa::path(post, path = "/accounts/{id}/withdraw", request_body = MoneyBody,
    params(("id" = String, Path)), responses((status = 200, body = AccountBody)))]
pub(crate) async fn withdraw(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AccountBody>, ApiError> {
    let ctx = context(&state, &rc, &headers)?;
    let (amount, description) = money(&headers, body).await?;
    let action = AccountAction::Withdraw {
        amount,
        description,
    };
    act((&state, &rc), "withdraw", &id, ctx, action).await
}

#[utoipa::path(post, path = "/accounts/{id}/close", request_body = CloseBody,
    params(("id" = String, Path)), responses((status = 200, body = AccountBody)))]
pub(crate) async fn close(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AccountBody>, ApiError> {
    let ctx = context(&state, &rc, &headers)?;
    let b: CloseBody = body::json(&headers, body).await?;
    let action = AccountAction::Close {
        reason: body::note(b.reason)?,
    };
    act((&state, &rc), "close", &id, ctx, action).await
}

#[utoipa::path(post, path = "/accounts/{id}/limits", request_body = LimitsBody,
    params(("id" = String, Path)), responses((status = 200, body = AccountBody)))]
pub(crate) async fn limits(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AccountBody>, ApiError> {
    let ctx = context(&state, &rc, &headers)?;
    let b: LimitsBody = body::json(&headers, body).await?;
    let action = AccountAction::SetLimit {
        overdraft_limit: body::overdraft_limit(b.overdraft_limit.as_deref())?,
    };
    act((&state, &rc), "limits", &id, ctx, action).await
}
