//! Typed settings: built-in defaults, an optional file, then `LEDGER__SECTION__KEY`
//! environment overrides. Secrets (tokens, the storage URL) never print. A key no
//! setting has (a misspelt `auth.api_token` would leave the API open) is an error.

use std::path::Path;

use anyhow::Context;
use ledger_http::Secret;
use serde::Deserialize;

/// All settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP server.
    pub server: Server,
    /// Event store and read models.
    pub storage: Storage,
    /// Snapshot store.
    pub snapshots: Snapshots,
    /// Projectors.
    pub projections: Projections,
    /// Access tokens.
    pub auth: Auth,
    /// Logging.
    pub log: Log,
    /// The event relay.
    pub relay: Relay,
    /// Seals.
    #[serde(default)]
    pub integrity: Integrity,
}

/// `integrity.*`: seals are written when `signing_key` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integrity {
    /// An Ed25519 private key in PKCS#8 PEM: a file's path, or the PEM text itself
    /// (`ledger keys generate --out FILE` makes one).
    pub signing_key: Option<Secret>,
    /// At most one seal this often (while new events exist).
    pub seal_interval_seconds: u64,
}

impl Default for Integrity {
    fn default() -> Self {
        Self {
            signing_key: None,
            seal_interval_seconds: 60,
        }
    }
}

/// `relay.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relay {
    /// `relay.nats.*`.
    pub nats: Nats,
}

/// `relay.nats.*`: the relay to NATS JetStream runs when `url` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nats {
    /// `nats://host:port`; none: no relay.
    pub url: Option<String>,
    /// The JetStream stream (created when absent).
    pub stream: String,
    /// Subjects are `<subject_prefix>.<stream type>.<stream id>`.
    pub subject_prefix: String,
}

impl Default for Nats {
    fn default() -> Self {
        Self {
            url: None,
            stream: "LEDGER".into(),
            subject_prefix: "ledger.events".into(),
        }
    }
}

/// `server.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Listen address (`127.0.0.1:8080`; port 0 picks a free one).
    pub address: String,
    /// Bound on each request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Bound on receiving a request's line and headers, in milliseconds (a client
    /// sending them slower is disconnected).
    pub header_read_timeout_ms: u64,
    /// How long one write to a client may wait, in milliseconds, before the connection
    /// is closed (a client that reads nothing, e.g. a stalled live-feed subscriber).
    pub write_timeout_ms: u64,
    /// Client connections this instance holds open at once; past it the next waits in
    /// the listen queue until one closes (lowered to fit the open-file limit, so that
    /// the stores always have descriptors left).
    pub max_connections: u64,
    /// Live streams (`/events/stream`, `/accounts/{id}/events/stream`) this instance
    /// serves at once; one more is answered 503 until one ends.
    pub max_live_streams: u64,
    /// Live streams one API key or token may have open on this instance at once; one
    /// more is answered 429 until one ends (an open API's callers: the bound above).
    pub max_live_streams_per_key: u64,
    /// Refuse a command sent without an `Idempotency-Key` (422): for services whose
    /// clients must be safe to retry (a retry without a key moves the money again).
    pub require_idempotency_key: bool,
}

/// `storage.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// `sqlite://path` or `postgres://...`: the scheme picks the adapter.
    pub url: Secret,
    /// PostgreSQL pool size.
    pub max_connections: u32,
    /// PostgreSQL group commit: groups of appends written at the same time.
    pub group_commit_writers: usize,
}

/// `projections.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Projections {
    /// Whether `serve` runs the projectors. Off: a command-and-query instance whose
    /// read models are kept by another instance.
    pub enabled: bool,
}

/// `snapshots.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshots {
    /// `memory` or `redis://...`.
    pub url: Secret,
    /// A snapshot every this many events (0: never).
    pub every: u64,
    /// Redis key expiry in seconds (0: none).
    pub ttl_seconds: u64,
    /// Aggregates kept in the in-process cache.
    pub cache_capacity: usize,
    /// Prefix of every Redis key: ledgers of different databases sharing one Redis
    /// each need their own.
    pub prefix: String,
}

/// `auth.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Admin token; admin endpoints are disabled without one.
    pub admin_token: Option<Secret>,
    /// API tokens (operator keys); with none and no API key, the API is open.
    pub api_tokens: Vec<Secret>,
    /// Requests per second each key or token may make (burst: twice that); 0: no limit.
    pub rate_limit_per_second: u32,
}

