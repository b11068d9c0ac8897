//! The settings a test application runs with.

use std::sync::Arc;

use ledger_application::ports::system::ManualClock;
use ledger_bootstrap::settings::{Auth, Log, Projections, Server, Settings, Snapshots, Storage};
use ledger_http::Secret;

use crate::ADMIN;

/// Access options of a test application.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// API tokens (empty: open).
    pub api_tokens: Vec<String>,
    /// Whether the admin token is set.
    pub no_admin: bool,
    /// `projections.enabled = false`.
    pub no_projectors: bool,
    /// `relay.nats.*` (none: no relay).
    pub relay: Option<ledger_bootstrap::settings::Nats>,
    /// `auth.rate_limit_per_second` (0: none).
    pub rate_limit_per_second: u32,
    /// `integrity.signing_key` (a PEM file's path), sealing every second.
    pub signing_key: Option<String>,
    /// `server.header_read_timeout_ms` (0: the default, 10 s).
    pub header_read_timeout_ms: u64,
    /// `server.write_timeout_ms` (0: the default, 30 s).
    pub write_timeout_ms: u64,
    /// `server.max_live_streams` (0: the default, 1,000).
    pub max_live_streams: u64,
    /// `server.max_connections` (0: the default, 10,000).
    pub max_connections: u64,
    /// `server.max_live_streams_per_key` (0: the default, 100).
    pub max_live_streams_per_key: u64,
    /// The clock commands and the expirer read (none: the system's).
    pub clock: Option<Arc<ManualClock>>,
    /// `server.require_idempotency_key`.
    pub require_idempotency_key: bool,
}

/// The Redis the tests use.
pub fn redis_url() -> String {
    std::env::var("LEDGER_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Settings for a backend; the storage URL is filled in by the caller.
pub fn settings(storage_url: String, snapshots_url: String, options: &Options) -> Settings {
    Settings {
        server: Server {
            address: "127.0.0.1:0".into(),
            request_timeout_ms: 10_000,
            header_read_timeout_ms: match options.header_read_timeout_ms {
                0 => 10_000,
                ms => ms,
            },
            write_timeout_ms: match options.write_timeout_ms {
                0 => 30_000,
                ms => ms,
            },
            max_connections: match options.max_connections {
                0 => 10_000,
                n => n,
            },
            max_live_streams: match options.max_live_streams {
                0 => 1_000,
                n => n,
            },
            max_live_streams_per_key: match options.max_live_streams_per_key {
                0 => 100,
                n => n,
            },
            require_idempotency_key: options.require_idempotency_key,
        },
        storage: Storage {
            url: Secret::new(storage_url),
            max_connections: 10,
            group_commit_writers: 2,
        },
        snapshots: Snapshots {
            url: Secret::new(snapshots_url),
            every: 5,
            ttl_seconds: 600,
            cache_capacity: 1000,
            prefix: format!("ledger-test-{}:", uuid::Uuid::new_v4()),
        },
        projections: Projections {
            enabled: !options.no_projectors,
        },
        auth: Auth {
            admin_token: (!options.no_admin).then(|| Secret::new(ADMIN)),
            api_tokens: options.api_tokens.iter().map(Secret::new).collect(),
            rate_limit_per_second: options.rate_limit_per_second,
        },
        log: Log {
            format: "text".into(),
            level: "warn".into(),
        },
        relay: ledger_bootstrap::settings::Relay {
            nats: options.relay.clone().unwrap_or_default(),
        },
        integrity: ledger_bootstrap::settings::Integrity {
            signing_key: options.signing_key.as_ref().map(Secret::new),
            seal_interval_seconds: 1,
        },
    }
}
