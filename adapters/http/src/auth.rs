//! Who is calling: the bearer token or API key of a request resolved to its
//! [`Principal`], and each principal's request rate. What a principal may then do is
//! decided by the use cases (`ledger_application::access`), not here.

use std::num::NonZeroU32;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ledger_application::access::{Principal, Role};
use ledger_application::api_keys::{hash_of, ApiKeys};
use ledger_application::ports::keys::SecretHash;
use ledger_application::ports::store::StoreError;
use ledger_domain::ErrorCode;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::middleware::RequestContext;
use crate::problem::ApiError;
use crate::{AppState, Secret};

/// Requests per second per principal (its actor name).
pub type Limiter = DefaultKeyedRateLimiter<String>;

/// A limiter allowing `per_second` requests a second to each key or token, in bursts of
/// up to twice that; `None` for 0 (no limit).
pub fn rate_limiter(per_second: u32) -> Option<Limiter> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

/// Paths served to anyone.
pub(crate) const OPEN_PATHS: [&str; 5] = [
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
    "/integrity/public-key",
];

/// The console's page and files: served to anyone (it signs in with a key itself).
pub(crate) fn is_console_path(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

fn is_admin_path(path: &str) -> bool {
    path.starts_with("/admin/") || path == "/admin"
}

/// Compared as SHA-256 digests, in constant time: the time taken shows neither the
/// configured token's content nor its length (a comparison of the texts themselves
/// ends at once when the lengths differ).
fn matches(given: &str, secret: &Secret) -> bool {
    let digest = |s: &str| Sha256::digest(s.as_bytes());
    bool::from(
        digest(given)
            .as_slice()
            .ct_eq(digest(secret.expose()).as_slice()),
    )
}

/// Whether `path` is served to anyone (no caller is resolved for it).
pub(crate) fn is_open(path: &str) -> bool {
    OPEN_PATHS.contains(&path) || is_console_path(path)
}

/// The token of the request's `Authorization: Bearer` header. More than one
/// `Authorization` header is 401: which caller they mean cannot be known (a proxy
/// reading the last one would disagree with a service reading the first). So is a
/// `Bearer` one without a token, or with bytes outside visible ASCII: a credential
/// meant for the service that it cannot read is not taken for none. Another scheme
/// (`Basic`, a proxy's own) is not the service's: it is ignored.
pub(crate) fn bearer(req: &Request) -> Result<Option<&str>, ApiError> {
    let mut fields = req.headers().get_all(header::AUTHORIZATION).iter();
    let Some(v) = fields.next() else {
        return Ok(None);
    };
    if fields.next().is_some() {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "the request has more than one Authorization header; send one",
        ));
    }
    let bytes = v.as_bytes();
    let scheme_end = bytes
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(bytes.len());
    if !bytes[..scheme_end].eq_ignore_ascii_case(b"bearer") {
        return Ok(None);
    }
    // Visible ASCII (and spaces) once read as text, so the scheme's end is a boundary.
    let token = v.to_str().ok().map(|v| v[scheme_end..].trim());
    token.filter(|t| !t.is_empty()).map(Some).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "the Authorization header must be `Bearer <token>`, the token in visible ASCII",
        )
    })
}

/// Who is calling: the principal, and for an API key the hash of its secret (a live
/// stream asks again with it whether the key is still active).
pub(crate) type Caller = (Principal, Option<SecretHash>);

/// The caller a token or key names: the admin token, an `auth.api_tokens` entry (an
/// operator, `api-token-N`), or an active API key (`key:<key_id>`). Tokens are
/// compared in constant time; a key is found by its secret's SHA-256, so the time a
/// lookup takes says nothing about the secret.
async fn resolve(state: &AppState, token: &str) -> Result<Option<Caller>, ApiError> {
    let access = &state.access;
    if access
        .admin_token
        .as_ref()
        .is_some_and(|a| matches(token, a))
    {
        return Ok(Some((Principal::admin(), None)));
    }
    // Every token is compared, whichever matches.
    let operator_token = access
        .api_tokens
        .iter()
        .enumerate()
        .fold(None, |found, (i, s)| match matches(token, s) {
            true => found.or(Some(i)),
            false => found,
        });
    if let Some(i) = operator_token {
        let operator = Principal::new(format!("api-token-{}", i + 1), Role::Operator);
        return Ok(Some((operator, None)));
    }
    let Some(hash) = hash_of(token) else {
        return Ok(None);
    };
    let principal = state.keys.principal_by_hash(&hash).await;
    Ok(principal.map_err(ApiError::from)?.map(|p| (p, Some(hash))))
}

