//! The aggregate machinery, generic over the aggregate type.
//!
//! An aggregate is a value that `decide`s which events a command produces and
//! `evolve`s by one event. Persistence, snapshots and retries live in
//! `ledger-application` and work for any type implementing [`Aggregate`].

use std::fmt;

use serde::{de::DeserializeOwned, Serialize};

/// A stored event as read back: its type name, schema version and JSON text.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    /// The event type name, e.g. `MoneyDeposited`.
    pub event_type: &'a str,
    /// The schema version the data was written with.
    pub schema_version: u32,
    /// The JSON text of the data, untouched (numbers keep their exact digits).
    pub data: &'a str,
}

/// An event in its current stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    /// The event type name.
    pub event_type: &'static str,
    /// The current schema version of that type.
    pub schema_version: u32,
    /// JSON text of the data.
    pub data: String,
}

/// Why stored event data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No upcaster knows this type at this version.
    #[error("unknown event type {event_type} at schema version {schema_version}")]
    Unknown {
        /// The type name.
        event_type: String,
        /// The version.
        schema_version: u32,
    },
    /// The data does not have the shape its type and version promise.
    #[error("malformed {event_type} data: {reason}")]
    Malformed {
        /// The type name.
        event_type: String,
        /// What is wrong.
        reason: String,
    },
    /// An old-version event needs facts from earlier in its stream (such as the
    /// account's currency); decode it after folding the stream's opening events.
    #[error("{event_type} v{schema_version} needs the stream's earlier events to be read")]
    NeedsStreamContext {
        /// The type name.
        event_type: String,
        /// The version.
        schema_version: u32,
    },
}

/// A consistency boundary decided from its own past events.
///
/// `decide` only decides; `evolve` only changes state; neither does IO.
pub trait Aggregate:
    Clone + Default + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The stream type stored with every event (`account`, `transfer`).
    const STREAM_TYPE: &'static str;
    /// Bumped whenever the serialized state changes shape; older snapshots are ignored.
    const SNAPSHOT_FORMAT: u32;
    /// What a caller asks for.
    type Command: fmt::Debug + Send + Sync;
    /// What happened.
    type Event: Clone + fmt::Debug + PartialEq + Send + Sync + 'static;
    /// Why a command was refused.
    type Error: std::error::Error + Clone + PartialEq + Send + Sync + 'static;

    /// The events a command produces from this state, or why it is refused.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// The state after one event. Must accept every event `decide` can produce.
    fn evolve(self, event: &Self::Event) -> Self;

    /// The event's current stored form.
    fn encode(event: &Self::Event) -> EncodedEvent;

    /// Reads a stored event of any schema version, upcasting it to the current one.
    /// `self` is the state folded from the stream's earlier events, for upcasters that
    /// need context; a caller without it passes `Self::default()`.
    fn decode(&self, raw: RawEvent<'_>) -> Result<Self::Event, DecodeError>;
}

/// Folds events onto a state.
pub fn fold<'a, A: Aggregate>(state: A, events: impl IntoIterator<Item = &'a A::Event>) -> A {
    events.into_iter().fold(state, |s, e| s.evolve(e))
}

/// Decodes and folds stored events in stream order, giving each upcaster its context.
pub fn replay<'a, A: Aggregate>(
    state: A,
    raws: impl IntoIterator<Item = RawEvent<'a>>,
) -> Result<A, DecodeError> {
    raws.into_iter().try_fold(state, |s, raw| {
        let event = s.decode(raw)?;
        Ok(s.evolve(&event))
    })
}

/// A state together with the stream version it reflects (0: no events yet).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Versioned<A> {
    /// The state.
    pub state: A,
    /// How many events were folded into it.
    pub version: u64,
    /// The hash of the stream's event at `version` (`ZERO` at 0): the next event's
    /// `prev_hash`.
    pub head: crate::ChainHash,
    /// The `recorded_at` of the stream's event at `version` (`None` at 0): the next
    /// write of the stream is never stamped earlier, whatever the clock says.
    pub head_at: Option<chrono::DateTime<chrono::Utc>>,
}
