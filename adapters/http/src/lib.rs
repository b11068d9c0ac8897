//! The HTTP driver: the contract of API.md on axum, nothing else.
//!
//! Each module exposes its routes; [`router`] merges them under one [`AppState`] and the
//! cross-cutting middleware (request id, access tokens, timeout, metrics, tracing).
//! HTTP bodies become domain values here; nothing HTTP-shaped goes further in.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![warn(missing_docs)]

mod admin;
pub mod api_keys;
pub mod auth;
mod batches;
pub mod body;
mod commands;
pub mod console;
pub mod contract;
pub mod dto;
pub mod dto_analytics;
pub mod dto_batches;
pub mod dto_events;
pub mod dto_transfers;
pub mod headers;
mod integrity;
pub mod live_streams;
pub mod metrics;
mod middleware;
pub mod openapi;
mod probes;
pub mod problem;
mod queries;
pub mod sse;
pub mod timed_store;
mod transfers;

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Metrics;
use axum::Router;
use ledger_application::ports::snapshot::SnapshotStore;
use ledger_application::ports::store::EventStore;
use ledger_application::projection::ProjectionRunner;
use ledger_application::queries::QueryService;
use ledger_application::repository::LoadStats;
use ledger_application::CommandService;
use tokio::sync::Notify;

pub use middleware::RequestContext;

/// A secret that never prints.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret's text: only for comparing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Who may call what.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The admin token; admin endpoints answer 403 without one.
    pub admin_token: Option<Secret>,
    /// API tokens, each an operator; with none and no API key, the API is open.
    pub api_tokens: Vec<Secret>,
}

/// Everything the handlers use.
pub struct AppState {
    /// Commands.
    pub commands: Arc<CommandService>,
    /// Queries.
    pub queries: Arc<QueryService>,
    /// Projections (rebuild, status).
    pub runner: Arc<ProjectionRunner>,
    /// The event store (readiness, size).
    pub store: Arc<dyn EventStore>,
    /// The snapshot store (readiness).
    pub snapshots: Arc<dyn SnapshotStore>,
    /// The registry `/metrics` renders.
    pub metrics: Arc<Metrics>,
    /// Aggregate-load counters.
    pub load_stats: Arc<LoadStats>,
    /// Tokens.
    pub access: Access,
    /// Bound on each request.
    pub request_timeout: Duration,
    /// Commands without an `Idempotency-Key` are refused (`server.require_idempotency_key`).
    pub require_idempotency_key: bool,
    /// Woken after every command, so projectors run at once.
    pub wake: Arc<Notify>,
    /// The live feed's one reader and its subscribers.
    pub feed: Arc<ledger_application::feed_hub::FeedHub>,
    /// The live streams served at once (`server.max_live_streams`, and
    /// `server.max_live_streams_per_key` of them by one caller).
    pub live_streams: Arc<live_streams::LiveStreams>,
    /// The event relay, when this instance runs it (its counts go to the metrics).
    pub relay: Option<Arc<ledger_application::relay::Relay>>,
    /// The PEM of the public key that signs seals (`None`: signing is off).
    pub public_key: Option<String>,
    /// The API keys (made, revoked, and resolved on every request).
    pub keys: Arc<ledger_application::api_keys::ApiKeys>,
    /// Each key's or token's request rate (`None`: unlimited).
    pub limiter: Option<auth::Limiter>,
    /// Where the last seal is (`GET /admin/seals/latest` reads from there on).
    pub latest_seal: ledger_application::seal_latest::LatestSeals,
}

/// Shared state.
pub type State = Arc<AppState>;

/// The whole API.
pub fn router(state: State) -> Router {
    Router::new()
        .merge(commands::router())
        .merge(queries::router())
        .merge(transfers::router())
        .merge(batches::router())
        .merge(sse::router())
        .merge(probes::router())
        .merge(admin::router())
        .merge(api_keys::router())
        .merge(integrity::router())
        .merge(openapi::router())
        .merge(console::router())
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::context,
        ))
        .with_state(state)
}
