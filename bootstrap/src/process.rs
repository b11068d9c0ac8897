//! What the process sets up for itself: the signals that stop it, and its logging.

use std::future::Future;

use crate::Settings;

/// SIGINT, SIGTERM or SIGHUP, listened for from this call on: one that comes while the
/// service is still starting is kept (the process no longer dies of it) and stops it
/// cleanly. SIGHUP (its terminal closed, or a supervisor's reload) killed it at once,
/// without the drain, the SQLite log left unfolded; there is nothing to reload (the
/// settings are read at start), so it stops the service as SIGTERM does, unless the
/// process was started with it ignored (`nohup`): then it stays ignored.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        let hangup = (!hangup_ignored()).then(|| signal(SignalKind::hangup()).ok());
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            hangup.flatten(),
        )
    };
    async move {
        #[cfg(unix)]
        if let (Ok(mut term), Ok(mut int), mut hup) = signals {
            let hangup = async {
                match hup.as_mut() {
                    Some(hup) => hup.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
                _ = hangup => {},
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Whether SIGHUP was ignored when the process started (`nohup`), read from Linux's
/// `/proc/self/status` (the mask of ignored signals; SIGHUP is signal 1, its lowest
/// bit). Elsewhere, or unreadable: taken as ignored, leaving SIGHUP as it was.
fn hangup_ignored() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok());
    mask.is_none_or(|m| m & 1 == 1)
}

/// Sets up logging from the settings (`log.level`, `log.format`).
pub fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // sqlx warns of a storage URL parameter it does not know with its value, which may
    // be a misspelt password: never logged, whatever the level.
    // async_nats's connector prints its options, password and token included, at the
    // debug level.
    let filter = [
        "sqlx_postgres::options::parse=off",
        "async_nats::connector=info",
    ]
    .into_iter()
    .filter_map(|d| d.parse().ok())
    .fold(filter, |f, quiet| f.add_directive(quiet));
    // Colours only on a terminal: a file or a pipe (journald, a collector) got the
    // escape codes as text.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal)
        .with_writer(std::io::stderr);
    let _ = if settings.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
