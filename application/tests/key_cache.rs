//! The API keys' per-instance cache (`application/src/api_keys.rs`): what a secret
//! resolved to is reused, a revocation on this instance is seen at once, and a lookup
//! that read the key before a revocation never caches it after.
//!
//! The store is a fake of this file: it counts its reads and can hold one read between
//! reading the key and answering, which is the window the race needs. It can hold its
//! `last_used_at` writes too: they are one at a time.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledger_application::access::{Principal, Role};
use ledger_application::api_keys::{hash_of, ApiKeys};
use ledger_application::ports::keys::{ApiKey, KeyReplay, KeyStore, SecretHash};
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
    /// `last_used_at` writes: the keys written, how many are on their way now and at
    /// most; while `hold_touches`, each waits for `touch_release`.
    touched: Mutex<Vec<String>>,
    touching: AtomicUsize,
    most_touching: AtomicUsize,
    hold_touches: AtomicBool,
    touch_release: Notify,
}

impl GatedStore {
    fn keys(&self) -> std::sync::MutexGuard<'_, Vec<(ApiKey, SecretHash)>> {
        self.keys.lock().unwrap()
    }
}

#[async_trait]
impl KeyStore for GatedStore {
    async fn insert(
        &self,
        key: &ApiKey,
        secret_hash: &SecretHash,
        _replay: Option<KeyReplay>,
    ) -> Result<bool, StoreError> {
        self.keys().push((key.clone(), *secret_hash));
        Ok(true)
    }

    async fn by_replay(
        &self,
        _lookup: &[u8; 32],
    ) -> Result<Option<(ApiKey, SecretHash, KeyReplay)>, StoreError> {
        Ok(None)
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

    async fn touch(&self, key_id: &str, _at: DateTime<Utc>) -> Result<(), StoreError> {
        let now = self.touching.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_touching.fetch_max(now, Ordering::SeqCst);
        loop {
            let released = self.touch_release.notified();
            if !self.hold_touches.load(Ordering::SeqCst) {
                break;
            }
            released.await;
        }
        self.touched.lock().unwrap().push(key_id.to_owned());
        self.touching.fetch_sub(1, Ordering::SeqCst);
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
        .create(&Principal::admin(), "ops", Role::Operator, None)
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

/// `last_used_at` is written one key at a time: while a write waits (the keys' table
/// locked, say), using other keys starts no other write (each held a connection: a few
/// keys took the whole pool); the keys still due are written at a later use.
#[tokio::test]
async fn last_uses_are_written_one_at_a_time() {
    let (store, keys, first, first_hash) = keys_with_one().await;
    store.hold_touches.store(true, Ordering::SeqCst);
    let mut all = vec![(first, first_hash)];
    for i in 0..7 {
        let made = keys
            .create(
                &Principal::admin(),
                &format!("ops-{i}"),
                Role::Operator,
                None,
            )
            .await
            .unwrap();
        all.push((made.key.key_id, hash_of(&made.secret).unwrap()));
    }
    for (_, hash) in &all {
        assert!(keys.principal_by_hash(hash).await.unwrap().is_some());
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(store.touching.load(Ordering::SeqCst), 1, "one write waits");

    store.hold_touches.store(false, Ordering::SeqCst);
    store.touch_release.notify_waiters();
    let mut written = Vec::new();
    for _ in 0..200 {
        for (_, hash) in &all {
            assert!(keys.principal_by_hash(hash).await.unwrap().is_some());
            tokio::task::yield_now().await;
        }
        written = store.touched.lock().unwrap().clone();
        if written.len() == all.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    written.sort();
    let mut ids: Vec<String> = all.into_iter().map(|(id, _)| id).collect();
    ids.sort();
    assert_eq!(written, ids, "each key's last use written once");
    assert_eq!(store.most_touching.load(Ordering::SeqCst), 1);
}
