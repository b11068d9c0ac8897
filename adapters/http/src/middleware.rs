//! Cross-cutting middleware: request id, access tokens, request timeout, metrics and
//! the tracing span of each request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ledger_application::access::Principal;
use ledger_application::api_keys::ApiKeys;
use ledger_application::ports::system::{IdGenerator, UuidV7Ids};
use tracing::Instrument;

use crate::problem::ApiError;
use ledger_domain::ErrorCode;

/// Who is calling, under which request id. Set on every request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// From `X-Request-ID`, or generated.
    pub request_id: String,
    /// The caller (`admin`, `api-token-N`, `key:<key_id>`, or `anonymous`) and its role.
    pub principal: Principal,
    /// For an API key, the hash of its secret (a live stream asks again whether the key
    /// is still active).
    pub key: Option<ledger_application::ports::keys::SecretHash>,
    /// Set once the request is handed to the command path (see [`Self::hand_over`]).
    pub handed_over: Arc<AtomicBool>,
}

impl RequestContext {
    /// Hands the request to the command path once its caller is checked again: its
    /// headers were checked as they arrived, and a key revoked (or an open API closed)
    /// while its body was still arriving refuses it, 401, nothing written. From here
    /// on its write may happen whether or not anyone waits for it (account commands
    /// are written by a task of their own), so past the time bound the answer waits
    /// for its outcome once more before it says the outcome is unknown, instead of
    /// saying nothing was written.
    pub async fn hand_over(&self, keys: &ApiKeys) -> Result<(), ApiError> {
        crate::auth::still_admitted(keys, self).await?;
        self.handed_over.store(true, Ordering::Release);
        Ok(())
    }
}

/// The caller's `X-Request-ID` when it gave one that can be one (once: of two, which
/// one a proxy passed on cannot be known, and the first was taken silently), or a new
/// UUIDv7.
fn request_id(req: &Request) -> String {
    let mut given = req.headers().get_all("x-request-id").iter();
    given
        .next()
        .filter(|_| given.next().is_none())
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| UuidV7Ids.new_id().to_string(), str::to_owned)
}

/// The 404 a path that is not UTF-8 once percent-decoded gets (no route or id is), as
/// an id that does not match does; otherwise axum's path extractor would answer a
/// plain-text 400.
fn undecodable(path: &str) -> Option<ApiError> {
    if percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .is_ok()
    {
        return None;
    }
    Some(match path.split('/').nth(1) {
        Some("accounts") => ApiError::account_not_found(),
        Some("transfers") => ApiError::new(ErrorCode::TransferNotFound, "no such transfer"),
        _ => ApiError::new(ErrorCode::NotFound, "no such route"),
    })
}

/// A route label without ids, for metrics: the route the router matched (its
/// template), or "other". Labels come from the router's fixed set, so a path or method
/// a client makes up (a 404, an unknown method) cannot grow the metrics without bound,
/// and every route has its own.
fn route_label(method: &Method, matched: Option<&MatchedPath>) -> String {
    let shape = matched.map_or("other", MatchedPath::as_str);
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

/// A route that takes no query parameters refuses any: a command takes its fields in
/// its JSON body (`POST /transfers?pending=true` was ignored, and the money moved at
/// once), and a read or a revocation would ignore a filter it was given. The open
/// routes (health, readiness, metrics, the document, the public key) take whatever a
/// probe adds.
fn query_on_parameterless(req: &Request) -> Option<ApiError> {
    let given = req.uri().query().is_some_and(|q| !q.is_empty());
    if !given {
        return None;
    }
    // Only an operation the route has: another method answers 405 as it would.
    let route = req.extensions().get::<MatchedPath>()?.as_str();
    // A HEAD answers as its GET would.
    let method = match req.method() {
        &Method::HEAD => "get".to_owned(),
        m => m.as_str().to_ascii_lowercase(),
    };
    let takes_none = crate::contract::operations().any(|op| {
        op.method == method
            && op.path == route
            && !op.open
            && (op.params)().iter().all(|p| p["in"] != "query")
    });
    let detail = if method == "post" {
        "this route takes no query parameters: a command's fields go in its JSON body"
    } else {
        "this route takes no query parameters"
    };
    takes_none.then(|| ApiError::validation(detail))
}

/// An HTTP/1.1 request without exactly one `Host` field: 400, as RFC 9112 (section
/// 3.2) requires (HTTP/1.0 may leave it out).
fn hostless(req: &Request) -> Option<ApiError> {
    let hosts = req
        .headers()
        .get_all(axum::http::header::HOST)
        .iter()
        .count();
    let required = req.version() == axum::http::Version::HTTP_11;
    (hosts > 1 || (required && hosts == 0))
        .then(|| ApiError::malformed("exactly one Host header is required (RFC 9112, section 3.2)"))
}

/// Request id, access, timeout, metrics and tracing around every request.
pub async fn context(State(state): State<crate::State>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let route = route_label(req.method(), req.extensions().get::<MatchedPath>());
    let span = tracing::info_span!("request", request_id = %id, route = %route);
    let console = crate::auth::is_console_path(req.uri().path());
    let mut response = async {
        let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
        if uri_len > MAX_URI_BYTES {
            let detail = format!("the path and query exceed {MAX_URI_BYTES} bytes");
            return ApiError::new(ErrorCode::UriTooLong, detail).into_response();
        }
        if let Some(refused) = hostless(&req) {
            return refused.into_response();
        }
        let path = req.uri().path().to_owned();
        if let Some(refused) = undecodable(&path) {
            return refused.into_response();
        }
        // The bound covers the whole request, its caller's authentication included (a
        // key's lookup waits on the store too).
        let bound = state.request_timeout;
        let deadline = tokio::time::Instant::now() + bound;
        let token = crate::auth::bearer(&req).map(|t| t.map(str::to_owned));
        let authenticated =
            tokio::time::timeout_at(deadline, crate::auth::authenticate(&state, &path, token));
        let (principal, key) = match authenticated.await {
            Ok(Ok(caller)) => caller,
            Ok(Err(e)) => return e.into_response(),
            Err(_) => return ApiError::timed_out().into_response(),
        };
        if let Some(refused) = crate::auth::past_rate(&state, &principal) {
            return refused;
        }
        if let Some(refused) = query_on_parameterless(&req) {
            return refused.into_response();
        }
        let handed_over = Arc::new(AtomicBool::new(false));
        req.extensions_mut().insert(RequestContext {
            request_id: id.clone(),
            principal,
            key,
            handed_over: handed_over.clone(),
        });
        let answer = next.run(req);
        tokio::pin!(answer);
        if let Ok(r) = tokio::time::timeout_at(deadline, &mut answer).await {
            return r;
        }
        if !handed_over.load(Ordering::Acquire) {
            // Its body still arriving, or waiting to be handed over: dropped, unwritten.
            return ApiError::timed_out().into_response();
        }
        // It may be written: its outcome, if it comes within one more bound.
        match tokio::time::timeout(bound, answer).await {
            Ok(r) => r,
            Err(_) => ApiError::outcome_unknown().into_response(),
        }
    }
    .instrument(span)
    .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    // Answers hold account data and a new key's secret: no cache keeps them, live
    // streams included (the console's files say what they allow themselves; its
    // refusals, a 404 or a 405, say nothing and get this too).
    if !console
        || !response
            .headers()
            .contains_key(axum::http::header::CACHE_CONTROL)
    {
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
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
