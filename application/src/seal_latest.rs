//! The last seal written, and whether its signature holds: what an operator checks at
//! a glance (the console's admin page). The whole check of every seal, with the feed
//! digest recomputed, is `ledger verify`'s pass 3.

use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use ledger_domain::integrity::{seal_message, Seal, SEAL_STREAM};
use ledger_domain::ChainHash;

use crate::ports::store::{EventStore, RecordedEvent, StoreError, StreamQuery};

const PAGE: usize = 1_000;

/// What the signature of a seal says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// It verifies with the service's public key.
    Valid,
    /// It does not (why).
    Invalid(String),
    /// Signing is off here: no public key to check it with.
    NoKey,
}

/// The last seal in the store.
#[derive(Debug, Clone)]
pub struct LatestSeal {
    /// What it states.
    pub seal: Seal,
    /// Its version in the `$seals` stream.
    pub version: u64,
    /// When it was written.
    pub recorded_at: DateTime<Utc>,
    /// Its signature, checked.
    pub signature: SignatureCheck,
}

/// Why the last seal cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum LatestSealError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The service's public key is not a readable PEM (a configuration fault).
    #[error("the public key is not a readable Ed25519 PEM: {0}")]
    Key(String),
}

/// Whether `seal`'s signature of [`seal_message`] verifies with `key`.
pub fn signature_holds(seal: &Seal, key: &VerifyingKey) -> bool {
    let checked = seal.digest.parse::<ChainHash>().ok().and_then(|digest| {
        let signature = Signature::from_slice(&hex::decode(&seal.signature).ok()?).ok()?;
        let message = seal_message(&seal.cursor, seal.events, digest);
        Some(key.verify(&message, &signature).is_ok())
    });
    checked == Some(true)
}

/// The last event of the `$seals` stream after version `after`, if any.
pub(crate) async fn last_seal_event(
    store: &dyn EventStore,
    after: u64,
) -> Result<Option<RecordedEvent>, StoreError> {
    let (mut last, mut version) = (None, after);
    loop {
        let page = store
            .read_stream(StreamQuery {
                stream_id: SEAL_STREAM,
                after_version: version,
                until: None,
                limit: PAGE,
            })
            .await?;
        let n = page.len();
        if let Some(e) = page.into_iter().last() {
            version = e.version;
            last = Some(e);
        }
        if n < PAGE {
            return Ok(last);
        }
    }
}

/// Where the last seal was, so that each look reads only from there on (the stream
/// grows by one seal a minute at most; a year of them is half a million events).
#[derive(Debug, Default)]
pub struct LatestSeals {
    version: tokio::sync::Mutex<u64>,
}

impl LatestSeals {
    /// The last seal, its signature checked with `public_key_pem` (the service's own
    /// key; `None`: signing is off). `None` when nothing was sealed yet. The seal is
    /// read from the store each time (as it is now, not as it was remembered).
    pub async fn latest(
        &self,
        store: &dyn EventStore,
        public_key_pem: Option<&str>,
    ) -> Result<Option<LatestSeal>, LatestSealError> {
        let mut version = self.version.lock().await;
        let found = last_seal_event(store, version.saturating_sub(1)).await?;
        let Some(event) = found else {
            return Ok(None);
        };
        *version = event.version;
        drop(version);
        check(event, public_key_pem)
    }
}

fn check(
    event: RecordedEvent,
    public_key_pem: Option<&str>,
) -> Result<Option<LatestSeal>, LatestSealError> {
    let key = public_key_pem
        .map(VerifyingKey::from_public_key_pem)
        .transpose()
        .map_err(|e| LatestSealError::Key(e.to_string()))?;
    let (seal, signature) = match serde_json::from_str::<Seal>(&event.data) {
        Ok(seal) => {
            let signature = match &key {
                None => SignatureCheck::NoKey,
                Some(k) if signature_holds(&seal, k) => SignatureCheck::Valid,
                Some(_) => SignatureCheck::Invalid(
                    "the signature does not verify with this service's public key".into(),
                ),
            };
            (seal, signature)
        }
        Err(e) => (
            Seal {
                cursor: String::new(),
                events: 0,
                digest: String::new(),
                public_key: String::new(),
                signature: String::new(),
            },
            SignatureCheck::Invalid(format!("the seal cannot be read: {e}")),
        ),
    };
    Ok(Some(LatestSeal {
        seal,
        version: event.version,
        recorded_at: event.recorded_at,
        signature,
    }))
}
