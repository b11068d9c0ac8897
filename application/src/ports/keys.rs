//! The API-key store: keys as records, each found by the hash of its secret. The
//! secret itself is never stored, nor shown again after it was made.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::access::Role;
use crate::ports::store::StoreError;

/// The SHA-256 of a key's secret: how a store finds a key (a fast hash is right for a
/// 256-bit random secret: there is nothing to guess).
pub type SecretHash = [u8; 32];

/// An API key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id (32 lower-case hex digits); events it causes name `key:<key_id>`.
    pub key_id: String,
    /// A name for people.
    pub name: String,
    /// What it may do (an owner key: for which owner).
    pub role: Role,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used, to the minute (written at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; from then on it is refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a key made under an `Idempotency-Key` keeps so that a retry gets the same
/// answer without the secret being stored: the SHA-256 of the scoped idempotency key
/// (how the retry finds the key), of the request (another request under the same key is
/// refused), and the random salt the secret was derived from with the idempotency key
/// (`key_replay::ReplayKey::secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReplay {
    /// SHA-256 of the scoped idempotency key; unique.
    pub lookup: [u8; 32],
    /// SHA-256 of the request's fields.
    pub request: [u8; 32],
    /// The salt of the secret.
    pub salt: [u8; 32],
}

/// Where API keys live. Implementations: PostgreSQL, SQLite, memory; all pass the same
/// conformance suite.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Stores a new key under the hash of its secret (both unique), with what a retry
    /// needs when it was made under an idempotency key. `false`: a key with that
    /// `replay.lookup` exists, and nothing was written.
    async fn insert(
        &self,
        key: &ApiKey,
        secret_hash: &SecretHash,
        replay: Option<KeyReplay>,
    ) -> Result<bool, StoreError>;

    /// The key made under this idempotency key lookup ([`KeyReplay::lookup`]), revoked
    /// or not, with its secret's hash and its replay record.
    async fn by_replay(
        &self,
        lookup: &[u8; 32],
    ) -> Result<Option<(ApiKey, SecretHash, KeyReplay)>, StoreError>;

    /// The keys not revoked, oldest first.
    async fn active(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// The key whose secret has this hash, revoked or not.
    async fn by_secret(&self, secret_hash: &SecretHash) -> Result<Option<ApiKey>, StoreError>;

    /// Revokes the key at `at`; `false` when no key with that id is active.
    async fn revoke(&self, key_id: &str, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Whether any key was ever made (revoked ones count: revoking every key never
    /// opens the API).
    async fn any(&self) -> Result<bool, StoreError>;

    /// Records a use at `at`, unless a use less than a minute before `at` is recorded
    /// (one write a minute per key, however many instances use it). A recorded use
    /// later than `at` (written by a clock that ran fast) is replaced.
    async fn touch(&self, key_id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
}
