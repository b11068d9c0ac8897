//! Tamper evidence, as pure functions: each event's hash chains it to the previous
//! event of its stream, and a feed digest chains every event of the ledger in feed
//! order (what a seal signs).
//!
//! **The canonical encoding of an event** is a JSON object with exactly these keys:
//! `data`, `event_id`, `event_type`, `metadata`, `prev_hash`, `recorded_at`,
//! `schema_version`, `stream_id`, `version`, written without whitespace, keys sorted
//! (byte order) at every depth, strings escaped as JSON requires and nothing more
//! (non-ASCII characters stay UTF-8), `recorded_at` as RFC 3339 UTC with a `Z` and 0, 3,
//! 6 or 9 fraction digits (the fewest that hold it), `data` and `metadata` as stored
//! (numbers exactly as written).
//! The event's `hash` is the lower-case hex SHA-256 of those UTF-8 bytes; `prev_hash`
//! is the previous event's `hash` in the stream, 64 zeros for version 1.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

/// A SHA-256 value: an event's hash, or a feed digest.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The `prev_hash` of a stream's first event, and the digest of no events.
    pub const ZERO: Self = Self([0; 32]);
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            text[2 * i] = HEX[usize::from(b >> 4)];
            text[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        // Hex digits are ASCII.
        f.write_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// A text that is not 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a hash: expected 64 lower-case hex digits")]
pub struct NotAHash;

impl FromStr for ChainHash {
    type Err = NotAHash;

    fn from_str(s: &str) -> Result<Self, NotAHash> {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(NotAHash),
        };
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(NotAHash);
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Ok(Self(out))
    }
}

/// The fields of an event that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct ChainedEvent<'a> {
    /// Unique id, as text (lower-case, hyphenated).
    pub event_id: &'a str,
    /// Type name, as stored.
    pub event_type: &'a str,
    /// Schema version of `data`, as stored.
    pub schema_version: u32,
    /// The stream.
    pub stream_id: &'a str,
    /// 1-based position in the stream.
    pub version: u64,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// JSON text of the data, as stored.
    pub data: &'a str,
    /// JSON text of the metadata.
    pub metadata: &'a str,
    /// The previous event's hash in the stream (`ZERO` for version 1).
    pub prev_hash: ChainHash,
}

impl ChainedEvent<'_> {
    /// The canonical encoding (see the module's documentation).
    pub fn canonical(&self) -> String {
        // serde_json writes only valid UTF-8.
        String::from_utf8(self.canonical_bytes()).unwrap_or_default()
    }

    /// The canonical encoding's bytes: the keys written in their sorted order, `data`
    /// and `metadata` through `canonical_json::write`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        fn put<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, key: &[u8], value: &T) {
            out.extend_from_slice(key);
            // Writing to a Vec cannot fail, and these values always serialize.
            let _ = serde_json::to_writer(&mut *out, value);
        }
        let mut out = Vec::with_capacity(160 + self.data.len() + self.metadata.len());
        out.extend_from_slice(b"{\"data\":");
        crate::canonical_json::write(self.data, &mut out);
        put(&mut out, b",\"event_id\":", self.event_id);
        put(&mut out, b",\"event_type\":", self.event_type);
        out.extend_from_slice(b",\"metadata\":");
        crate::canonical_json::write(self.metadata, &mut out);
        put(&mut out, b",\"prev_hash\":", &self.prev_hash.to_string());
        let at = self
            .recorded_at
            .to_rfc3339_opts(SecondsFormat::AutoSi, true);
        put(&mut out, b",\"recorded_at\":", &at);
        put(&mut out, b",\"schema_version\":", &self.schema_version);
        put(&mut out, b",\"stream_id\":", self.stream_id);
        put(&mut out, b",\"version\":", &self.version);
        out.push(b'}');
        out
    }

    /// The event's hash: SHA-256 of its canonical encoding.
    pub fn hash(&self) -> ChainHash {
        ChainHash(Sha256::digest(self.canonical_bytes()).into())
    }
}

/// The feed digest after one more event: SHA-256 of the digest so far (32 bytes)
/// followed by the event's hash (32 bytes). The digest of no events is `ZERO`.
pub fn feed_digest(so_far: ChainHash, event_hash: ChainHash) -> ChainHash {
    let mut h = Sha256::new();
    h.update(so_far.0);
    h.update(event_hash.0);
    ChainHash(h.finalize().into())
}

/// The stream seals are written to, its type, and their event type.
pub const SEAL_STREAM: &str = "$seals";
/// The stream type of [`SEAL_STREAM`].
pub const SEAL_STREAM_TYPE: &str = "seal";
/// The event type of a seal.
pub const SEAL_EVENT_TYPE: &str = "LedgerSealed";

/// A seal: a signed statement that the feed up to `cursor` holds `events` events whose
/// hashes, in feed order, give `digest` ([`feed_digest`]). Hex for the binary fields.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Seal {
    /// The feed cursor (`"<tx>-<position>"`) of the last event it covers.
    pub cursor: String,
    /// How many events it covers (every event of the feed up to `cursor`).
    pub events: u64,
    /// The feed digest up to `cursor`.
    pub digest: String,
    /// The Ed25519 public key that signed it (32 bytes, hex).
    pub public_key: String,
    /// The Ed25519 signature of [`seal_message`] (64 bytes, hex).
    pub signature: String,
}

