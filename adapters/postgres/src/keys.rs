//! API keys on PostgreSQL (`api_keys`, migrations 0011 and 0018).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledger_application::ports::keys::{ApiKey, KeyReplay, KeyStore, SecretHash};
use ledger_application::ports::store::StoreError;
use ledger_sql::{api_key, replayed_key, role_columns, KEY_COLUMNS, REPLAYED_KEY_COLUMNS};
use sqlx::PgPool;

use crate::errors::store_error;
use crate::guarded::Guarded;
use crate::queries::PgColumns;

/// API keys on PostgreSQL.
#[derive(Clone)]
pub struct PgKeyStore {
    pool: PgPool,
}

impl PgKeyStore {
    /// Keys in a migrated database.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl KeyStore for PgKeyStore {
    async fn insert(
        &self,
        key: &ApiKey,
        secret_hash: &SecretHash,
        replay: Option<KeyReplay>,
    ) -> Result<bool, StoreError> {
        let (role, owner) = role_columns(&key.role);
        let done = sqlx::query(
            "INSERT INTO api_keys (key_id, secret_hash, name, role, owner, created_at, \
             replay_lookup, replay_request, replay_salt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (replay_lookup) DO NOTHING",
        )
        .bind(&key.key_id)
        .bind(&secret_hash[..])
        .bind(&key.name)
        .bind(role)
        .bind(owner)
        .bind(key.created_at)
        .bind(replay.as_ref().map(|r| r.lookup.to_vec()))
        .bind(replay.as_ref().map(|r| r.request.to_vec()))
        .bind(replay.as_ref().map(|r| r.salt.to_vec()))
        .execute(Guarded(&self.pool))
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn by_replay(
        &self,
        lookup: &[u8; 32],
    ) -> Result<Option<(ApiKey, SecretHash, KeyReplay)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {REPLAYED_KEY_COLUMNS} FROM api_keys WHERE replay_lookup = $1"
        ))
        .bind(&lookup[..])
        .fetch_optional(Guarded(&self.pool))
        .await
        .map_err(store_error)?;
        row.map(|r| replayed_key(&PgColumns(&r)))
            .transpose()
            .map_err(store_error)
    }

    async fn active(&self) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE revoked_at IS NULL \
             ORDER BY created_at, key_id"
        ))
        .fetch_all(Guarded(&self.pool))
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|r| api_key(&PgColumns(r)))
            .collect::<Result<_, _>>()
            .map_err(store_error)
    }

    async fn by_secret(&self, secret_hash: &SecretHash) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1"
        ))
        .bind(&secret_hash[..])
        .fetch_optional(Guarded(&self.pool))
        .await
        .map_err(store_error)?;
        row.map(|r| api_key(&PgColumns(&r)))
            .transpose()
            .map_err(store_error)
    }

    async fn revoke(&self, key_id: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL",
        )
        .bind(key_id)
        .bind(at)
        .execute(Guarded(&self.pool))
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn any(&self) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys)")
            .fetch_one(Guarded(&self.pool))
            .await
            .map_err(store_error)
    }

    async fn touch(&self, key_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $2 WHERE key_id = $1 \
             AND (last_used_at IS NULL OR last_used_at <= $2 - interval '1 minute' \
                  OR last_used_at > $2)",
        )
        .bind(key_id)
        .bind(at)
        .execute(Guarded(&self.pool))
        .await
        .map_err(store_error)?;
        Ok(())
    }
}
