//! API keys: made, listed and revoked by the admin; a secret resolved to its
//! [`Principal`] on every request, from a short per-instance cache.
//!
//! A secret is `ledger_sk_` and 64 hex digits (256 random bits from the OS); the store
//! keeps only its SHA-256. Each instance caches what a secret resolved to for at most
//! [`CACHE_TTL`], so a key revoked on one instance is refused by every other within that
//! time (the contract allows 2 s); the revoking instance forgets its cache at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lru::LruCache;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::access::{Capability, Forbidden, Principal, Role};
pub use crate::key_replay::Replayable;
use crate::key_replay::{made_before, random_bytes, ReplayKey};
use crate::ports::keys::{ApiKey, KeyStore, SecretHash};
use crate::ports::store::StoreError;
use crate::ports::system::{Clock, IdGenerator, Spawner};

/// How long an instance trusts what a secret resolved to.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

/// How often a key's `last_used_at` is written at most.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// What every secret starts with (so scanners and people recognise one).
pub const SECRET_PREFIX: &str = "ledger_sk_";

/// How many secrets an instance remembers.
const CACHE_CAPACITY: usize = 10_000;

/// Why a key operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    /// The caller is not the admin.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// A name or owner outside its limits.
    #[error("{0}")]
    Invalid(String),
    /// The idempotency key made a key from another request.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A key just made, with its secret: the only time the secret is shown.
#[derive(Clone)]
pub struct CreatedKey {
    /// The key.
    pub key: ApiKey,
    /// `ledger_sk_...`.
    pub secret: String,
    /// Whether it was made by an earlier request under the same idempotency key.
    pub replayed: bool,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("key", &self.key)
            .field("secret", &"***")
            .finish()
    }
}

struct Cached {
    key: ApiKey,
    fetched: Instant,
    touched: Option<Instant>,
}

/// The API keys of the ledger.
pub struct ApiKeys {
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    spawner: Arc<dyn Spawner>,
    /// What secrets of active or revoked keys resolved to.
    cache: Mutex<LruCache<SecretHash, Cached>>,
    /// Well-formed secrets no key has, apart: a flood of them never evicts a real key.
    unknown: Mutex<LruCache<SecretHash, Instant>>,
    any: Mutex<Option<(bool, Instant)>>,
    /// Moved by every revocation: a lookup that began before one is not cached.
    revocations: std::sync::atomic::AtomicU64,
    /// Whether a `last_used_at` write is on its way: one at a time, so writes held up
    /// by a lock on the keys' table (an index build, a migration) hold one connection,
    /// not the pool (found by black-box testing: eight keys used while the table was
    /// locked took a pool of four, and every request was 503 until the lock went).
    touching: Arc<AtomicBool>,
}

/// Lets the next `last_used_at` write go when the one holding it ends (or is dropped).
struct Touching(Arc<AtomicBool>);

