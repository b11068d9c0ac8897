//! The checks a configuration passes before anything is opened or made: each wrong
//! value is one error naming its key, and a mistyped setting never leaves a new, empty
//! ledger behind it.

use config::{Config, ValueKind};

use crate::settings::Settings;

/// Keys that take whole numbers. The reader rounds a fraction (`0.4` would be 0: an
/// `auth.rate_limit_per_second` turned off) and reads `inf` as the largest number.
const WHOLE: [&str; 12] = [
    "server.request_timeout_ms",
    "server.header_read_timeout_ms",
    "server.write_timeout_ms",
    "server.max_live_streams",
    "server.max_live_streams_per_key",
    "storage.max_connections",
    "storage.group_commit_writers",
    "snapshots.every",
    "snapshots.ttl_seconds",
    "snapshots.cache_capacity",
    "auth.rate_limit_per_second",
    "integrity.seal_interval_seconds",
];

/// The most aggregates the in-process cache keeps (its slots are allocated at start,
/// about 40 bytes each).
pub const MAX_CACHE_CAPACITY: usize = 10_000_000;

/// The most group-commit writers on PostgreSQL.
pub const MAX_GROUP_COMMIT_WRITERS: usize = 64;

/// The longest snapshot expiry, in seconds (about 31 years; Redis refuses far longer).
pub const MAX_TTL_SECONDS: u64 = 1_000_000_000;

/// Refuses a number with a fraction (or not a number) where a whole one is asked for.
pub(crate) fn whole_numbers(built: &Config) -> anyhow::Result<()> {
    for key in WHOLE {
        // As written in the environment: the reader takes `+5` and `-0` for numbers.
        let variable = format!("LEDGER__{}", key.to_uppercase().replace('.', "__"));
        if let Ok(raw) = std::env::var(&variable) {
            if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("{key} must be a whole number, digits only (it is {raw:?})");
            }
        }
        let Ok(value) = built.get::<config::Value>(key) else {
            continue;
        };
        let whole = match &value.kind {
            ValueKind::I64(_) | ValueKind::I128(_) | ValueKind::U64(_) | ValueKind::U128(_) => true,
            ValueKind::String(s) => !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
            _ => false,
        };
        if !whole {
            anyhow::bail!("{key} must be a whole number within its range (it is {value})");
        }
    }
    Ok(())
}

/// Every value's own rule.
pub(crate) fn values(settings: &Settings) -> anyhow::Result<()> {
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&settings.log.level) {
        anyhow::bail!(
            "log.level `{}` is not a log filter: {e}",
            settings.log.level
        );
    }
    if !["text", "json"].contains(&settings.log.format.as_str()) {
        anyhow::bail!("log.format must be `text` or `json`");
    }
    let positive = [
        (
            "integrity.seal_interval_seconds",
            settings.integrity.seal_interval_seconds,
        ),
        (
            "server.request_timeout_ms",
            settings.server.request_timeout_ms,
        ),
        (
            "server.header_read_timeout_ms",
            settings.server.header_read_timeout_ms,
        ),
        ("server.write_timeout_ms", settings.server.write_timeout_ms),
        ("server.max_live_streams", settings.server.max_live_streams),
        (
            "server.max_live_streams_per_key",
            settings.server.max_live_streams_per_key,
        ),
    ];
    if let Some((key, _)) = positive.iter().find(|(_, value)| *value == 0) {
        anyhow::bail!("{key} must be at least 1 (it is 0)");
    }
    // PostgreSQL's pool (SQLite's is its own): the listener for other instances'
    // appends keeps one connection.
    let postgres = settings.storage.url.expose().starts_with("postgres");
    if postgres && settings.storage.max_connections < 2 {
        anyhow::bail!(
            "storage.max_connections must be at least 2 on PostgreSQL (it is {})",
            settings.storage.max_connections
        );
    }
    if settings.storage.group_commit_writers > MAX_GROUP_COMMIT_WRITERS {
        anyhow::bail!(
            "storage.group_commit_writers must be at most {MAX_GROUP_COMMIT_WRITERS} (each \
             is a task and a connection)"
        );
    }
    let s = &settings.snapshots;
    if s.cache_capacity > MAX_CACHE_CAPACITY {
        anyhow::bail!("snapshots.cache_capacity must be at most {MAX_CACHE_CAPACITY}");
    }
    if s.ttl_seconds > MAX_TTL_SECONDS {
        anyhow::bail!("snapshots.ttl_seconds must be at most {MAX_TTL_SECONDS}");
    }
    let url = s.url.expose();
    if url != "memory" && !url.starts_with("redis://") && !url.starts_with("rediss://") {
        anyhow::bail!(
            "snapshots.url must be `memory` or redis://..., not {}",
            crate::settings::redacted(url)
        );
    }
    // A token a client cannot send as it is (with spaces or control characters) would
    // refuse every request made with it. (An empty one is none: admin is off.)
    if let Some(token) = &settings.auth.admin_token {
        if token
            .expose()
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            anyhow::bail!("auth.admin_token must not hold spaces or control characters");
        }
    }
    if std::net::ToSocketAddrs::to_socket_addrs(settings.server.address.as_str()).is_err() {
        anyhow::bail!(
            "server.address {:?} is not an address to listen on (host:port, such as 127.0.0.1:8080)",
            settings.server.address
        );
    }
    let nats = &settings.relay.nats;
    if let Some(url) = nats.url.as_deref().filter(|u| !u.trim().is_empty()) {
        ledger_nats::check_url(url).map_err(anyhow::Error::msg)?;
        ledger_nats::check_names(&nats.stream, &nats.subject_prefix).map_err(anyhow::Error::msg)?;
    }
    Ok(())
}
