//! API keys in memory.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use ledger_application::ports::keys::{ApiKey, KeyStore, SecretHash};
use ledger_application::ports::store::StoreError;

/// API keys in memory, in the order they were made.
#[derive(Default)]
pub struct MemoryKeyStore {
    keys: Mutex<Vec<(ApiKey, SecretHash)>>,
}

impl MemoryKeyStore {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Vec<(ApiKey, SecretHash)>) -> T) -> T {
        f(&mut self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn insert(&self, key: &ApiKey, secret_hash: &SecretHash) -> Result<(), StoreError> {
        self.with(|keys| {
            if keys
                .iter()
                .any(|(k, h)| k.key_id == key.key_id || h == secret_hash)
            {
                return Err(StoreError::Failed("the key id or secret exists".into()));
            }
            keys.push((key.clone(), *secret_hash));
            Ok(())
        })
    }

    async fn active(&self) -> Result<Vec<ApiKey>, StoreError> {
        Ok(self.with(|keys| {
            keys.iter()
                .filter(|(k, _)| k.revoked_at.is_none())
                .map(|(k, _)| k.clone())
                .collect()
        }))
    }

    async fn by_secret(&self, secret_hash: &SecretHash) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.with(|keys| {
            keys.iter()
                .find(|(_, h)| h == secret_hash)
                .map(|(k, _)| k.clone())
        }))
    }

    async fn revoke(&self, key_id: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.with(|keys| {
            match keys
                .iter_mut()
                .find(|(k, _)| k.key_id == key_id && k.revoked_at.is_none())
            {
                Some((k, _)) => {
                    k.revoked_at = Some(at);
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
            if let Some((k, _)) = keys.iter_mut().find(|(k, _)| k.key_id == key_id) {
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
