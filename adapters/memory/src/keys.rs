//! API keys in memory.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use ledger_application::ports::keys::{ApiKey, KeyReplay, KeyStore, SecretHash};
use ledger_application::ports::store::StoreError;

/// API keys in memory, in the order they were made.
#[derive(Default)]
pub struct MemoryKeyStore {
    keys: Mutex<Vec<Stored>>,
}

/// A key with the hash of its secret and, when made under an idempotency key, its
/// replay record.
struct Stored {
    key: ApiKey,
    hash: SecretHash,
    replay: Option<KeyReplay>,
}

impl MemoryKeyStore {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Vec<Stored>) -> T) -> T {
        f(&mut self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn insert(
        &self,
        key: &ApiKey,
        secret_hash: &SecretHash,
        replay: Option<KeyReplay>,
    ) -> Result<bool, StoreError> {
        self.with(|keys| {
            if keys
                .iter()
                .any(|s| s.key.key_id == key.key_id || s.hash == *secret_hash)
            {
                return Err(StoreError::Failed("the key id or secret exists".into()));
            }
            let lookup = replay.as_ref().map(|r| r.lookup);
            if lookup.is_some()
                && keys
                    .iter()
                    .any(|s| s.replay.as_ref().map(|r| r.lookup) == lookup)
            {
                return Ok(false);
            }
            keys.push(Stored {
                key: key.clone(),
                hash: *secret_hash,
                replay,
            });
            Ok(true)
        })
    }

    async fn by_replay(
        &self,
        lookup: &[u8; 32],
    ) -> Result<Option<(ApiKey, SecretHash, KeyReplay)>, StoreError> {
        Ok(self.with(|keys| {
            keys.iter().find_map(|s| match &s.replay {
                Some(r) if r.lookup == *lookup => Some((s.key.clone(), s.hash, r.clone())),
                _ => None,
            })
        }))
    }

    async fn active(&self) -> Result<Vec<ApiKey>, StoreError> {
        Ok(self.with(|keys| {
            keys.iter()
                .filter(|s| s.key.revoked_at.is_none())
                .map(|s| s.key.clone())
                .collect()
        }))
    }

    async fn by_secret(&self, secret_hash: &SecretHash) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.with(|keys| {
            keys.iter()
                .find(|s| s.hash == *secret_hash)
                .map(|s| s.key.clone())
        }))
    }

    async fn revoke(&self, key_id: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.with(|keys| {
            match keys
                .iter_mut()
                .find(|s| s.key.key_id == key_id && s.key.revoked_at.is_none())
            {
                Some(s) => {
                    s.key.revoked_at = Some(at);
                    true
                }
                None => false,
            }
        }))
    }

    async fn any(&self) -> Result<bool, StoreError> {
        Ok(self.with(|keys| !keys.is_empty()))
    }

    async fn touch(&self, key_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.with(|keys| {
            if let Some(k) = keys
                .iter_mut()
                .map(|s| &mut s.key)
                .find(|k| k.key_id == key_id)
            {
                if k.last_used_at
                    .is_none_or(|t| t <= at - Duration::minutes(1) || t > at)
                {
                    k.last_used_at = Some(at);
                }
            }
        });
        Ok(())
    }
}
