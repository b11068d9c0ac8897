//! The headers a command reads: `Idempotency-Key` and `If-Match`, each refused with a
//! clear problem when it cannot be read as one value.

use axum::http::{header, HeaderMap};
use ledger_application::IfMatch;

use crate::problem::ApiError;

/// The `Idempotency-Key` header: 1-255 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut keys = headers.get_all("idempotency-key").iter();
    let Some(v) = keys.next() else {
        return Ok(None);
    };
    if keys.next().is_some() {
        // Which one a retry carries is unknowable (a proxy may keep either).
        return Err(ApiError::validation(
            "send one Idempotency-Key header, not several",
        ));
    }
    let ok = v.as_bytes();
    if ok.is_empty() || ok.len() > 255 || !ok.iter().all(u8::is_ascii_graphic) {
        return Err(ApiError::validation(
            "Idempotency-Key must be 1-255 visible ASCII characters (no spaces or control characters)",
        ));
    }
    Ok(Some(String::from_utf8_lossy(ok).into_owned()))
}

/// The `If-Match` header: `*`, or a comma-separated list of entity tags (RFC 9110:
/// `"opaque"` or `W/"opaque"`, where the opaque part may hold any visible character but
/// `"`, commas included; empty list elements are allowed). Comparison is strong and
/// exact: only `"<version>"` written canonically names a version; weak tags (`W/"5"`) and
/// other spellings (`"05"`, `"+7"`) are valid tags that never match. An empty value
/// (or commas alone): 422; anything else: 400.
pub fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>, ApiError> {
    let values = headers.get_all(header::IF_MATCH);
    if values.iter().next().is_none() {
        return Ok(None);
    }
    let malformed =
        || ApiError::malformed("If-Match must be * or a list of ETags such as \"3\", \"4\"");
    let mut versions = Vec::new();
    let mut stars = 0;
    let mut tags = 0;
    for value in values {
        let text = value.as_bytes();
        if text.trim_ascii() == b"*" {
            stars += 1;
            continue;
        }
        let mut rest = text;
        loop {
            rest = rest.trim_ascii_start();
            while let Some(r) = rest.strip_prefix(b",") {
                rest = r.trim_ascii_start();
            }
            if rest.is_empty() {
                break;
            }
            let (weak, quoted) = match rest.strip_prefix(b"W/") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let body = quoted.strip_prefix(b"\"").ok_or_else(malformed)?;
            let end = body.iter().position(|b| *b == b'"').ok_or_else(malformed)?;
            let opaque = &body[..end];
            if !opaque
                .iter()
                .all(|b| *b == 0x21 || (0x23..=0x7E).contains(b) || *b >= 0x80)
            {
                return Err(malformed());
            }
            let after = body[end + 1..].trim_ascii_start();
            if !(after.is_empty() || after.starts_with(b",")) {
                return Err(malformed());
            }
            rest = after;
            tags += 1;
            let canonical = std::str::from_utf8(opaque)
                .ok()
                .and_then(|t| t.parse::<u64>().ok().filter(|v| v.to_string() == t));
            if let (false, Some(v)) = (weak, canonical) {
                versions.push(v);
            }
        }
    }
    // An empty value names nothing a request could mean (a client's unset variable,
    // most likely): said, not answered 412 as a precondition that failed. Well formed
    // as a list (of nothing), so a validation refusal, not a malformed header.
    // `*` beside tags (on lines of their own, which HTTP reads as one list) is as
    // malformed as on one line: taken as `*`, a stale tag would be ignored. So is `*`
    // twice (`*, *` on one line is no list either).
    let any = stars > 0;
    if stars > 1 || (any && tags > 0) {
        return Err(malformed());
    }
    if !any && tags == 0 {
        return Err(ApiError::validation(
            "If-Match is empty: give * or the ETags the account may be at, such as \"3\"",
        ));
    }
    Ok(Some(if any {
        IfMatch::Any
    } else {
        IfMatch::Versions(versions)
    }))
}
