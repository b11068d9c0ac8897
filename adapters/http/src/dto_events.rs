//! The JSON shapes of events (one account's, the global feed, the live feed and the
//! relay) and of the audit log.

use chrono::{DateTime, Utc};
use ledger_application::decode::LedgerEvent;
use ledger_application::ports::store::RecordedEvent;
use ledger_application::views::AuditEntry;
use serde::Serialize;
use utoipa::ToSchema;

/// An event as the API shows it (data upcast to the current schema).
#[derive(Serialize, ToSchema)]
pub struct EventBody {
    /// Unique id.
    pub event_id: uuid::Uuid,
    /// Type name.
    pub event_type: String,
    /// Schema version of `data`.
    pub schema_version: u32,
    /// Stream.
    pub stream_id: String,
    /// Version in the stream.
    pub version: u64,
    /// Global position.
    pub position: u64,
    /// When recorded.
    pub recorded_at: DateTime<Utc>,
    /// The data; amounts are decimal strings.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Actor, request id, causation and correlation.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// The previous event's `hash` in the stream (64 zeros for version 1).
    #[schema(
        pattern = "^[0-9a-f]{64}$",
        example = "0000000000000000000000000000000000000000000000000000000000000000"
    )]
    pub prev_hash: String,
    /// Lower-case hex SHA-256 of the event's canonical encoding (README, "Tamper
    /// evidence"), computed when it was decided, from the stored form of the event.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub hash: String,
}

impl EventBody {
    /// From a stored event and its decoded form.
    pub fn new(recorded: &RecordedEvent, event: &LedgerEvent) -> Self {
        let (event_type, schema_version, data) = event.current_data();
        Self {
            event_id: recorded.event_id,
            event_type: event_type.to_owned(),
            schema_version,
            stream_id: recorded.stream_id.clone(),
            version: recorded.version,
            position: recorded.cursor.position,
            recorded_at: recorded.recorded_at,
            data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
            metadata: serde_json::to_value(&recorded.metadata).unwrap_or_default(),
            prev_hash: recorded.prev_hash.to_string(),
            hash: recorded.hash.to_string(),
        }
    }
}

/// An event as consumers of the live feed and the relay receive it: the JSON of
/// [`EventBody`].
pub fn render_event(recorded: &RecordedEvent, event: &LedgerEvent) -> String {
    serde_json::to_string(&EventBody::new(recorded, event)).unwrap_or_default()
}

/// A page of one account's events.
#[derive(Serialize, ToSchema)]
pub struct EventsPage {
    /// Oldest first.
    pub events: Vec<EventBody>,
    /// The `after_version` of the next page.
    pub next_after_version: u64,
}

/// A page of the global feed.
#[derive(Serialize, ToSchema)]
pub struct FeedBody {
    /// In feed order.
    pub events: Vec<EventBody>,
    /// The `after` of the next page.
    pub next: String,
}

/// One audit entry.
#[derive(Serialize, ToSchema)]
pub struct AuditBody {
    /// Event id.
    pub event_id: uuid::Uuid,
    /// Type name.
    pub event_type: String,
    /// Stream.
    pub stream_id: String,
    /// Version.
    pub version: u64,
    /// Who.
    pub actor: String,
    /// Which request.
    pub request_id: Option<String>,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// Decimal string, for money events.
    pub amount: Option<String>,
    /// Its currency.
    pub currency: Option<String>,
}

impl From<&AuditEntry> for AuditBody {
    fn from(e: &AuditEntry) -> Self {
        Self {
            event_id: e.event_id,
            event_type: e.event_type.clone(),
            stream_id: e.stream_id.clone(),
            version: e.version,
            actor: e.actor.clone(),
            request_id: e.request_id.clone(),
            recorded_at: e.recorded_at,
            amount: e.amount.map(|m| m.to_string()),
            currency: e.currency.map(|c| c.code().to_owned()),
        }
    }
}

/// A page of the audit log.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditBody>,
    /// The `cursor` of the next page, or null at the end.
    pub next_cursor: Option<String>,
}
