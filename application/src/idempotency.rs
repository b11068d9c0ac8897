//! Idempotency: request fingerprints and the stored first outcome of a keyed request.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::commands::CommandError;
use crate::ports::store::IdempotencyRecord;
use ledger_domain::ErrorCode;

/// The stored first outcome: a reply or a refusal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Outcome<R> {
    Ok(R),
    Refused { code: ErrorCode, detail: String },
}

/// A stable hash of a request's meaningful parts.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The key as stored: scoped by the caller, so two principals never share one.
pub fn scoped_key(actor: &str, key: &str) -> String {
    format!("{actor}\u{1f}{key}")
}

/// The key operation `index` of a non-atomic batch sent with `key` runs under: the
/// batch's key, U+001F and the index. No key a client can send holds a control
/// character (the HTTP API admits only visible ASCII), so it is never a key of its own
/// (`order-7#0` could be, and was: a deposit sent with it was taken for the first
/// operation of a batch sent with `order-7`, and the other way round).
pub fn operation_key(key: &str, index: usize) -> String {
    format!("{key}\u{1f}{index}")
}

/// Whether `key` is a non-atomic batch operation's ([`operation_key`]).
pub fn is_operation_key(key: &str) -> bool {
    key.contains('\u{1f}')
}

/// What a non-atomic batch's own record says (its fingerprint says which keys its
/// operations ran under: `batch::non_atomic_fingerprint`).
pub const OPERATION_KEYS: &str = "non-atomic batch: each operation under <key>, U+001F, <index>";

/// A record of a successful reply.
pub fn record_ok<R: Serialize>(key: String, fingerprint: String, reply: &R) -> IdempotencyRecord {
    IdempotencyRecord {
        key,
        fingerprint,
        outcome: serde_json::to_string(&Outcome::Ok(reply)).unwrap_or_default(),
    }
}

/// A record of a refusal.
pub fn record_refusal(key: String, fingerprint: String, err: &CommandError) -> IdempotencyRecord {
    let outcome: Outcome<()> = Outcome::Refused {
        code: err.code(),
        detail: err.to_string(),
    };
    IdempotencyRecord {
        key,
        fingerprint,
        outcome: serde_json::to_string(&outcome).unwrap_or_default(),
    }
}

/// The stored outcome for a retry: the same request gets it back, another is refused.
pub fn replay<R: DeserializeOwned>(
    record: &IdempotencyRecord,
    fingerprint: &str,
) -> Result<R, CommandError> {
    if record.fingerprint != fingerprint {
        return Err(CommandError::IdempotencyKeyReused);
    }
    match serde_json::from_str::<Outcome<R>>(&record.outcome) {
        Ok(Outcome::Ok(reply)) => Ok(reply),
        Ok(Outcome::Refused { code, detail }) => Err(CommandError::StoredRefusal { code, detail }),
        Err(e) => Err(CommandError::Internal(format!(
            "unreadable idempotency record: {e}"
        ))),
    }
}
