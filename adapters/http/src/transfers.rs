//! Transfers: make one (posted at once or pending), post or void a pending one, read
//! one from its events, list them from the transfers view.

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ledger_application::ports::readmodel::TransferFilter;
use ledger_domain::{ErrorCode, TransferId, TransferStatus};

use crate::body;
use crate::commands::{context, finish};
use crate::dto::{
    PostBody, TransferAnswer, TransferBody, TransferViewBody, TransfersPage, VoidBody,
};
use crate::middleware::RequestContext;
use crate::problem::ApiError;

pub(crate) fn router() -> Router<crate::State> {
    Router::new()
        .route("/transfers", post(transfer).get(list_transfers))
        .route("/transfers/{id}", get(get_transfer))
        .route("/transfers/{id}/post", post(post_transfer))
        .route("/transfers/{id}/void", post(void_transfer))
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::TransferNotFound, "no such transfer")
}

/// A transfer id in a path; one that cannot exist names no transfer.
fn path_transfer(id: &str) -> Result<TransferId, ApiError> {
    TransferId::parse(id).map_err(|_| not_found())
}

#[utoipa::path(post, path = "/transfers", request_body = TransferBody,
    responses((status = 201, body = TransferAnswer)))]
pub(crate) async fn transfer(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ctx = context(&state, &rc, &headers)?;
    let req = body::json::<TransferBody>(&headers, body)
        .await?
        .request()?;
    rc.hand_over(&state.keys).await?;
    let reply = finish(&state, "transfer", state.commands.transfer(req, &ctx).await)?;
    Ok((
        StatusCode::CREATED,
        Json(TransferAnswer::seen_by(&reply, &rc.principal)),
    )
        .into_response())
}

#[utoipa::path(post, path = "/transfers/{id}/post", request_body = PostBody,
    params(("id" = String, Path)), responses((status = 200, body = TransferAnswer)))]
pub(crate) async fn post_transfer(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<TransferAnswer>, ApiError> {
    let ctx = context(&state, &rc, &headers)?;
    let id = path_transfer(&id)?;
    let b: PostBody = body::json(&headers, body).await?;
    let amount = b
        .amount
        .as_deref()
        .map(|a| body::amount(Some(a)))
        .transpose()?;
    rc.hand_over(&state.keys).await?;
    let r = state.commands.post_transfer(id, amount, &ctx).await;
    Ok(Json(TransferAnswer::seen_by(
        &finish(&state, "post", r)?,
        &rc.principal,
    )))
}

#[utoipa::path(post, path = "/transfers/{id}/void", request_body = VoidBody,
    params(("id" = String, Path)), responses((status = 200, body = TransferAnswer)))]
pub(crate) async fn void_transfer(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<TransferAnswer>, ApiError> {
    let ctx = context(&state, &rc, &headers)?;
    let id = path_transfer(&id)?;
    let b: VoidBody = body::json(&headers, body).await?;
    let reason = body::note(b.reason)?;
    rc.hand_over(&state.keys).await?;
    let r = state.commands.void_transfer(id, reason, &ctx).await;
    Ok(Json(TransferAnswer::seen_by(
        &finish(&state, "void", r)?,
        &rc.principal,
    )))
}

#[utoipa::path(get, path = "/transfers/{id}", params(("id" = String, Path)),
    responses((status = 200, body = TransferViewBody)))]
pub(crate) async fn get_transfer(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Result<Json<TransferViewBody>, ApiError> {
    let id = path_transfer(&id)?;
    match state.queries.transfer(&rc.principal, &id).await? {
        Some(t) => Ok(Json(TransferViewBody::from(&t))),
        None => Err(not_found()),
    }
}

#[utoipa::path(get, path = "/transfers", responses((status = 200, body = TransfersPage)))]
pub(crate) async fn list_transfers(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> Result<Json<TransfersPage>, ApiError> {
    let q = body::query(raw.as_deref())?;
    body::only(&q, &["account_id", "status", "limit", "cursor"])?;
    let limit = body::limit(&q, 50, 1000)?;
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(TransferStatus::parse(s).ok_or_else(|| {
            ApiError::validation("status must be pending, posted, voided or expired")
        })?),
    };
    let before = body::position_cursor(&q)?;
    let filter = TransferFilter {
        account_id: body::account_filter(&q)?,
        status,
        owner: None,
        before,
        limit,
    };
    let rows = state.queries.transfers(&rc.principal, filter).await?;
    let next_cursor = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.created_position.to_string()))
        .flatten();
    Ok(Json(TransfersPage {
        transfers: rows
            .iter()
            .map(|r| TransferViewBody::from(&r.view))
            .collect(),
        next_cursor,
    }))
}
