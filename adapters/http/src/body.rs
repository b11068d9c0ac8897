//! Turning request parts into domain values: JSON bodies (415/413/400), exact amounts,
//! validated texts and query strings (the command headers: `headers.rs`). Parse, don't
//! validate.

use std::collections::HashMap;

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap};
use ledger_domain::{AccountId, Note, ValueError};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;
use ledger_domain::ErrorCode;

/// Largest accepted body.
pub const BODY_LIMIT: usize = 64 * 1024;

mod amount;
pub use amount::{amount, overdraft_limit};

/// Reads a JSON body; an empty body reads as `{}` (for commands whose fields are optional).
pub async fn json<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    json_up_to(headers, body, BODY_LIMIT).await
}

/// Whether a body could not be read because it went past the limit (else it was cut off).
fn past_limit(e: axum::Error) -> bool {
    let inner = e.into_inner();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*inner);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A JSON body of at most `limit` bytes (only `POST /batches` takes more than
/// [`BODY_LIMIT`]).
pub async fn json_up_to<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    if let Some(coded) = coded(headers) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("bodies are read as sent: {coded} is not supported"),
        ));
    }
    // A declared length past the limit is refused before any of the body is asked for
    // (no `100 Continue` invites it, and a client that waits to be invited is answered
    // now, not after the request's time runs out).
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body exceeds {limit} bytes"),
        )
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|e| match past_limit(e) {
            true => too_large(),
            false => ApiError::new(
                ErrorCode::MalformedRequest,
                "the body ended before all of it came (shorter than its Content-Length, or its \
             chunks cut off)",
            ),
        })?;
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        // Exactly one: a second line (HTTP reads both as one list) is not JSON alone.
        let mut types = headers.get_all(header::CONTENT_TYPE).iter();
        let is_json = match (types.next(), types.next()) {
            (Some(v), None) => v.to_str().is_ok_and(is_json),
            _ => false,
        };
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as Content-Type: application/json",
            ));
        }
        &bytes
    };
    object(text)
}

/// A content coding on the body (`Content-Encoding` other than `identity`, or a
/// `Transfer-Encoding` other than `chunked`), named: its bytes would be read as JSON
/// as they are.
fn coded(headers: &HeaderMap) -> Option<String> {
    let named = |name: header::HeaderName, plain: &'static str| {
        headers.get_all(&name).iter().find_map(move |v| {
            let codings = v.to_str().unwrap_or("?");
            codings
                .split(',')
                .map(str::trim)
                .any(|c| !c.is_empty() && !c.eq_ignore_ascii_case(plain))
                .then(|| format!("{name}: {codings}"))
        })
    };
    named(header::CONTENT_ENCODING, "identity")
        .or_else(|| named(header::TRANSFER_ENCODING, "chunked"))
}

/// `application/json`, with no parameter but a `charset` of UTF-8 (JSON's only
/// encoding, RFC 8259): any other type, `application/problem+json` included, is not a
/// request body this API reads.
fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    media.eq_ignore_ascii_case("application/json")
        && parts.all(|p| {
            p.is_empty()
                || p.split_once('=').is_some_and(|(name, value)| {
                    name.trim().eq_ignore_ascii_case("charset")
                        && value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
                })
        })
}

/// A JSON object read as `T`. Only an object: serde would also fill a struct from an
/// array, field by field in order (`["5", null]` as a deposit), which no body is.
pub fn object<T: DeserializeOwned>(text: &[u8]) -> Result<T, ApiError> {
    let first = text.iter().position(|b| !b.is_ascii_whitespace());
    match first.map(|i| (i, text[i])) {
        Some((_, b'{')) | None => {
            serde_json::from_slice(text).map_err(|e| ApiError::malformed(json_problem(&e)))
        }
        Some((i, _)) => {
            // Invalid JSON is said as such; valid JSON of another kind is the wrong shape.
            serde_json::from_slice::<serde::de::IgnoredAny>(text)
                .map_err(|e| ApiError::malformed(json_problem(&e)))?;
            let line = 1 + text[..i].iter().filter(|&&b| b == b'\n').count();
            let column = 1 + i
                - text[..i]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |n| n + 1);
            Err(ApiError::malformed(format!(
                "the body is not the expected JSON: expected a JSON object (line {line}, column {column})"
            )))
        }
    }
}

