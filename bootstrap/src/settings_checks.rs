//! The checks a configuration passes before anything is opened or made: each wrong
//! value is one error naming its key, and a mistyped setting never leaves a new, empty
//! ledger behind it.

use config::{Config, ValueKind};

use crate::settings::Settings;

/// Keys that take whole numbers, each with the largest it takes. The reader rounds a
/// fraction (`0.4` would be 0: an `auth.rate_limit_per_second` turned off), reads `inf`
/// as the largest number, and holds no whole number past a signed 64-bit one.
const WHOLE: [(&str, u64); 13] = [
    ("server.request_timeout_ms", I64),
    ("server.header_read_timeout_ms", I64),
    ("server.write_timeout_ms", I64),
    ("server.max_connections", I64),
    ("server.max_live_streams", I64),
    ("server.max_live_streams_per_key", I64),
    ("storage.max_connections", U32),
    ("storage.group_commit_writers", I64),
    ("snapshots.every", I64),
    ("snapshots.ttl_seconds", I64),
    ("snapshots.cache_capacity", I64),
    ("auth.rate_limit_per_second", U32),
    ("integrity.seal_interval_seconds", I64),
];

const I64: u64 = i64::MAX as u64;
const U32: u64 = u32::MAX as u64;

/// The most aggregates the in-process cache keeps (its slots are allocated at start,
/// about 40 bytes each).
pub const MAX_CACHE_CAPACITY: usize = 10_000_000;

/// The most group-commit writers on PostgreSQL.
pub const MAX_GROUP_COMMIT_WRITERS: usize = 64;

/// The longest snapshot expiry, in seconds (about 31 years; Redis refuses far longer).
pub const MAX_TTL_SECONDS: u64 = 1_000_000_000;

/// Keys that take text. A file's `admin_token = true` or `url = 5` was read as the
/// text "true" or "5": a token nobody meant, a relay to host "5".
const TEXT: [&str; 11] = [
    "server.address",
    "storage.url",
    "snapshots.url",
    "snapshots.prefix",
    "auth.admin_token",
    "log.format",
    "log.level",
    "relay.nats.url",
    "relay.nats.stream",
    "relay.nats.subject_prefix",
    "integrity.signing_key",
];

/// The environment variable that sets `key`.
fn variable(key: &str) -> String {
    format!("LEDGER__{}", key.to_uppercase().replace('.', "__"))
}

/// Refuses a value that is not text (a file's number, boolean, table or list) where
/// text is asked for, and a list of tokens with anything but text in it. The
/// environment's values are text as written.
pub(crate) fn text_values(built: &Config) -> anyhow::Result<()> {
    let written = |key: &str| {
        std::env::var(variable(key))
            .is_err()
            .then(|| built.get::<config::Value>(key).ok())
            .flatten()
    };
    let is_text = |v: &config::Value| matches!(v.kind, ValueKind::String(_) | ValueKind::Nil);
    for key in TEXT {
        if let Some(value) = written(key).filter(|v| !is_text(v)) {
            anyhow::bail!("{key} must be text, in quotes (it is {value})");
        }
    }
    if let Some(tokens) = written("auth.api_tokens") {
        let all_text = match tokens.kind {
            ValueKind::Array(ref tokens) => tokens.iter().all(is_text),
            ValueKind::Nil => true,
            _ => false,
        };
        if !all_text {
            anyhow::bail!("auth.api_tokens must be a list of texts, each in quotes");
        }
    }
    Ok(())
}

