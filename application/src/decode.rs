//! Decoding stored events of any stream type into domain events, upcasting on the way.

use std::collections::HashMap;

use ledger_domain::integrity::{Seal, SEAL_EVENT_TYPE, SEAL_STREAM_TYPE};
use ledger_domain::{
    Account, AccountEvent, Aggregate, Currency, DecodeError, Transfer, TransferEvent,
};

use crate::ports::readmodel::ProjectedEvent;
use crate::ports::store::{EventStore, RecordedEvent, StoreError, StreamQuery};

/// Any event of the ledger, by stream type.
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerEvent {
    /// An event of an `account` stream.
    Account(AccountEvent),
    /// An event of a `transfer` stream.
    Transfer(TransferEvent),
    /// A seal (stream `$seals`), which no projection applies.
    Sealed(Seal),
}

impl LedgerEvent {
    /// The current type name (the one [`Self::current_data`] gives, without writing
    /// the data).
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Account(e) => e.event_type(),
            Self::Transfer(e) => e.event_type(),
            Self::Sealed(_) => SEAL_EVENT_TYPE,
        }
    }

    /// The current stored form's JSON text (upcast data), for display.
    pub fn current_data(&self) -> (&'static str, u32, String) {
        let e = match self {
            Self::Account(e) => Account::encode(e),
            Self::Transfer(e) => Transfer::encode(e),
            Self::Sealed(seal) => {
                let data = serde_json::to_string(seal).unwrap_or_default();
                return (SEAL_EVENT_TYPE, 1, data);
            }
        };
        (e.event_type, e.schema_version, e.data)
    }
}

/// Why a feed event could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeedDecodeError {
    /// The data is unreadable.
    #[error("event {position}: {source}")]
    Decode {
        /// Global position of the event.
        position: u64,
        /// Why.
        source: DecodeError,
    },
    /// A stream type no aggregate owns.
    #[error("event {position}: unknown stream type {stream_type}")]
    UnknownStreamType {
        /// Global position.
        position: u64,
        /// The type.
        stream_type: String,
    },
    /// Reading the stream's context failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Decodes feed events one by one; for old events that need their stream's context
/// (such as v1 deposits, which carry no currency) it reads the stream's opening event.
#[derive(Default)]
pub struct FeedDecoder {
    contexts: HashMap<String, Account>,
}

impl FeedDecoder {
    /// Decodes one recorded event.
    pub async fn decode(
        &mut self,
        store: &dyn EventStore,
        recorded: &RecordedEvent,
    ) -> Result<LedgerEvent, FeedDecodeError> {
        let position = recorded.cursor.position;
        let err = |source| FeedDecodeError::Decode { position, source };
        match recorded.stream_type.as_str() {
            Transfer::STREAM_TYPE => Transfer::default()
                .decode(recorded.raw())
                .map(LedgerEvent::Transfer)
                .map_err(err),
            Account::STREAM_TYPE => {
                let fresh = Account::default();
                match fresh.decode(recorded.raw()) {
                    Ok(e) => Ok(LedgerEvent::Account(e)),
                    Err(DecodeError::NeedsStreamContext { .. }) => {
                        let context = self.context(store, &recorded.stream_id).await?;
                        context
                            .decode(recorded.raw())
                            .map(LedgerEvent::Account)
                            .map_err(err)
                    }
                    Err(e) => Err(err(e)),
                }
            }
            SEAL_STREAM_TYPE if recorded.event_type == SEAL_EVENT_TYPE => {
                serde_json::from_str(&recorded.data)
                    .map(LedgerEvent::Sealed)
                    .map_err(|e| {
                        err(DecodeError::Malformed {
                            event_type: SEAL_EVENT_TYPE.into(),
                            reason: e.to_string(),
                        })
                    })
            }
            other => Err(FeedDecodeError::UnknownStreamType {
                position,
                stream_type: other.to_owned(),
            }),
        }
    }

    /// The currency of an event of stream `stream_id`: its account's (from the opening
    /// event, when the event does not carry it) or its transfer's; none for a seal.
    pub async fn currency_of(
        &mut self,
        store: &dyn EventStore,
        stream_id: &str,
        event: &LedgerEvent,
    ) -> Result<Option<Currency>, FeedDecodeError> {
        Ok(match event {
            LedgerEvent::Transfer(t) => Some(t.amount().currency()),
            LedgerEvent::Account(AccountEvent::Opened { currency, .. }) => Some(*currency),
            LedgerEvent::Account(AccountEvent::Closed { .. }) => {
                self.context(store, stream_id).await?.currency()
            }
            LedgerEvent::Account(e) => e.amount().map(|m| m.currency()),
            LedgerEvent::Sealed(_) => None,
        })
    }

    async fn context(
        &mut self,
        store: &dyn EventStore,
        stream_id: &str,
    ) -> Result<&Account, FeedDecodeError> {
        if !self.contexts.contains_key(stream_id) {
            let first = store
                .read_stream(StreamQuery {
                    stream_id,
                    after_version: 0,
                    until: None,
                    limit: 1,
                })
                .await?;
            let mut state = Account::default();
            for e in &first {
                let event = state
                    .decode(e.raw())
                    .map_err(|source| FeedDecodeError::Decode {
                        position: e.cursor.position,
                        source,
                    })?;
                state = state.evolve(&event);
            }
            if self.contexts.len() > 10_000 {
                self.contexts.clear();
            }
            self.contexts.insert(stream_id.to_owned(), state);
        }
        Ok(&self.contexts[stream_id])
    }
}

/// Decodes a page of the feed for the projections (the currency of each money event
/// with it).
pub(crate) async fn decode_page(
    store: &dyn EventStore,
    events: Vec<RecordedEvent>,
) -> Result<Vec<ProjectedEvent>, FeedDecodeError> {
    let mut decoder = FeedDecoder::default();
    let mut batch = Vec::with_capacity(events.len());
    for recorded in events {
        if recorded.stream_type == SEAL_STREAM_TYPE {
            // Seals are about the feed, not about accounts: no read model holds them.
            continue;
        }
        let event = decoder.decode(store, &recorded).await?;
        let currency = decoder
            .currency_of(store, &recorded.stream_id, &event)
            .await?;
        batch.push(ProjectedEvent {
            recorded,
            event,
            currency,
        });
    }
    Ok(batch)
}