impl Drop for Touching {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The hash a store keeps of a secret.
pub(crate) fn secret_hash(secret: &str) -> SecretHash {
    Sha256::digest(secret.as_bytes()).into()
}

/// The hash of a text that can be a secret (the prefix and 64 lower-case hex digits);
/// `None` for any other text, which is then never looked up.
pub fn hash_of(secret: &str) -> Option<SecretHash> {
    let well_formed = secret.strip_prefix(SECRET_PREFIX).is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    well_formed.then(|| secret_hash(secret))
}

fn valid_name(name: &str) -> Result<String, KeyError> {
    if ledger_domain::is_blank(name)
        || name.chars().count() > 200
        || name.chars().any(char::is_control)
    {
        return Err(KeyError::Invalid(
            "name must be 1-200 characters, not blank, without control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

impl ApiKeys {
    /// The keys of this store.
    pub fn new(
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        spawner: Arc<dyn Spawner>,
    ) -> Self {
        let capacity =
            std::num::NonZeroUsize::new(CACHE_CAPACITY).unwrap_or(std::num::NonZeroUsize::MIN);
        Self {
            store,
            clock,
            ids,
            spawner,
            cache: Mutex::new(LruCache::new(capacity)),
            unknown: Mutex::new(LruCache::new(capacity)),
            any: Mutex::new(None),
            revocations: std::sync::atomic::AtomicU64::new(0),
            touching: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Makes a key (admin only); its secret is in the answer and nowhere else. Under an
    /// idempotency key, a retry of the same request gets the same key and secret back
    /// and writes nothing; another request under it is refused ([`crate::key_replay`]).
    pub async fn create(
        &self,
        who: &Principal,
        name: &str,
        role: Role,
        replayable: Option<Replayable<'_>>,
    ) -> Result<CreatedKey, KeyError> {
        who.require(Capability::Admin)?;
        if role == Role::Admin {
            return Err(KeyError::Invalid(
                "role must be operator, reader or owner".into(),
            ));
        }
        let name = valid_name(name)?;
        let replay = replayable.map(|by| ReplayKey::new(&who.actor, by, &name, &role));
        if let Some(made) = made_before(self.store.as_ref(), replay.as_ref()).await? {
            return Ok(made);
        }
        let salt = random_bytes()?;
        let (secret, record) = match &replay {
            Some(r) => (r.secret(&salt), Some(r.record(salt))),
            None => (format!("{SECRET_PREFIX}{}", hex::encode(salt)), None),
        };
        let key = ApiKey {
            key_id: self.ids.new_id().simple().to_string(),
            name,
            role,
            created_at: chrono::SubsecRound::trunc_subsecs(self.clock.now(), 6),
            last_used_at: None,
            revoked_at: None,
        };
        let inserted = self
            .store
            .insert(&key, &secret_hash(&secret), record)
            .await?;
        *self.lock_any() = Some((true, Instant::now()));
        if !inserted {
            // A request under the same idempotency key made its key first: its answer
            // (the unique lookup decided, not a check before the insert).
            return made_before(self.store.as_ref(), replay.as_ref())
                .await?
                .ok_or_else(|| {
                    KeyError::Store(StoreError::Failed(
                        "a key made under this idempotency key is not found".into(),
                    ))
                });
        }
        Ok(CreatedKey {
            key,
            secret,
            replayed: false,
        })
    }

    /// The keys not revoked (admin only), without secrets.
    pub async fn list(&self, who: &Principal) -> Result<Vec<ApiKey>, KeyError> {
        who.require(Capability::Admin)?;
        Ok(self.store.active().await?)
    }

    /// Revokes a key (admin only); `false` when no active key has that id.
    pub async fn revoke(&self, who: &Principal, key_id: &str) -> Result<bool, KeyError> {
        who.require(Capability::Admin)?;
        let revoked = self.store.revoke(key_id, self.clock.now()).await?;
        // Under the cache's lock, which `look_up` holds while it checks the count and
        // caches: no read that began before the revocation is cached after it.
        let mut cache = self.lock_cache();
        self.revocations
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        cache.clear();
        Ok(revoked)
    }

    /// Whether any key was ever made (cached for [`CACHE_TTL`]).
    pub async fn any(&self) -> Result<bool, StoreError> {
        if let Some((any, at)) = *self.lock_any() {
            if any || at.elapsed() < CACHE_TTL {
                return Ok(any);
            }
        }
        let any = self.store.any().await?;
        *self.lock_any() = Some((any, Instant::now()));
        Ok(any)
    }

    /// The principal of the active key whose secret has this hash ([`hash_of`]): what
    /// each request asks, and a live stream again before each event.
    pub async fn principal_by_hash(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<Principal>, StoreError> {
        let fresh = |at: &Instant| at.elapsed() < CACHE_TTL;
        if self.lock_unknown().get(hash).is_some_and(fresh) {
            return Ok(None);
        }
        let cached = self
            .lock_cache()
            .get(hash)
            .and_then(|c| fresh(&c.fetched).then(|| c.key.clone()));
        let key = match cached {
            Some(key) => Some(key),
            None => self.look_up(hash).await?,
        };
        let Some(key) = key.filter(|k| k.revoked_at.is_none()) else {
            return Ok(None);
        };
        self.touch(hash, &key.key_id);
        Ok(Some(Principal::new(
            format!("key:{}", key.key_id),
            key.role,
        )))
    }

    /// Reads the key from the store and caches what it found, unless a revocation
    /// happened meanwhile. The time is taken before the read: an entry is never trusted
    /// for longer than [`CACHE_TTL`] after the read began.
    async fn look_up(&self, hash: &SecretHash) -> Result<Option<ApiKey>, StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let (began, generation) = (Instant::now(), self.revocations.load(SeqCst));
        let key = self.store.by_secret(hash).await?;
        match &key {
            None => {
                self.lock_unknown().put(*hash, began);
            }
            Some(k) => {
                let mut cache = self.lock_cache();
                if self.revocations.load(SeqCst) != generation {
                    return Ok(key);
                }
                let touched = cache.peek(hash).and_then(|c| c.touched);
                let entry = Cached {
                    key: k.clone(),
                    fetched: began,
                    touched,
                };
                cache.put(*hash, entry);
            }
        }
        Ok(key)
    }

    /// Writes `last_used_at` off the request path, at most once a minute per key here
    /// (and the store's condition makes it once a minute across instances), and one
    /// write at a time: while one is on its way, a key due is written at a later use.
    fn touch(&self, hash: &SecretHash, key_id: &str) {
        let touching = {
            let mut cache = self.lock_cache();
            let Some(entry) = cache.get_mut(hash) else {
                return;
            };
            if entry.touched.is_some_and(|t| t.elapsed() < TOUCH_EVERY)
                || self.touching.swap(true, Ordering::AcqRel)
            {
                return;
            }
            entry.touched = Some(Instant::now());
            Touching(self.touching.clone())
        };
        let (store, key_id, now): (_, String, DateTime<Utc>) =
            (self.store.clone(), key_id.to_owned(), self.clock.now());
        self.spawner.spawn(Box::pin(async move {
            let _touching = touching;
            if let Err(e) = store.touch(&key_id, now).await {
                tracing::warn!(key_id, error = %e, "could not record the key's last use");
            }
        }));
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, LruCache<SecretHash, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_unknown(&self) -> std::sync::MutexGuard<'_, LruCache<SecretHash, Instant>> {
        self.unknown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_any(&self) -> std::sync::MutexGuard<'_, Option<(bool, Instant)>> {
        self.any
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
