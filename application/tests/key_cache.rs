//! The API keys' per-instance cache (`application/src/api_keys.rs`): what a secret
//! resolved to is reused, a revocation on this instance is seen at once, and a lookup
//! that read the key before a revocation never caches it after.
//!
//! The store is a fake of this file: it counts its reads and can hold one read between
//! reading the key and answering, which is the window the race needs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledger_application::access::{Principal, Role};
use ledger_application::api_keys::{hash_of, ApiKeys};
use ledger_application::ports::keys::{ApiKey, KeyStore, SecretHash};
use ledger_application::ports::store::StoreError;
use ledger_application::ports::system::{SystemClock, UuidV7Ids};
use tokio::sync::Notify;

#[derive(Default)]
struct GatedStore {
    keys: Mutex<Vec<(ApiKey, SecretHash)>>,
    reads: AtomicUsize,
    /// When set, the next `by_secret` reads, says so on `read`, then waits on `release`.
    hold_next: Mutex<bool>,
    read: Notify,
    release: Notify,
}

impl GatedStore {
    fn keys(&self) -> std::sync::MutexGuard<'_, Vec<(ApiKey, SecretHash)>> {
        self.keys.lock().unwrap()
    }
}

#[async_trait]
impl KeyStore for GatedStore {
    async fn insert(&self, key: &ApiKey, secret_hash: &SecretHash) -> Result<(), StoreError> {
        self.keys().push((key.clone(), *secret_hash));
        Ok(())
    }

    async fn active(&self) -> Result<Vec<ApiKey>, StoreError> {
        let keys = self.keys();
        Ok(keys
            .iter()
            .filter(|(k, _)| k.revoked_at.is_none())
            .map(|(k, _)| k.clone())
            .collect())
    }

    async fn by_secret(&self, secret_hash: &SecretHash) -> Result<Option<ApiKey>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let found = self
            .keys()
            .iter()
            .find(|(_, h)| h == secret_hash)
            .map(|(k, _)| k.clone());
        let hold = std::mem::take(&mut *self.hold_next.lock().unwrap());
        if hold {
            let released = self.release.notified();
            self.read.notify_one();
            released.await;
        }
        Ok(found)
    }

    async fn revoke(&self, key_id: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut keys = self.keys();
        let active = keys
            .iter_mut()
            .find(|(k, _)| k.key_id == key_id && k.revoked_at.is_none());
        Ok(active.map(|(k, _)| k.revoked_at = Some(at)).is_some())
    }

    async fn any(&self) -> Result<bool, StoreError> {
        Ok(!self.keys().is_empty())
    }

    async fn touch(&self, _key_id: &str, _at: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }
}

async fn keys_with_one() -> (Arc<GatedStore>, Arc<ApiKeys>, String, SecretHash) {
    let store = Arc::new(GatedStore::default());
    let keys = Arc::new(ApiKeys::new(
        store.clone(),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        Arc::new(|task| {
            tokio::spawn(task);
        }),
    ));
    let made = keys
        .create(&Principal::admin(), "ops", Role::Operator)
        .await
        .unwrap();
    let hash = hash_of(&made.secret).unwrap();
    (store, keys, made.key.key_id, hash)
}

#[tokio::test]
async fn a_resolved_secret_is_reused_and_a_revocation_here_is_seen_at_once() {
    let (store, keys, key_id, hash) = keys_with_one().await;
    let first = keys.principal_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(first.actor, format!("key:{key_id}"));
    assert!(keys.principal_by_hash(&hash).await.unwrap().is_some());
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        1,
        "the second was cached"
    );

    assert!(keys.revoke(&Principal::admin(), &key_id).await.unwrap());
    assert_eq!(keys.principal_by_hash(&hash).await.unwrap(), None);
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        2,
        "the cache was dropped"
    );
}

#[tokio::test]
async fn a_lookup_that_read_the_key_before_a_revocation_does_not_cache_it() {
    let (store, keys, key_id, hash) = keys_with_one().await;
    *store.hold_next.lock().unwrap() = true;
    let read = store.read.notified();
    let in_flight = tokio::spawn({
        let keys = keys.clone();
        async move { keys.principal_by_hash(&hash).await }
    });
    // The lookup has read the key, still active, and waits before caching it.
    read.await;
    assert!(keys.revoke(&Principal::admin(), &key_id).await.unwrap());
    store.release.notify_one();

    // The request that began before the revocation may pass, as it would have a moment
    // earlier; what it read must not outlive the revocation.
    let began_before = in_flight.await.unwrap().unwrap();
    assert!(began_before.is_some());
    assert_eq!(keys.principal_by_hash(&hash).await.unwrap(), None);
    assert_eq!(store.reads.load(Ordering::SeqCst), 2);
}
