//! Fuzzes the canonical encoding an event's hash covers, with any text as its `data`
//! and `metadata`: never panics; always one JSON object; and canonical already, so that
//! encoding its own `data` and `metadata` again writes the same bytes (a verifier that
//! reads an event back hashes what the writer hashed).
#![no_main]

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use ledger_domain::{integrity::ChainedEvent, ChainHash};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fn event<'a>(data: &'a str, metadata: &'a str) -> ChainedEvent<'a> {
    ChainedEvent {
        event_id: "00000000-0000-0000-0000-000000000001",
        event_type: "MoneyDeposited",
        schema_version: 2,
        stream_id: "account-f",
        version: 1,
        recorded_at: Utc.timestamp_opt(1_700_000_000, 123_456_000).unwrap(),
        data,
        metadata,
        prev_hash: ChainHash::ZERO,
    }
}

fuzz_target!(|input: (&str, &str)| {
    let (data, metadata) = input;
    let first = event(data, metadata).canonical();
    let fields: BTreeMap<String, Box<RawValue>> =
        serde_json::from_str(&first).expect("the canonical encoding is one JSON object");
    let again = event(fields["data"].get(), fields["metadata"].get()).canonical();
    assert_eq!(again, first, "canonical text encodes to itself");
});
