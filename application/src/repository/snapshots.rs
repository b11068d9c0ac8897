//! The repository's snapshots: reading one (any trouble only costs a replay) and
//! writing one forward after a commit that crossed a multiple of `snapshot_every`.
//!
//! A snapshot store is a cache (Redis) that whoever can reach it can change, and a
//! command decides on the state it loads: a balance, status, owner or limit edited
//! there would be money moved against the rules (black-box testing did exactly that).
//! So every snapshot is sealed with an HMAC-SHA256 over all its fields, keyed by a
//! secret the event store holds ([`snapshot_secret`]), and one whose seal does not
//! check is not used: the aggregate is replayed from the events instead.

use std::sync::atomic::Ordering;

use hmac::{Hmac, Mac};
use ledger_domain::{Aggregate, ChainHash, Versioned};
use sha2::Sha256;

use super::Repository;
use crate::ports::snapshot::Snapshot;
use crate::ports::store::{AppendError, AppendRequest, EventStore, IdempotencyRecord, StoreError};

/// The reserved record the secret is stored under: an idempotency key (whose store
/// keeps the first value written, whoever races) that no request can have, since a
/// request's keys always start with its actor's name.
const SECRET_RECORD: &str = "\u{1f}snapshot-secret";

/// The secret snapshots are sealed with, the same for every instance on `store`: the
/// one stored there, or a new random one, stored now if none was.
pub async fn snapshot_secret(store: &dyn EventStore) -> Result<[u8; 32], StoreError> {
    let candidate = random_key();
    let record = IdempotencyRecord {
        key: SECRET_RECORD.to_owned(),
        fingerprint: "snapshot-secret".to_owned(),
        outcome: hex::encode(candidate),
    };
    let stored = match store
        .append(AppendRequest {
            streams: vec![],
            idempotency: vec![record],
        })
        .await
    {
        Ok(()) => return Ok(candidate),
        Err(AppendError::IdempotencyKeyExists(stored)) => stored.outcome,
        Err(AppendError::Unavailable(m)) => return Err(StoreError::Unavailable(m)),
        Err(e) => return Err(StoreError::Unavailable(e.to_string())),
    };
    hex::decode(&stored)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            StoreError::Unavailable("the stored snapshot secret is not 32 bytes of hex".into())
        })
}

/// A fresh random key (two version-4 UUIDs: 244 random bits).
pub(super) fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
}

/// Seals a snapshot with `key` (as a repository with that key writes it).
pub fn seal_snapshot(snapshot: &mut Snapshot, key: &[u8; 32]) {
    snapshot.mac = seal(key, snapshot);
}

/// The seal of a snapshot's fields.
fn seal(key: &[u8; 32], s: &Snapshot) -> String {
    hex::encode(sealer(key, s).finalize().into_bytes())
}

/// Whether a snapshot carries its seal (compared in constant time).
fn sealed(key: &[u8; 32], s: &Snapshot) -> bool {
    hex::decode(&s.mac)
        .is_ok_and(|bytes| bytes.len() == 32 && sealer(key, s).verify_slice(&bytes).is_ok())
}

/// An HMAC-SHA256 fed with a snapshot's fields, each length-prefixed, so that no two
/// snapshots share an input.
fn sealer(key: &[u8; 32], s: &Snapshot) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    let version = s.version.to_be_bytes();
    let format = s.format.to_be_bytes();
    let fields: [&[u8]; 5] = [
        s.stream_id.as_bytes(),
        &version,
        s.event_id.as_bytes(),
        &format,
        s.state.as_bytes(),
    ];
    for field in fields {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field);
    }
    mac
}

impl Repository {
    /// A snapshot if it can be read and has the current format, with the id of the
    /// event it was taken at (the caller checks that the store holds that event).
    pub(super) async fn snapshot<A: Aggregate>(
        &self,
        stream_id: &str,
    ) -> Option<(Versioned<A>, uuid::Uuid)> {
        let snapshot = match self.snapshots.load(stream_id).await {
            Ok(Some(s)) if s.format == A::SNAPSHOT_FORMAT && s.version > 0 => s,
            Ok(_) => return None,
            Err(e) => {
                self.stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                self.errors.warn("snapshot load failed, replaying", &e);
                return None;
            }
        };
        if !sealed(&self.snapshot_key, &snapshot) {
            self.stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
            self.errors.warn(
                "snapshot ignored: its seal does not check (changed in the snapshot \
                 store, or written with another secret)",
                &snapshot.stream_id,
            );
            return None;
        }
        match serde_json::from_str::<A>(&snapshot.state) {
            Ok(state) => {
                let at = Versioned {
                    state,
                    version: snapshot.version,
                    head: ChainHash::ZERO,
                    head_at: None,
                };
                Some((at, snapshot.event_id))
            }
            Err(e) => {
                self.stats.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                self.errors.warn("unreadable snapshot ignored", &e);
                None
            }
        }
    }

    /// After a commit that moved a stream from `before` to `after.version`, whose last
    /// event has id `last_event_id`: caches the new state and, when a multiple of
    /// `snapshot_every` was crossed, writes a snapshot (in the background when a spawner
    /// is set). Snapshot errors are counted and logged.
    pub async fn after_commit<A: Aggregate>(
        &self,
        stream_id: &str,
        before: u64,
        after: &Versioned<A>,
        last_event_id: uuid::Uuid,
    ) {
        if let Some(cache) = &self.cache {
            cache.put(stream_id, after);
        }
        let every = self.snapshot_every;
        if every == 0 || before / every == after.version / every {
            return;
        }
        let Ok(state) = serde_json::to_string(&after.state) else {
            return;
        };
        let mut snapshot = Snapshot {
            stream_id: stream_id.to_owned(),
            version: after.version,
            event_id: last_event_id,
            format: A::SNAPSHOT_FORMAT,
            state,
            mac: String::new(),
        };
        snapshot.mac = seal(&self.snapshot_key, &snapshot);
        let (snapshots, stats, errors) = (
            self.snapshots.clone(),
            self.stats.clone(),
            self.errors.clone(),
        );
        let task = async move {
            match snapshots.save(snapshot).await {
                Ok(()) => stats.snapshots_written.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    errors.warn("snapshot write failed", &e);
                    stats.snapshot_errors.fetch_add(1, Ordering::Relaxed)
                }
            };
        };
        match &self.spawner {
            Some(spawner) => spawner.spawn(Box::pin(task)),
            None => task.await,
        }
    }
}
