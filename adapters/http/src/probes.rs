//! Operations' probes: health, readiness and the Prometheus metrics.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ledger_application::ports::readmodel::ProjectionState;
use ledger_application::ports::store::{FeedCursor, StreamQuery};
use serde_json::json;

pub(crate) fn router() -> Router<crate::State> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
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
    // Read for this scrape alone, and left out when they do not answer now (kept in the
    // shared registry, a lag of 0 read before an outage was shown through it, and one
    // scrape's leaving out could take another's fresh figures away).
    let store = crate::metrics::Metrics::default();
    let g = |name: &str, help: &'static str, v: u64| store.gauge(name, help, &[], v as f64);
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
    for r in reports.ok().and_then(Result::ok).unwrap_or_default() {
        store.gauge(
            "ledger_projection_lag_events",
            "Events behind, per projection",
            &[("projection", &r.status.name)],
            r.lag_events as f64,
        );
        store.gauge(
            "ledger_projection_failed",
            "1 while a projection is stopped on an event it cannot apply (see /admin/projections)",
            &[("projection", &r.status.name)],
            f64::from(u8::from(r.status.state == ProjectionState::Failed)),
        );
    }
    // Their names are not the shared registry's: the two texts make one exposition.
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        m.render() + &store.render(),
    )
        .into_response()
}
