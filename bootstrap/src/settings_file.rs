//! The `--config` file as a source of settings, and the errors reading settings gives,
//! each naming the file and none printing a secret.

use std::io::Read;
use std::path::Path;

/// The most a configuration file may hold (a device such as `/dev/zero` never ends).
const MOST_BYTES: u64 = 1 << 20;

/// Keys whose values may be secrets: a value of the wrong type is not quoted in the
/// error (`api_tokens = "t1,t2"`, a string where a list is asked for, once printed
/// both tokens).
const SECRET_KEYS: [&str; 5] = [
    "auth.",
    "storage.url",
    "snapshots.url",
    "relay.nats.url",
    "integrity.signing_key",
];

/// The `--config` file: TOML whatever its name (`ledger.conf`), and that file only. A
/// regular file is read by the configuration reader (so a wrong value's error names
/// it), after this reads it once to name every failure; a device such as `/dev/null`
/// is read here (empty: no setting). A directory, a pipe or a socket is refused (a pipe
/// would wait for a writer), and so is anything past 1 MiB.
pub(crate) fn read_into(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
    path: &Path,
) -> anyhow::Result<config::ConfigBuilder<config::builder::DefaultState>> {
    use std::os::unix::fs::FileTypeExt;
    let shown = path.display();
    let said = |e: std::io::Error| anyhow::anyhow!("--config {shown}: {}", io_said(&e));
    let kind = std::fs::metadata(path).map_err(said)?.file_type();
    if kind.is_dir() {
        anyhow::bail!("--config {shown}: a directory, not a TOML file");
    }
    if kind.is_fifo() || kind.is_socket() {
        anyhow::bail!("--config {shown}: a pipe or socket, not a TOML file");
    }
    let mut text = String::new();
    let file = std::fs::File::open(path).map_err(said)?;
    file.take(MOST_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(said)?;
    if text.len() as u64 > MOST_BYTES {
        anyhow::bail!("--config {shown}: larger than 1 MiB, not a configuration");
    }
    if kind.is_file() {
        let name = path.to_string_lossy();
        let file = config::File::new(&name, config::FileFormat::Toml).required(true);
        return Ok(builder.add_source(file));
    }
    Ok(builder.add_source(config::File::from_str(&text, config::FileFormat::Toml)))
}

/// An I/O error in a few words.
fn io_said(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "cannot be read (permission denied)".into(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".into(),
        _ => e.to_string(),
    }
}

/// A file's syntax error without the line it quotes (which may hold a secret): where
/// it is and what was expected.
pub(crate) fn without_the_line(e: config::ConfigError, file: Option<&Path>) -> anyhow::Error {
    match e {
        config::ConfigError::FileParse { uri, cause } => {
            let text = cause.to_string();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let (at, what) = (
                lines.next().unwrap_or_default(),
                lines.next_back().unwrap_or_default(),
            );
            let file = uri
                .or_else(|| file.map(|f| f.display().to_string()))
                .unwrap_or_default();
            anyhow::anyhow!("{file}: {at}: {what} (the line is not shown: it may hold a secret)")
        }
        other => other.into(),
    }
}

/// A value of the wrong type, without the value when its key may hold a secret.
pub(crate) fn without_a_secret(e: config::ConfigError) -> anyhow::Error {
    let secret = |key: &str| SECRET_KEYS.iter().any(|k| key.starts_with(k));
    let (key, origin, expected) = match e {
        // What serde refused, under the key it was read for (its message quotes the
        // value: only what was expected is kept).
        config::ConfigError::At {
            error,
            origin,
            key: Some(key),
        } if secret(&key) => {
            let said = error.to_string();
            let expected = said.split_once(", expected ").map(|(_, e)| e.to_owned());
            (key, origin, expected)
        }
        config::ConfigError::Type {
            origin,
            expected,
            key: Some(key),
            ..
        } if secret(&key) => (key, origin, Some(expected.to_owned())),
        other => return other.into(),
    };
    let from = origin.map(|o| format!(" in {o}")).unwrap_or_default();
    let expected = expected
        .map(|e| format!(": expected {e}"))
        .unwrap_or_default();
    anyhow::anyhow!(
        "invalid value for key `{key}`{from}{expected} (the value is not shown: it may be \
         a secret)"
    )
}
