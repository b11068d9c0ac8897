//! Projection admin: statuses and rebuilds (the probes are in `probes.rs`).

use std::sync::Arc;

use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ledger_application::access::Capability;
use ledger_application::ports::readmodel::{Projection, PROJECTIONS};
use ledger_application::projection::ProjectionError;

use crate::body;
use crate::dto::{ProjectionBody, ProjectionsBody};
use crate::middleware::RequestContext;
use crate::problem::ApiError;

/// Refuses anyone but the admin (403): each admin operation checks it itself, besides
/// the middleware's check of the `/admin` prefix.
pub(crate) fn admin_only(rc: &RequestContext) -> Result<(), ApiError> {
    rc.principal
        .require(Capability::Admin)
        .map_err(|f| ApiError::new(ledger_domain::ErrorCode::Forbidden, f.to_string()))
}

pub(crate) fn router() -> Router<crate::State> {
    Router::new()
        .route("/admin/projections", get(projections))
        .route("/admin/rebuild-projections", post(rebuild))
}

async fn statuses(state: &crate::State) -> Result<ProjectionsBody, ApiError> {
    let reports = state
        .runner
        .reports()
        .await
        .map_err(ApiError::unavailable)?;
    Ok(ProjectionsBody {
        projections: reports
            .into_iter()
            .map(|r| ProjectionBody {
                name: r.status.name,
                state: r.status.state.as_str().to_owned(),
                position: r.status.position.position,
                lag_events: r.lag_events,
                last_error: r.status.last_error,
            })
            .collect(),
    })
}

#[utoipa::path(get, path = "/admin/projections", responses((status = 200, body = ProjectionsBody)))]
pub(crate) async fn projections(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
) -> Result<Json<ProjectionsBody>, ApiError> {
    admin_only(&rc)?;
    Ok(Json(statuses(&state).await?))
}

/// A body without fields: empty, or `{}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

#[utoipa::path(post, path = "/admin/rebuild-projections", params(("projection" = Option<String>, Query)),
    responses((status = 202, body = ProjectionsBody)))]
pub(crate) async fn rebuild(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    admin_only(&rc)?;
    // It takes no body, read as every body is (its limit, its type): one with a field
    // (`{"projection": ...}`, say) would otherwise be ignored and every projection
    // rebuilt.
    let _: NoFields = crate::body::json(&headers, body).await?;
    let ctx = crate::commands::admin_context(&rc, &headers)?;
    let q = body::query(raw.as_deref())?;
    body::only(&q, &["projection"])?;
    let names: Vec<Projection> = match q.get("projection") {
        None => PROJECTIONS.to_vec(),
        Some(n) => vec![Projection::parse(n).ok_or_else(|| {
            let names: Vec<&str> = PROJECTIONS.iter().map(|p| p.as_str()).collect();
            ApiError::validation(format!("unknown projection; one of {names:?}"))
        })?],
    };
    // Under an idempotency key, a retry of the same request answers the first reply and
    // starts nothing (docs/API.md, Access).
    let request = [
        "rebuild-projections",
        q.get("projection").map_or("all", |n| n.as_str()),
    ];
    if let Some(first) = state
        .commands
        .remembered_reply::<ProjectionsBody>(&ctx, &request)
        .await?
    {
        return Ok((StatusCode::ACCEPTED, Json(first)).into_response());
    }
    // One rebuild at a time across every instance: the claim is the store's (a session
    // lock on PostgreSQL, a file lock on SQLite). While another holds it, nothing starts
    // and the answer is the running rebuild's status, read from the store.
    rc.hand_over(&state.keys).await?;
    // Started and answered in a task of its own, so that a client that goes away once
    // the rebuild started cannot leave it without its stored answer.
    let request = request.map(String::from);
    let st = Arc::clone(&state);
    let answer = tokio::spawn(async move {
        start_rebuild(&st, &names).await?;
        let body = statuses(&st).await?;
        let request = request.each_ref().map(String::as_str);
        Ok::<_, ApiError>(st.commands.remember_reply(&ctx, &request, body).await?)
    });
    let body = answer.await.map_err(ApiError::internal)??;
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Claims the rebuild of `names` and runs it in the background; when another holds the
/// claim, starts nothing.
async fn start_rebuild(state: &crate::State, names: &[Projection]) -> Result<(), ApiError> {
    let started = state
        .runner
        .begin_rebuild(names)
        .await
        .map_err(|e| match e {
            ProjectionError::Failed { .. } => ApiError::internal(e),
            other => ApiError::unavailable(other),
        })?;
    if let Some(started) = started {
        let st = Arc::clone(state);
        tokio::spawn(async move {
            let names = started.projections().to_vec();
            match st.runner.run_rebuild(started, &|_| {}).await {
                Ok(n) => tracing::info!(projections = ?names, events = n, "rebuild finished"),
                // Cut off by a shutdown (its stores closed under it): the live views
                // stay, and it can be started again; not an error to page anyone for.
                Err(e) if st.feed.is_closed() => tracing::warn!(
                    projections = ?names,
                    error = %e,
                    "rebuild interrupted by the shutdown; the live views stay as they were: \
                     start it again"
                ),
                Err(e) => tracing::error!(projections = ?names, error = %e, "rebuild failed"),
            }
            st.wake.notify_waiters();
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ledger_application::access::{Principal, Role};
    use ledger_domain::Owner;

    use super::*;

    fn called_by(actor: &str, role: Role) -> RequestContext {
        RequestContext {
            request_id: "r".into(),
            principal: Principal::new(actor, role),
            key: None,
            handed_over: Default::default(),
        }
    }

    /// The handlers' own check, which holds whatever the middleware lets through.
    #[test]
    fn admin_operations_refuse_every_role_but_the_admin() {
        assert!(admin_only(&called_by("admin", Role::Admin)).is_ok());
        let owner = Role::Owner(Owner::parse("Ada").unwrap());
        for role in [Role::Operator, Role::Reader, owner] {
            let refused = admin_only(&called_by("key:k", role.clone())).unwrap_err();
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{role:?}");
            assert_eq!(refused.code, ledger_domain::ErrorCode::Forbidden);
        }
    }
}