/// What is wrong with a body, in the API's words: serde names the Rust type it wanted
/// (`expected struct CloseBody`), which says nothing to a client.
pub fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("the body is not valid JSON (line {line}, column {column})")
        }
        Category::Data => {
            let text = e.to_string();
            // Drop serde's own " at line L column C": said once, below.
            let what = text
                .rsplit_once(" at line ")
                .map_or(text.as_str(), |(w, _)| w);
            let mut words: Vec<String> = Vec::new();
            let mut tokens = what.split(' ').peekable();
            while let Some(t) = tokens.next() {
                match t {
                    "struct" | "map" if tokens.peek().is_some() => {
                        tokens.next();
                        words.push("a JSON object".into());
                    }
                    "enum" if tokens.peek().is_some() => {
                        tokens.next();
                        words.push("one of the documented values".into());
                    }
                    "sequence" => words.push("a JSON array".into()),
                    _ => words.push(t.into()),
                }
            }
            let what = words.join(" ").replace("a a JSON", "a JSON");
            format!("the body is not the expected JSON: {what} (line {line}, column {column})")
        }
    }
}

/// Maps a value error to `validation_failed`.
pub fn invalid(e: ValueError) -> ApiError {
    ApiError::validation(e.to_string())
}

/// An optional note (description or reason).
pub fn note(text: Option<String>) -> Result<Option<Note>, ApiError> {
    text.map(Note::parse).transpose().map_err(invalid)
}

/// An account id from a path: one that cannot exist is simply not found.
pub fn path_account(id: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(id).map_err(|_| ApiError::account_not_found())
}

/// The `account_id` filter of a list: an account id (as stored: earlier versions took
/// `..`), or 422 (`transfer/t1` once found a transfer's own entries in the audit log,
/// as if it were an account).
pub fn account_filter(q: &HashMap<String, String>) -> Result<Option<String>, ApiError> {
    q.get("account_id")
        .map(|id| {
            AccountId::from_stored(id.clone())
                .map(|a| a.as_str().to_owned())
                .map_err(invalid)
        })
        .transpose()
}

/// The query string as a map: UTF-8 once percent-decoded. No parameter takes a control character (a NUL cannot
/// even be stored as PostgreSQL text), and none is given twice (no parameter takes a
/// list: `event_type=A&event_type=B` meant as "A or B" must not deliver B alone): 422,
/// never a store error.
pub fn query(raw: Option<&str>) -> Result<HashMap<String, String>, ApiError> {
    let raw = raw.unwrap_or("");
    // Decoded as it is below, bytes that are not UTF-8 would become U+FFFD and be
    // looked up as such (an owner no one has): said instead.
    if percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .is_err()
    {
        return Err(ApiError::validation(
            "the query string is not UTF-8 once percent-decoded",
        ));
    }
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .map_err(|e| ApiError::validation(format!("unreadable query string: {e}")))?;
    if let Some((name, _)) = pairs.iter().find(|(_, v)| v.chars().any(char::is_control)) {
        return Err(ApiError::validation(format!(
            "query parameter `{name}` holds a control character"
        )));
    }
    let mut map = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if map.contains_key(&name) {
            return Err(ApiError::validation(format!(
                "query parameter `{name}` is given more than once; it takes one value"
            )));
        }
        map.insert(name, value);
    }
    Ok(map)
}

/// A `limit` parameter within bounds.
pub fn limit(q: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, ApiError> {
    match q.get("limit") {
        None => Ok(default),
        Some(v) => whole_number(v)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::validation(format!("limit must be 1-{max}"))),
    }
}

/// A numeric keyset `cursor` (a `next_cursor` of the previous page), if given.
pub fn position_cursor(q: &HashMap<String, String>) -> Result<Option<u64>, ApiError> {
    q.get("cursor")
        .map(|c| whole_number(c).ok_or_else(|| ApiError::validation("unreadable cursor")))
        .transpose()
}

/// 1-19 ASCII digits (no sign, no spaces), as the contract's patterns say; above the
/// largest signed 64-bit number (what a column holds) it is that number: a cursor or
/// version past every one there is.
pub fn whole_number(v: &str) -> Option<u64> {
    let plain = (1..=19).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit());
    plain
        .then(|| v.parse::<u64>().ok())
        .flatten()
        .map(|n| n.min(i64::MAX.unsigned_abs()))
}

/// Refuses parameters the route does not take: a misspelt filter must not silently
/// deliver everything.
pub fn only(q: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::validation(format!(
            "unknown query parameter `{k}`; this route takes {known:?}"
        ))),
        None => Ok(()),
    }
}

/// The `event_type` filter: one of the event types there are (an unknown one, a typo
/// most likely, is 422 rather than an empty answer).
pub fn event_type(q: &HashMap<String, String>) -> Result<Option<String>, ApiError> {
    match q.get("event_type") {
        Some(t) if !ledger_domain::EVENT_TYPES.contains(&t.as_str()) => {
            Err(ApiError::validation(format!(
                "unknown event_type; one of {:?}",
                ledger_domain::EVENT_TYPES
            )))
        }
        t => Ok(t.cloned()),
    }
}