/// Decides who the caller of `path` with this bearer token is, or refuses (401, or
/// 403 for an admin path).
pub(crate) async fn authenticate(
    state: &AppState,
    path: &str,
    token: Result<Option<String>, ApiError>,
) -> Result<Caller, ApiError> {
    if is_open(path) {
        return Ok((Principal::anonymous(), None));
    }
    if is_admin_path(path) && state.access.admin_token.is_none() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "admin endpoints are disabled: set auth.admin_token (LEDGER__AUTH__ADMIN_TOKEN)",
        ));
    }
    let token = token?;
    let known = match token.as_deref() {
        Some(t) => resolve(state, t).await?,
        None => None,
    };
    if is_admin_path(path) {
        return match known {
            Some(caller) if caller.0.role == Role::Admin => Ok(caller),
            Some(_) => Err(ApiError::new(
                ErrorCode::Forbidden,
                "this endpoint needs the admin token",
            )),
            None => Err(ApiError::new(
                ErrorCode::Unauthorized,
                "a valid admin bearer token is required",
            )),
        };
    }
    if let Some(caller) = known {
        return Ok(caller);
    }
    // A token sent must be known, on an open API too: a client with a mistyped or
    // revoked one learns it now, not when the API closes.
    if token.is_some() {
        return Err(ApiError::new(ErrorCode::Unauthorized, UNKNOWN_TOKEN));
    }
    let closed =
        !state.access.api_tokens.is_empty() || state.keys.any().await.map_err(ApiError::from)?;
    match closed {
        false => Ok((Principal::anonymous(), None)),
        true => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "a bearer token is required",
        )),
    }
}

const UNKNOWN_TOKEN: &str = "unknown or revoked bearer token";

/// What became of the access a request was admitted with.
pub(crate) enum Access {
    /// It holds.
    Still,
    /// Its API key has been revoked since.
    KeyRevoked,
    /// It came in with no credential on an open API, which a first key has closed since.
    ApiClosed,
}

/// Asks again whether the caller of `rc` is still admitted (a live stream before each
/// event, a command as it is handed over). The settings' tokens cannot change while the
/// service runs; an API key and an open API can.
pub(crate) async fn access_now(keys: &ApiKeys, rc: &RequestContext) -> Result<Access, StoreError> {
    Ok(match &rc.key {
        Some(hash) if keys.principal_by_hash(hash).await?.is_none() => Access::KeyRevoked,
        None if rc.principal == Principal::anonymous() && keys.any().await? => Access::ApiClosed,
        _ => Access::Still,
    })
}

/// [`access_now`] for a command: refused (401) unless it still holds.
pub(crate) async fn still_admitted(keys: &ApiKeys, rc: &RequestContext) -> Result<(), ApiError> {
    match access_now(keys, rc).await? {
        Access::Still => Ok(()),
        Access::KeyRevoked => Err(ApiError::new(ErrorCode::Unauthorized, UNKNOWN_TOKEN)),
        Access::ApiClosed => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "the API is no longer open: a bearer token is required",
        )),
    }
}

/// Every 4,096 checks, the limiter lets go of callers whose rate state is back to
/// full (no request for a while): a key used once, or revoked, would otherwise keep
/// its entry for the process's life.
fn forget_idle_callers(limiter: &Limiter) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CHECKS: AtomicU32 = AtomicU32::new(0);
    if CHECKS.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
}

/// The 429 `rate_limited` answer (with `Retry-After`) when the principal is past its
/// rate; `None` when it may go on. The open API's anonymous caller is not limited
/// (there is no key to limit).
pub(crate) fn past_rate(state: &AppState, who: &Principal) -> Option<Response> {
    let limiter = state.limiter.as_ref()?;
    if who.actor == Principal::anonymous().actor {
        return None;
    }
    forget_idle_callers(limiter);
    let not_until = limiter.check_key(&who.actor).err()?;
    let wait = not_until.wait_time_from(limiter.clock().now());
    let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let mut response = ApiError::new(
        ErrorCode::RateLimited,
        format!("past this key's rate of requests; retry in {seconds} s"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_itself_alone() {
        let secret = Secret::new("s3cret-token");
        assert!(matches("s3cret-token", &secret));
        for other in [
            "",
            "s3cret-toke",
            "s3cret-token ",
            "S3cret-token",
            "s3cret-token\0",
        ] {
            assert!(!matches(other, &secret), "{other:?}");
        }
    }

    #[test]
    fn callers_idle_long_enough_are_let_go() {
        let limiter = rate_limiter(1_000).expect("a limit");
        for i in 0..100 {
            assert!(limiter.check_key(&format!("key:{i}")).is_ok());
        }
        assert_eq!(limiter.len(), 100);
        // Each state is full again after 1 ms (a request per ms, in bursts of two).
        std::thread::sleep(std::time::Duration::from_millis(20));
        for _ in 0..4096 {
            forget_idle_callers(&limiter);
        }
        assert_eq!(limiter.len(), 0, "every idle caller let go");
    }
}
