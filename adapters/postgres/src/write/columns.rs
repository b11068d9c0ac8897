//! The events of some appends as the column arrays an `UNNEST` insert binds.

use ledger_application::ports::store::StreamWrite;

/// The events of some stream writes as the column arrays an `UNNEST` insert binds, in
/// the writes' order.
pub(crate) struct EventColumns<'a> {
    pub(crate) stream_ids: Vec<&'a str>,
    pub(crate) stream_types: Vec<&'a str>,
    /// Each row's stream's expected version.
    pub(crate) expected: Vec<i64>,
    /// Each row's own version.
    pub(crate) versions: Vec<i64>,
    pub(crate) ids: Vec<uuid::Uuid>,
    pub(crate) types: Vec<&'a str>,
    pub(crate) schemas: Vec<i32>,
    pub(crate) data: Vec<&'a str>,
    pub(crate) metadata: Vec<String>,
    pub(crate) times: Vec<chrono::DateTime<chrono::Utc>>,
    pub(crate) prev_hashes: Vec<&'a [u8]>,
    pub(crate) hashes: Vec<&'a [u8]>,
}

impl<'a> EventColumns<'a> {
    pub(crate) fn of(writes: &[&'a StreamWrite]) -> Self {
        let n: usize = writes.iter().map(|w| w.events.len()).sum();
        let mut c = Self {
            stream_ids: Vec::with_capacity(n),
            stream_types: Vec::with_capacity(n),
            expected: Vec::with_capacity(n),
            versions: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            schemas: Vec::with_capacity(n),
            data: Vec::with_capacity(n),
            metadata: Vec::with_capacity(n),
            times: Vec::with_capacity(n),
            prev_hashes: Vec::with_capacity(n),
            hashes: Vec::with_capacity(n),
        };
        for w in writes {
            let base = i64::try_from(w.expected_version).unwrap_or(i64::MAX);
            for (i, e) in w.events.iter().enumerate() {
                c.stream_ids.push(w.stream_id.as_str());
                c.stream_types.push(w.stream_type.as_str());
                c.expected.push(base);
                c.versions.push(base.saturating_add(i as i64 + 1));
                c.ids.push(e.event_id);
                c.types.push(e.event_type.as_str());
                c.schemas
                    .push(i32::try_from(e.schema_version).unwrap_or(i32::MAX));
                c.data.push(e.data.as_str());
                c.metadata
                    .push(serde_json::to_string(&e.metadata).unwrap_or_else(|_| "{}".into()));
                c.times.push(e.recorded_at);
                c.prev_hashes.push(&e.prev_hash.0);
                c.hashes.push(&e.hash.0);
            }
        }
        c
    }
}
