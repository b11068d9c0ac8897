//! Operations: health, readiness, metrics and projection admin.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Extension, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ledger_application::access::Capability;
use ledger_application::ports::readmodel::{Projection, ProjectionState, PROJECTIONS};
use ledger_application::ports::store::{FeedCursor, StreamQuery};
use ledger_application::projection::ProjectionError;
use serde_json::json;

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
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/admin/projections", get(projections))
        .route("/admin/rebuild-projections", post(rebuild))
}

#[utoipa::path(get, path = "/health", responses((status = 200)))]
pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// How long `/ready` waits for each of its checks at most (as the store's pools wait
/// for a connection), and at most half the request's bound.
const READY_BOUND: std::time::Duration = std::time::Duration::from_secs(3);

#[utoipa::path(get, path = "/ready", responses((status = 200), (status = 503)))]
pub(crate) async fn ready(State(state): State<crate::State>) -> Response {
    let probe = StreamQuery {
        stream_id: "__ready__",
        after_version: 0,
        until: None,
        limit: 1,
    };
    // Asked at once: a database that does not answer costs one wait, not three (a
    // probe with a short timeout would see a timeout instead of the 503).
    // Each bounded: a query that waits (on a table lock, say) is an answer too, within
    // the probe's time, not the request timeout's generic 503.
    let target = state.runner.target();
    let bound = READY_BOUND.min(state.request_timeout / 2);
    let (store, snapshots, statuses) = futures_util::future::join3(
        tokio::time::timeout(bound, state.store.read_stream(probe)),
        tokio::time::timeout(bound, state.snapshots.load("__ready__")),
        tokio::time::timeout(bound, target.statuses()),
    )
    .await;
    let (store_ok, snapshots_ok) = (
        store.is_ok_and(|r| r.is_ok()),
        snapshots.is_ok_and(|r| r.is_ok()),
    );
    let statuses = statuses.unwrap_or_else(|_| Ok(Vec::new()));
    // A projection stopped on an event it cannot apply leaves commands and the other
    // views working: still ready, but said here (and in `ledger_projection_failed`).
    let failed: Vec<String> = match statuses {
        Ok(all) => all
            .into_iter()
            .filter(|p| p.state == ProjectionState::Failed)
            .map(|p| p.name)
            .collect(),
        Err(_) => Vec::new(),
    };
    let body = json!({
        "status": if store_ok { "ready" } else { "unavailable" },
        "event_store": if store_ok { "ok" } else { "unavailable" },
        "snapshots": if snapshots_ok { "ok" } else { "degraded" },
        "projections": if failed.is_empty() { "ok" } else { "failed" },
        "failed_projections": failed,
    });
    if store_ok {
        return (StatusCode::OK, Json(body)).into_response();
    }
    let retry = [(header::RETRY_AFTER, "1")];
    (StatusCode::SERVICE_UNAVAILABLE, retry, Json(body)).into_response()
}

/// How long `/metrics` waits for each of the store's gauges.
const METRICS_STORE_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text")))]
pub(crate) async fn metrics(State(state): State<crate::State>) -> Response {
    let m = &state.metrics;
    let s = &state.load_stats;
    let loads = [
        ("cache", s.from_cache.load(Ordering::Relaxed)),
        ("snapshot", s.from_snapshot.load(Ordering::Relaxed)),
        ("replay", s.from_replay.load(Ordering::Relaxed)),
    ];
    for (source, n) in loads {
        m.count_total(
            "ledger_aggregate_loads_total",
            "Aggregate loads by source",
            &[("source", source)],
            n,
        );
    }
    let c = |name: &str, help: &'static str, v: &std::sync::atomic::AtomicU64| {
        m.count_total(name, help, &[], v.load(Ordering::Relaxed))
    };
    c(
        "ledger_events_replayed_total",
        "Events folded by aggregate loads",
        &s.events_replayed,
    );
    c(
        "ledger_snapshot_hits_total",
        "Loads that used a snapshot",
        &s.from_snapshot,
    );
    c(
        "ledger_snapshot_misses_total",
        "Store loads without a usable snapshot",
        &s.from_replay,
    );
    c(
        "ledger_snapshot_errors_total",
        "Snapshot store errors and ignored snapshots",
        &s.snapshot_errors,
    );
    c(
        "ledger_snapshots_written_total",
        "Snapshots written",
        &s.snapshots_written,
    );
    m.count_total(
        "ledger_sse_feed_reads_total",
        "Feed reads made for live subscribers (the shared reader's and their catch-ups)",
        &[],
        state.feed.reads(),
    );
    if let Some(relay) = &state.relay {
        m.count_total(
            "ledger_relay_published_total",
            "Events the relay of this instance got acknowledged by JetStream",
            &[],
            relay.relayed(),
        );
    }
    let g = |name: &str, help: &'static str, v: u64| m.gauge(name, help, &[], v as f64);
    g(
        "ledger_sse_subscribers",
        "Open live-feed (SSE) subscriptions",
        state.feed.subscribers() as u64,
    );
    // The store's gauges are left out when it does not answer soon (together, within
    // half the request bound at most): the counters above matter most while it is down.
    let bound = METRICS_STORE_BOUND.min(state.request_timeout / 2);
    let (events, bytes, reports) = futures_util::future::join3(
        tokio::time::timeout(bound, state.store.lag_after(FeedCursor::START)),
        tokio::time::timeout(bound, state.store.size_bytes()),
        tokio::time::timeout(bound, state.runner.reports()),
    )
    .await;
    if let Ok(Ok(n)) = events {
        g(
            "ledger_event_store_events",
            "Events in the store (exact up to 10,000, from positions beyond)",
            n,
        );
    }
    if let Ok(Ok(bytes)) = bytes {
        g(
            "ledger_event_store_bytes",
            "Bytes the events take in the store (table and indexes)",
            bytes,
        );
    }
    if let Ok(Ok(reports)) = reports {
        for r in reports {
            m.gauge(
                "ledger_projection_lag_events",
                "Events behind, per projection",
                &[("projection", &r.status.name)],
                r.lag_events as f64,
            );
            m.gauge(
                "ledger_projection_failed",
                "1 while a projection is stopped on an event it cannot apply (see /admin/projections)",
                &[("projection", &r.status.name)],
                f64::from(u8::from(r.status.state == ProjectionState::Failed)),
            );
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        m.render(),
    )
        .into_response()
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
