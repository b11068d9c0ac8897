//! The snapshot-store port on Redis.
//!
//! # Key scheme
//! One string key per stream: `{prefix}snapshot:{stream_id}` (default prefix `ledger:`),
//! holding JSON `{"version": N, "format": F, "state": "<aggregate state JSON>"}`.
//! Writes go through a Lua script that compares versions in Redis, so a snapshot never
//! replaces a newer one however writers race; an unreadable value is overwritten.
//! An optional TTL lets cold streams' snapshots expire.
//!
//! Every call has a short timeout; the connection reconnects by itself, and while Redis
//! is unreachable calls fail fast with `Unavailable` (callers carry on without snapshots).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![warn(missing_docs)]

use std::time::{Duration, Instant};

use async_trait::async_trait;
use ledger_application::ports::snapshot::{Snapshot, SnapshotError, SnapshotStore};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// Settings of the Redis snapshot store.
#[derive(Debug, Clone)]
pub struct RedisSnapshotConfig {
    /// Prepended to every key.
    pub prefix: String,
    /// Expiry of each snapshot; `None` keeps them.
    pub ttl: Option<Duration>,
    /// Bound on each call (connect or command).
    pub timeout: Duration,
    /// After a failed connection attempt, wait this long before the next one.
    pub reconnect_backoff: Duration,
}

impl Default for RedisSnapshotConfig {
    fn default() -> Self {
        Self {
            prefix: "ledger:".into(),
            ttl: None,
            timeout: Duration::from_millis(250),
            reconnect_backoff: Duration::from_secs(1),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u64,
    /// Absent in values written before snapshots named their last event: those are
    /// reported unreadable (and so replaced by the next snapshot).
    #[serde(default)]
    event_id: Option<uuid::Uuid>,
    format: u32,
    state: String,
    /// The writer's seal; absent in values written before snapshots were sealed, which
    /// are then not used (and replaced by the next snapshot).
    #[serde(default)]
    mac: String,
}

const SAVE_FORWARD: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded['version'])
     and tonumber(decoded['version']) >= tonumber(ARGV[1]) then
    return 0
  end
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
";

struct Connection {
    manager: Option<ConnectionManager>,
    last_attempt: Option<Instant>,
    /// Set when a call found Redis unreachable: calls fail fast until the backoff ends,
    /// so an outage costs commands nothing but their snapshots.
    tripped_at: Option<Instant>,
}

/// Snapshots in Redis, forward-only.
pub struct RedisSnapshotStore {
    client: redis::Client,
    config: RedisSnapshotConfig,
    script: redis::Script,
    conn: Mutex<Connection>,
}

fn unavailable(e: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Unavailable(e.to_string())
}

impl RedisSnapshotStore {
    /// A store for `redis://...`; connects lazily, so Redis may be down at start.
    pub fn new(url: &str, config: RedisSnapshotConfig) -> Result<Self, SnapshotError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        Ok(Self {
            client,
            config,
            script: redis::Script::new(SAVE_FORWARD),
            conn: Mutex::new(Connection {
                manager: None,
                last_attempt: None,
                tripped_at: None,
            }),
        })
    }

    /// The key of a stream's snapshot.
    pub fn key(&self, stream_id: &str) -> String {
        format!("{}snapshot:{stream_id}", self.config.prefix)
    }

    async fn connection(&self) -> Result<ConnectionManager, SnapshotError> {
        let mut conn = self.conn.lock().await;
        if conn
            .tripped_at
            .is_some_and(|t| t.elapsed() < self.config.reconnect_backoff)
        {
            return Err(unavailable("redis unreachable (backing off)"));
        }
        if let Some(m) = &conn.manager {
            return Ok(m.clone());
        }
        if conn
            .last_attempt
            .is_some_and(|t| t.elapsed() < self.config.reconnect_backoff)
        {
            return Err(unavailable("redis unreachable (backing off)"));
        }
        conn.last_attempt = Some(Instant::now());
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(self.config.timeout)
            .set_response_timeout(self.config.timeout)
            .set_number_of_retries(1)
            .set_max_delay(100);
        let manager = tokio::time::timeout(
            self.config.timeout * 2,
            self.client.get_connection_manager_with_config(cfg),
        )
        .await
        .map_err(|_| unavailable("redis connect timed out"))?
        .map_err(unavailable)?;
        conn.manager = Some(manager.clone());
        Ok(manager)
    }

    async fn bounded<T>(
        &self,
        f: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, SnapshotError> {
        let result = match tokio::time::timeout(self.config.timeout, f).await {
            Err(_) => Err(unavailable("redis call timed out")),
            Ok(Err(e)) if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() => {
                Err(unavailable(e))
            }
            Ok(Err(e)) => Err(SnapshotError::Corrupt(e.to_string())),
            Ok(Ok(v)) => Ok(v),
        };
        let mut conn = self.conn.lock().await;
        conn.tripped_at = match &result {
            Err(SnapshotError::Unavailable(_)) => Some(Instant::now()),
            _ => None,
        };
        if conn.tripped_at.is_some() {
            // The manager reconnects after a connection drops, but not after a call
            // whose answer never came (a black-holed connection stays open): it would
            // be used, and time out, for ever. The next call after the back-off
            // connects anew.
            conn.manager = None;
        }
        result
    }
}

#[async_trait]
impl SnapshotStore for RedisSnapshotStore {
    async fn load(&self, stream_id: &str) -> Result<Option<Snapshot>, SnapshotError> {
        let mut conn = self.connection().await?;
        let key = self.key(stream_id);
        let value: Option<String> = self
            .bounded(redis::cmd("GET").arg(&key).query_async(&mut conn))
            .await?;
        let Some(value) = value else {
            return Ok(None);
        };
        let stored: Stored = serde_json::from_str(&value)
            .map_err(|e| SnapshotError::Corrupt(format!("{key}: {e}")))?;
        let event_id = stored
            .event_id
            .ok_or_else(|| SnapshotError::Corrupt(format!("{key}: no event_id")))?;
        Ok(Some(Snapshot {
            stream_id: stream_id.to_owned(),
            version: stored.version,
            event_id,
            format: stored.format,
            state: stored.state,
            mac: stored.mac,
        }))
    }

    async fn save(&self, snapshot: Snapshot) -> Result<(), SnapshotError> {
        let mut conn = self.connection().await?;
        let value = serde_json::to_string(&Stored {
            version: snapshot.version,
            event_id: Some(snapshot.event_id),
            format: snapshot.format,
            state: snapshot.state,
            mac: snapshot.mac,
        })
        .map_err(|e| SnapshotError::Corrupt(e.to_string()))?;
        let ttl_ms = self.config.ttl.map_or(0, |t| t.as_millis());
        let mut invocation = self.script.key(self.key(&snapshot.stream_id));
        invocation
            .arg(snapshot.version)
            .arg(value)
            .arg(u64::try_from(ttl_ms).unwrap_or(u64::MAX));
        let _: i64 = self.bounded(invocation.invoke_async(&mut conn)).await?;
        Ok(())
    }
}
