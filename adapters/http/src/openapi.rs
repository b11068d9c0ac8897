//! `GET /openapi.json`: the contract as OpenAPI 3.1, generated from the handlers' own
//! types and annotations, so it cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::dto::*;
use crate::problem::Problem;

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "ledger", description = "An event-sourced account ledger"),
    paths(
        crate::commands::open_account,
        crate::commands::deposit,
        crate::commands::withdraw,
        crate::commands::close,
        crate::commands::transfer,
        crate::queries::account,
        crate::queries::account_events,
        crate::queries::list_accounts,
        crate::queries::audit,
        crate::queries::summary,
        crate::queries::daily,
        crate::queries::feed,
        crate::admin::health,
        crate::admin::ready,
        crate::admin::metrics,
        crate::admin::projections,
        crate::admin::rebuild,
    ),
    components(schemas(
        Problem,
        AccountBody,
        TransferAnswer,
        AccountViewBody,
        HistoricAccountBody,
        EventBody,
        EventsPage,
        FeedBody,
        AccountsPage,
        AuditBody,
        AuditPage,
        CurrencyBody,
        SummaryBody,
        DayBody,
        DailyBody,
        ProjectionBody,
        ProjectionsBody
    ))
)]
pub struct ApiDoc;

pub(crate) fn router() -> Router<crate::State> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