/// `log.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter such as `info` or `ledger=debug,info`.
    pub level: String,
}

impl Settings {
    /// Defaults, then the file (if given), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder()
            .set_default("server.address", "127.0.0.1:8080")?
            .set_default("server.request_timeout_ms", 10_000)?
            .set_default("server.header_read_timeout_ms", 10_000)?
            .set_default("server.write_timeout_ms", 30_000)?
            .set_default("server.max_connections", 10_000)?
            .set_default("server.max_live_streams", 1_000)?
            .set_default("server.max_live_streams_per_key", 100)?
            .set_default("server.require_idempotency_key", false)?
            .set_default("storage.url", "sqlite://data/ledger.db")?
            .set_default("storage.max_connections", 16)?
            .set_default("storage.group_commit_writers", 1)?
            .set_default("snapshots.url", "memory")?
            .set_default("snapshots.every", 100)?
            .set_default("snapshots.ttl_seconds", 0)?
            .set_default("snapshots.cache_capacity", 10_000)?
            .set_default("snapshots.prefix", "ledger:")?
            .set_default("projections.enabled", true)?
            .set_default("auth.api_tokens", Vec::<String>::new())?
            .set_default("auth.rate_limit_per_second", 0)?
            .set_default("log.format", "text")?
            .set_default("log.level", "info")?
            .set_default("relay.nats.stream", "LEDGER")?
            .set_default("relay.nats.subject_prefix", "ledger.events")?
            .set_default("integrity.seal_interval_seconds", 60)?;
        if let Some(path) = file {
            builder = crate::settings_file::read_into(builder, path)?;
        }
        builder = builder.add_source(
            config::Environment::with_prefix("LEDGER")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("auth.api_tokens")
                .try_parsing(true),
        );
        let built = builder
            .build()
            .map_err(|e| crate::settings_file::without_the_line(e, file))
            .context("reading the configuration")?;
        crate::settings_checks::whole_numbers(&built)?;
        crate::settings_checks::text_values(&built)?;
        let mut settings: Settings = built
            .try_deserialize()
            .map_err(crate::settings_file::without_a_secret)
            .context("the configuration is invalid")?;
        settings.log.level = crate::settings_checks::log_filter(&settings.log.level)?;
        crate::settings_checks::values(&settings)?;
        Ok(settings)
    }
}

/// A URL with its password replaced, for messages: the one in `user:password@`, and
/// the value of every query parameter (a `password=`, or a misspelt one).
pub fn redacted(url: &str) -> String {
    // The user information is in the authority, before the path's first `/` (an `@` in
    // a SQLite path is not one).
    let authority_end = |s: usize| url[s + 3..].find('/').map_or(url.len(), |i| s + 3 + i);
    let at = url.find("://").and_then(|s| {
        url[..authority_end(s)]
            .rfind('@')
            .filter(|&at| at > s + 2)
            .map(|at| (s, at))
    });
    let url = match at {
        Some((s, at)) => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}://{user}:***@{}", &url[..s], &url[at + 1..]),
            // A database's user alone is shown; a name alone elsewhere may be a token
            // (`nats://TOKEN@host`).
            None if url.starts_with("postgres") => url.to_owned(),
            None => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        },
        None => url.to_owned(),
    };
    let Some((base, query)) = url.split_once('?') else {
        return url;
    };
    let names: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}=***"),
            None => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", names.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_and_tokens_are_hidden_and_nothing_else() {
        let cases = [
            ("postgres://app:s3cret@db/x", "postgres://app:***@db/x"),
            // A database's user alone says which role failed.
            ("postgres://app@db/x", "postgres://app@db/x"),
            ("nats://T0KEN@127.0.0.1:4222", "nats://***@127.0.0.1:4222"),
            ("redis://:pw@127.0.0.1:6379", "redis://:***@127.0.0.1:6379"),
            // An `@` in a path is not user information.
            ("sqlite:///srv/a@b/l.db", "sqlite:///srv/a@b/l.db"),
            (
                "postgres://db/x?password=pw&sslmode=require",
                "postgres://db/x?password=***&sslmode=***",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(redacted(url), shown, "{url}");
        }
    }
}
