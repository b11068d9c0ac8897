//! Seals: every so often (while new events exist) one instance signs the feed digest
//! up to the feed's end and appends it as a `LedgerSealed` event to stream `$seals`.
//! The append expects the stream's version, so two sealers never both write one.
//!
//! A seal covers every event of the feed up to its cursor in feed order, seals
//! included; `ledger verify` recomputes the digest and checks the signature, which
//! catches a stream whose chain a forger recomputed after changing an event.

use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey};
use ledger_domain::integrity::{
    feed_digest, seal_message, Seal, SEAL_EVENT_TYPE, SEAL_STREAM, SEAL_STREAM_TYPE,
};
use ledger_domain::ChainHash;
use tokio::sync::Mutex;

use crate::ports::store::{
    AppendError, AppendRequest, EventMetadata, EventStore, FeedCursor, NewEvent, StoreError,
    StreamWrite,
};
use crate::ports::system::{Clock, IdGenerator};

const PAGE: usize = 1_000;

/// Why a seal was not written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SealError {
    /// The store failed.
    #[error("sealing: {0}")]
    Store(String),
    /// Another instance wrote a seal meanwhile (this one reloads and tries later).
    #[error("another instance wrote a seal meanwhile")]
    Overtaken,
    /// The last seal in the store cannot be read.
    #[error("the last seal cannot be read: {0}")]
    Unreadable(String),
}

impl From<StoreError> for SealError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

/// Where sealing stands: the `$seals` stream's head and the feed digest so far.
#[derive(Debug, Clone, Default)]
struct Sealed {
    version: u64,
    head: ChainHash,
    cursor: FeedCursor,
    events: u64,
    digest: ChainHash,
}

/// Writes seals signed with one key.
pub struct Sealer {
    store: Arc<dyn EventStore>,
    key: SigningKey,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    state: Mutex<Option<Sealed>>,
}

impl Sealer {
    /// A sealer appending to `store`, signing with `key`.
    pub fn new(
        store: Arc<dyn EventStore>,
        key: SigningKey,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            store,
            key,
            clock,
            ids,
            state: Mutex::new(None),
        }
    }

    /// Seals the feed up to its end if events other than seals arrived since the last
    /// seal; the seal written, if any.
    pub async fn step(&self) -> Result<Option<Seal>, SealError> {
        let mut state = self.state.lock().await;
        let mut now = match state.take() {
            Some(s) => s,
            None => self.load().await?,
        };
        let mut fresh = false;
        loop {
            let page = self.store.read_feed(now.cursor, PAGE).await?;
            for e in &page.events {
                now.digest = feed_digest(now.digest, e.hash);
                now.events += 1;
                now.cursor = e.cursor;
                fresh |= e.stream_type != SEAL_STREAM_TYPE;
            }
            if page.events.len() < PAGE {
                break;
            }
        }
        if !fresh {
            *state = Some(now);
            return Ok(None);
        }
        let seal = self.sign(&now);
        let event = self.event(&now, &seal);
        let request = AppendRequest {
            streams: vec![StreamWrite {
                stream_id: SEAL_STREAM.into(),
                stream_type: SEAL_STREAM_TYPE.into(),
                expected_version: now.version,
                events: vec![event.clone()],
            }],
            idempotency: vec![],
        };
        match self.store.append(request).await {
            Ok(()) => {
                now.version += 1;
                now.head = event.hash;
                *state = Some(now);
                Ok(Some(seal))
            }
            Err(AppendError::Conflict { .. }) => Err(SealError::Overtaken),
            Err(e) => Err(SealError::Store(e.to_string())),
        }
    }

    fn sign(&self, now: &Sealed) -> Seal {
        let cursor = now.cursor.to_string();
        let message = seal_message(&cursor, now.events, now.digest);
        Seal {
            cursor,
            events: now.events,
            digest: now.digest.to_string(),
            public_key: ChainHash(self.key.verifying_key().to_bytes()).to_string(),
            signature: hex::encode(self.key.sign(&message).to_bytes()),
        }
    }

    fn event(&self, now: &Sealed, seal: &Seal) -> NewEvent {
        NewEvent {
            event_id: self.ids.new_id(),
            event_type: SEAL_EVENT_TYPE.into(),
            schema_version: 1,
            data: serde_json::to_string(seal).unwrap_or_default(),
            metadata: EventMetadata {
                actor: "sealer".into(),
                ..EventMetadata::default()
            },
            recorded_at: chrono::SubsecRound::trunc_subsecs(self.clock.now(), 6),
            prev_hash: ChainHash::ZERO,
            hash: ChainHash::ZERO,
        }
        .chained(SEAL_STREAM, now.version + 1, now.head)
    }

    /// Where the last seal in the store left off (nothing sealed: the start).
    async fn load(&self) -> Result<Sealed, SealError> {
        let last = crate::seal_latest::last_seal_event(self.store.as_ref(), 0).await?;
        let Some(last) = last else {
            return Ok(Sealed::default());
        };
        let unreadable = |why: String| SealError::Unreadable(why);
        let seal: Seal = serde_json::from_str(&last.data).map_err(|e| unreadable(e.to_string()))?;
        let own = ChainHash(self.key.verifying_key().to_bytes()).to_string();
        if seal.public_key != own {
            // Not refused (a key is changed on purpose), but said: from here on the
            // seals verify only with both public keys given to `ledger verify`.
            tracing::warn!(
                last_seal_key = %seal.public_key,
                signing_key = %own,
                "the signing key differs from the last seal's: give ledger verify both public keys (--public-key twice)"
            );
        }
        Ok(Sealed {
            version: last.version,
            head: last.hash,
            cursor: seal
                .cursor
                .parse()
                .map_err(|()| unreadable(format!("cursor {}", seal.cursor)))?,
            events: seal.events,
            digest: seal
                .digest
                .parse()
                .map_err(|e| unreadable(format!("digest: {e}")))?,
        })
    }
}