/// The bytes a seal's signature covers: `ledger-seal-v1`, the feed cursor, the number
/// of events up to it and the feed digest, each followed by a line feed.
pub fn seal_message(cursor: &str, events: u64, digest: ChainHash) -> Vec<u8> {
    format!("ledger-seal-v1\n{cursor}\n{events}\n{digest}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(prev: ChainHash) -> ChainedEvent<'static> {
        ChainedEvent {
            event_id: "0190c5a4-0000-7000-8000-000000000001",
            event_type: "AccountOpened",
            schema_version: 2,
            stream_id: "acc-1",
            version: 1,
            recorded_at: DateTime::parse_from_rfc3339("2026-12-03T10:00:00.123456Z")
                .expect("time")
                .to_utc(),
            data: r#"{"owner":"Ada","currency":"USD","account_id":"acc-1"}"#,
            metadata: r#"{"actor":"api","request_id":"r-1"}"#,
            prev_hash: prev,
        }
    }

    #[test]
    fn the_canonical_encoding_sorts_keys_and_has_no_whitespace() {
        assert_eq!(
            event(ChainHash::ZERO).canonical(),
            concat!(
                r#"{"data":{"account_id":"acc-1","currency":"USD","owner":"Ada"},"#,
                r#""event_id":"0190c5a4-0000-7000-8000-000000000001","#,
                r#""event_type":"AccountOpened","#,
                r#""metadata":{"actor":"api","request_id":"r-1"},"#,
                r#""prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","#,
                r#""recorded_at":"2026-12-03T10:00:00.123456Z","schema_version":2,"#,
                r#""stream_id":"acc-1","version":1}"#
            )
        );
        // The README's worked example.
        assert_eq!(
            event(ChainHash::ZERO).hash().to_string(),
            "279b6721aa656294a149a89beb539bed17f3e2f40300a583d00d916c4f89c13b"
        );
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let base = event(ChainHash::ZERO);
        let h = base.hash();
        assert_ne!(h, event(h).hash());
        assert_ne!(h, ChainedEvent { version: 3, ..base }.hash());
        assert_ne!(
            h,
            ChainedEvent {
                data: r#"{"amount":"12.51"}"#,
                ..base
            }
            .hash()
        );
        assert_ne!(
            h,
            ChainedEvent {
                metadata: r#"{"actor":"x"}"#,
                ..base
            }
            .hash()
        );
        // Key order and spacing of the stored JSON do not matter.
        let spaced = r#"{ "currency": "USD", "account_id": "acc-1", "owner": "Ada" }"#;
        assert_eq!(
            h,
            ChainedEvent {
                data: spaced,
                ..base
            }
            .hash()
        );
    }

    #[test]
    fn nested_keys_come_out_sorted() {
        let nested = ChainedEvent {
            data: r#"{"z":{"b":1,"a":[{"d":2,"c":3}]},"y":"é\n"}"#,
            ..event(ChainHash::ZERO)
        };
        assert!(nested
            .canonical()
            .starts_with(r#"{"data":{"y":"é\n","z":{"a":[{"c":3,"d":2}],"b":1}},"#));
    }

    #[test]
    fn numbers_are_hashed_as_written() {
        let a = ChainedEvent {
            data: r#"{"amount":10.125}"#,
            ..event(ChainHash::ZERO)
        };
        let b = ChainedEvent {
            data: r#"{"amount":10.1250000000000001}"#,
            ..a
        };
        assert_ne!(a.hash(), b.hash(), "two texts one f64 apart are two events");
        assert!(a.canonical().starts_with(r#"{"data":{"amount":10.125},"#));
        let seed = ChainedEvent {
            data: r#"{ "balance": 0.30000000000000004, "amount": 0.2 }"#,
            ..a
        };
        assert!(seed
            .canonical()
            .starts_with(r#"{"data":{"amount":0.2,"balance":0.30000000000000004},"#));
    }

    #[test]
    fn hashes_print_and_parse_as_hex() {
        let h = event(ChainHash::ZERO).hash();
        assert_eq!(h.to_string().parse::<ChainHash>(), Ok(h));
        assert_eq!("zz".parse::<ChainHash>(), Err(NotAHash));
        assert_eq!(ChainHash::ZERO.to_string(), "0".repeat(64));
    }

    #[test]
    fn the_feed_digest_depends_on_order() {
        let (a, b) = (ChainHash([1; 32]), ChainHash([2; 32]));
        let ab = feed_digest(feed_digest(ChainHash::ZERO, a), b);
        let ba = feed_digest(feed_digest(ChainHash::ZERO, b), a);
        assert_ne!(ab, ba);
    }

    #[test]
    fn a_seal_signs_its_cursor_count_and_digest() {
        let digest = event(ChainHash::ZERO).hash();
        let message = seal_message("12-34", 7, digest);
        assert_eq!(
            String::from_utf8(message.clone()).unwrap(),
            format!("ledger-seal-v1\n12-34\n7\n{digest}\n")
        );
        assert_ne!(message, seal_message("12-35", 7, digest));
        assert_ne!(message, seal_message("12-34", 8, digest));
        assert_ne!(message, seal_message("12-34", 7, ChainHash::ZERO));
        assert_eq!(format!("{digest:?}"), format!("ChainHash({digest})"));
    }
}