/// Refuses a number with a fraction (or not a number) where a whole one is asked for.
pub(crate) fn whole_numbers(built: &Config) -> anyhow::Result<()> {
    for (key, max) in WHOLE {
        // As written in the environment: the reader takes `+5` and `-0` for numbers,
        // and a number past its range for a float (which it would quote rounded).
        if let Ok(raw) = std::env::var(variable(key)) {
            if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("{key} must be a whole number, digits only (it is {raw:?})");
            }
            if raw.parse::<u64>().map_or(true, |n| n > max) {
                anyhow::bail!("{key} must be at most {max} (it is {raw})");
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

/// `log.level` as the filter reads it: its directives without the spaces around them
/// (the filter reads `info ` as a target named "info ", silencing every line), each
/// one a filter; a bare word must be a level (`warn`, `3`): the filter reads any other
/// as a target's name, and a misspelt `verbose` silenced every log line, warnings
/// included.
pub(crate) fn log_filter(level: &str) -> anyhow::Result<String> {
    let directives: Vec<&str> = level
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if directives.is_empty() {
        anyhow::bail!("log.level is empty: write a level (such as `info`) or target=level");
    }
    let filter = directives.join(",");
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&filter) {
        anyhow::bail!("log.level `{level}` is not a log filter: {e}");
    }
    let no_level = |d: &&str| {
        !d.contains('=')
            && d.parse::<tracing_subscriber::filter::LevelFilter>()
                .is_err()
    };
    if let Some(word) = directives.iter().copied().find(no_level) {
        anyhow::bail!(
            "log.level `{word}` names no level: write a level (trace, debug, info, warn, \
             error, off), or target=level"
        );
    }
    Ok(filter)
}

/// Every value's own rule.
pub(crate) fn values(settings: &Settings) -> anyhow::Result<()> {
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
        ("server.max_connections", settings.server.max_connections),
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
    if postgres && !names_a_database(settings.storage.url.expose()) {
        anyhow::bail!(
            "storage.url {} names no database: add one, as in postgres://user@host/ledger \
             (PostgreSQL would take the user's own database, and `ledger migrate` would make a \
             ledger there)",
            crate::settings::redacted(settings.storage.url.expose())
        );
    }
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
    // refuse every request made with it. (An empty one is none: admin is off; API
    // tokens are trimmed, and empty entries between commas ignored.)
    let unsendable = |t: &str| t.chars().any(|c| c.is_whitespace() || c.is_control());
    if let Some(token) = &settings.auth.admin_token {
        if unsendable(token.expose()) {
            anyhow::bail!("auth.admin_token must not hold spaces or control characters");
        }
    }
    if settings
        .auth
        .api_tokens
        .iter()
        .any(|t| unsendable(t.expose().trim()))
    {
        anyhow::bail!(
            "auth.api_tokens must not hold spaces or control characters (commas part them)"
        );
    }
    // Entries given, none a token (`" , "`): the API would be open, as with none.
    let tokens = &settings.auth.api_tokens;
    if !tokens.is_empty() && tokens.iter().all(|t| t.expose().trim().is_empty()) {
        anyhow::bail!(
            "auth.api_tokens lists no token, only empty entries: write the tokens, or leave \
             it unset for an open API"
        );
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

/// An admin token shorter than this is warned about at start.
const STRONG_ADMIN_TOKEN: usize = 32;

/// What the settings allow but an operator should hear of, logged as warnings when the
/// service starts.
pub(crate) fn cautions(settings: &Settings) -> Vec<String> {
    let mut said = Vec::new();
    let token = settings.auth.admin_token.as_ref().map(|t| t.expose());
    if let Some(n) = token
        .map(|t| t.chars().count())
        .filter(|n| (1..STRONG_ADMIN_TOKEN).contains(n))
    {
        // Besides opening /admin, it keys the secrets of API keys made under an
        // Idempotency-Key: whoever reads the database (or a backup) can test guesses
        // of a short token against a stored secret's hash, offline.
        said.push(format!(
            "auth.admin_token has {n} characters: use at least {STRONG_ADMIN_TOKEN} random ones \
             (it also keys replayable API-key secrets, which a reader of the database could \
             otherwise guess offline)"
        ));
    }
    // `LEDGER_AUTH__API_TOKENS` (one underscore) is no setting: the API stayed open.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let settings_like = name.starts_with("LEDGER_") && name.contains("__");
        if settings_like && !name.starts_with("LEDGER__") {
            said.push(format!(
                "{name} is not read: a setting's variable starts with LEDGER__ (two \
                 underscores), as in LEDGER__AUTH__API_TOKENS"
            ));
        }
    }
    said
}

/// Whether a PostgreSQL URL names its database: a path after the host
/// (`postgres://host/ledger`), a `dbname` parameter, or `PGDATABASE` in the environment.
fn names_a_database(url: &str) -> bool {
    if std::env::var("PGDATABASE").is_ok_and(|d| !d.is_empty()) {
        return true;
    }
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = address.split_once('/').map_or("", |(_, path)| path);
    !path.is_empty()
        || query
            .split('&')
            .any(|p| p.starts_with("dbname=") && p.len() > 7)
}
