//! Helpers shared by the SQLite adapter's test files.
#![allow(dead_code)] // each test file uses its own part

use ledger_application::ports::store::{
    AppendRequest, ChainHash, EventMetadata, IdempotencyRecord, NewEvent, StreamWrite,
};

/// A temporary directory, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A fresh, not yet created directory under the system's temporary one.
    pub fn new() -> Self {
        Self(std::env::temp_dir().join(format!("ledger-sqlite-{}", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One `Noted` event on `stream` at `expected`, with an idempotency record for `key`
/// (whose outcome names the stream).
pub fn request(stream: &str, expected: u64, key: Option<&str>) -> AppendRequest {
    AppendRequest {
        streams: vec![StreamWrite {
            stream_id: stream.into(),
            stream_type: "account".into(),
            expected_version: expected,
            events: vec![NewEvent {
                event_id: uuid::Uuid::new_v4(),
                event_type: "Noted".into(),
                schema_version: 1,
                data: "{}".into(),
                metadata: EventMetadata::default(),
                recorded_at: chrono::Utc::now(),
                prev_hash: ChainHash::ZERO,
                hash: ChainHash::ZERO,
            }],
        }],
        idempotency: key
            .map(|k| IdempotencyRecord {
                key: k.into(),
                fingerprint: "f".into(),
                outcome: format!("{{\"by\":\"{stream}\"}}"),
            })
            .into_iter()
            .collect(),
    }
}
