//! Cross-cutting middleware: request id, access tokens, request timeout, metrics and
//! the tracing span of each request.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tracing::Instrument;

use crate::problem::ApiError;
use crate::Secret;
use ledger_domain::ErrorCode;

/// Who is calling, under which request id. Set on every request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// From `X-Request-ID`, or generated.
    pub request_id: String,
    /// The principal: `admin`, `api-token-N`, or `anonymous`.
    pub actor: String,
}

const OPEN_PATHS: [&str; 5] = [
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
    "/integrity/public-key",
];

fn is_admin_path(path: &str) -> bool {
    path.starts_with("/admin/") || path == "/admin"
}

fn matches(given: &str, secret: &Secret) -> bool {
    bool::from(given.as_bytes().ct_eq(secret.expose().as_bytes()))
}

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Decides who the caller is, or refuses.
fn authenticate(state: &crate::AppState, req: &Request) -> Result<String, ApiError> {
    let path = req.uri().path();
    if OPEN_PATHS.contains(&path) {
        return Ok("anonymous".into());
    }
    let token = bearer(req);
    let access = &state.access;
    let is_admin = |t: &str| access.admin_token.as_ref().is_some_and(|a| matches(t, a));
    let api_index = |t: &str| access.api_tokens.iter().position(|s| matches(t, s));
    if is_admin_path(path) {
        if access.admin_token.is_none() {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "admin endpoints are disabled: set auth.admin_token (LEDGER__AUTH__ADMIN_TOKEN)",
            ));
        }
        return match token {
            Some(t) if is_admin(t) => Ok("admin".into()),
            Some(t) if api_index(t).is_some() => Err(ApiError::new(
                ErrorCode::Forbidden,
                "this token is not an admin token",
            )),
            _ => Err(ApiError::new(
                ErrorCode::Unauthorized,
                "a valid admin bearer token is required",
            )),
        };
    }
    if access.api_tokens.is_empty() {
        return Ok(match token {
            Some(t) if is_admin(t) => "admin".into(),
            _ => "anonymous".into(),
        });
    }
    match token {
        Some(t) if is_admin(t) => Ok("admin".into()),
        Some(t) => api_index(t)
            .map(|i| format!("api-token-{}", i + 1))
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "unknown bearer token")),
        None => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "a bearer token is required",
        )),
    }
}

/// A route label without ids, for metrics.
fn route_label(method: &Method, path: &str) -> String {
    // Labels from a fixed set: a path or method a client makes up (a 404, an unknown
    // method) must not grow the metrics without bound.
    const ROUTES: [&str; 14] = [
        "/accounts",
        "/transfers",
        "/audit",
        "/analytics/summary",
        "/analytics/daily",
        "/events",
        "/events/stream",
        "/health",
        "/ready",
        "/metrics",
        "/openapi.json",
        "/admin/projections",
        "/admin/rebuild-projections",
        "/integrity/public-key",
    ];
    const TAILS: [&str; 4] = ["deposit", "withdraw", "close", "events"];
    let parts: Vec<&str> = path.split('/').collect();
    let shape = match parts.as_slice() {
        ["", "accounts", _] => "/accounts/{id}".to_owned(),
        ["", "accounts", _, "events", "stream"] => "/accounts/{id}/events/stream".to_owned(),
        ["", "accounts", _, tail] if TAILS.contains(tail) => format!("/accounts/{{id}}/{tail}"),
        _ => ROUTES
            .iter()
            .find(|r| **r == path)
            .map_or_else(|| "other".to_owned(), |r| (*r).to_owned()),
    };
    let method = match *method {
        Method::GET | Method::POST | Method::PUT | Method::DELETE | Method::PATCH => {
            method.as_str()
        }
        Method::HEAD | Method::OPTIONS => method.as_str(),
        _ => "OTHER",
    };
    format!("{method} {shape}")
}

/// The longest path and query the API reads (as common proxies allow); longer: 414.
/// (Past 64 KiB the HTTP parser itself answers 414, before any of this runs.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Request id, access, timeout, metrics and tracing around every request.
pub async fn context(State(state): State<crate::State>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let route = route_label(req.method(), req.uri().path());
    let span = tracing::info_span!("request", request_id = %id, route = %route);
    let mut response = async {
        let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
        if uri_len > MAX_URI_BYTES {
            let detail = format!("the path and query exceed {MAX_URI_BYTES} bytes");
            return ApiError::new(ErrorCode::UriTooLong, detail).into_response();
        }
        let actor = match authenticate(&state, &req) {
            Ok(actor) => actor,
            Err(e) => return e.into_response(),
        };
        req.extensions_mut().insert(RequestContext {
            request_id: id.clone(),
            actor,
        });
        match tokio::time::timeout(state.request_timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => ApiError::unavailable("request timed out").into_response(),
        }
    }
    .instrument(span)
    .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    let status = response.status().as_u16().to_string();
    state.metrics.count(
        "ledger_http_requests_total",
        "HTTP requests by route and status",
        &[("route", &route), ("status", &status)],
        1,
    );
    state.metrics.observe(
        "ledger_http_request_duration_seconds",
        "HTTP request latency",
        &[("route", &route)],
        started.elapsed(),
    );
    tracing::debug!(request_id = %id, %route, %status, "answered");
    response
}

/// 404 `not_found` for unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

/// 405 `method_not_allowed`.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take that method",
    )
}
