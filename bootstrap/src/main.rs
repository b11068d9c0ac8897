//! The `ledger` command line: `serve` (default), `migrate`, `relay [rewind]`,
//! `projections rebuild|status`, `verify`, `keys generate`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use ledger_application::ports::readmodel::{Projection, PROJECTIONS};
use ledger_bootstrap::{
    core, init_tracing, integrity, relay_until_stopped, shutdown_signal, stores, Application,
    Settings,
};

mod verify;

/// mimalloc instead of the system allocator: every request, event and feed page
/// allocates and frees small buffers on every worker thread, and glibc's malloc and
/// free took 14 % of `ledger verify`'s CPU in a profile (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ledger",
    version,
    about = "An event-sourced account ledger service"
)]
struct Cli {
    /// A TOML settings file (environment variables LEDGER__SECTION__KEY override it).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and run the projectors (the default).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Relay the event feed to NATS JetStream (relay.nats.*) until stopped, without
    /// serving HTTP.
    Relay {
        #[command(subcommand)]
        action: Option<RelayCommand>,
    },
    /// Read-model maintenance.
    Projections {
        #[command(subcommand)]
        action: ProjectionsCommand,
    },
    /// Check the ledger for tampering: versions, hash chains, seals, read models.
    /// Exits 0 when all holds, 1 naming the first finding, 2 when it cannot check.
    Verify {
        /// A PEM public key seals may be signed with (default: the one of
        /// integrity.signing_key; with neither, signatures are not checked). Give it
        /// more than once after a change of signing key: each seal must name one of
        /// them and verify with it.
        #[arg(long)]
        public_key: Vec<PathBuf>,
        /// A seal kept outside the store (the JSON of GET /admin/seals/latest, or any
        /// object with its `cursor`, `events` and `digest`): the feed up to its cursor
        /// must still give them, even if every stored seal was deleted.
        #[arg(long)]
        seal: Option<PathBuf>,
        /// Check only this stream (versions, hashes, and its account's or transfer's
        /// read-model row).
        #[arg(long)]
        stream: Option<String>,
    },
    /// Signing keys for seals.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new Ed25519 private key (PKCS#8 PEM) to a new file; print its public key.
    Generate {
        /// The file to create (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum RelayCommand {
    /// Move the relay's checkpoint back, so that the relay (running or not) publishes
    /// every event after it again: to refill a stream that lost its messages.
    Rewind {
        /// `start` (every event) or a `Ledger-Cursor` as the relay's messages carry it.
        #[arg(long)]
        after: String,
    },
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Rebuild one projection (or all) from the first event.
    Rebuild {
        /// current_state, analytics or audit_log.
        #[arg(long)]
        name: Option<String>,
    },
    /// Show each projection's state, position and lag.
    Status,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let verifying = matches!(cli.command, Some(Command::Verify { .. }));
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", causes(&e));
            // `verify` keeps 1 for "tampering found".
            ExitCode::from(if verifying { 2 } else { 1 })
        }
    }
}

/// Prints a line on standard output. A reader that has gone (`ledger verify | head`)
/// ends nothing: the exit code still says the outcome (`println!` panicked, exit 101).
pub(crate) fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The error and its causes on one line, each cause said once: a database error's own
/// text already holds its source's (`unable to open database file` came twice).
fn causes(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain().map(ToString::to_string) {
        if !line.contains(&cause) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&cause);
        }
    }
    line
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref())?;
    init_tracing(&settings);
    let command = cli.command.unwrap_or(Command::Serve);
    match command {
        Command::Verify {
            public_key,
            seal,
            stream,
        } => return verify::run(&settings, &public_key, seal.as_deref(), stream.as_deref()).await,
        Command::Keys {
            action: KeysCommand::Generate { out },
        } => {
            let public = integrity::generate(&out)?;
            say(format_args!(
                "wrote the private key to {}; its public key:\n{public}",
                out.display()
            ));
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    run_service(command, settings)
        .await
        .map(|()| ExitCode::SUCCESS)
}

async fn run_service(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Verify { .. } | Command::Keys { .. } => Ok(()),
        Command::Serve => {
            // Listened for before the stores open: a stop while the service starts is
            // clean. (Here and in a rebuild: the other commands keep the signals'
            // default, to end.)
            let mut stop = Box::pin(shutdown_signal());
            let app = tokio::select! {
                app = Application::build(settings) => app?,
                () = &mut stop => {
                    tracing::info!("stopped while starting");
                    return Ok(());
                }
            };
            app.run_until(stop).await
        }
        Command::Relay { action: None } => relay_until_stopped(settings).await,
        Command::Relay {
            action: Some(RelayCommand::Rewind { after }),
        } => {
            say(format_args!(
                "{}",
                ledger_bootstrap::relay::rewind(&settings, &after).await?
            ));
            Ok(())
        }
        Command::Migrate => {
            // Read before a store is opened, as `serve` does: a key `serve` refuses
            // must not leave a new, empty ledger behind. (The commands that never sign,
            // `verify` with a public key, `relay`, `keys generate`, do not read it.)
            ledger_bootstrap::integrity::signing_key(&settings.integrity)?;
            core(&settings).await?.stores.closer().close().await;
            say(format_args!("migrations applied"));
            Ok(())
        }
        Command::Projections {
            action: ProjectionsCommand::Status,
        } => {
            stores::require_ledger(&settings).await?;
            let core = ledger_bootstrap::core_unchanged(&settings).await?;
            let reports = core.runner.reports().await?;
            // Read after the checkpoints: the end only grows meanwhile.
            // Whole cursors: on PostgreSQL the feed is ordered by the writing
            // transaction first, so a checkpoint behind the end may hold a larger
            // position number than the end's.
            let end = core.stores.events.feed_end().await?;
            let mut ahead = Vec::new();
            for r in reports {
                let past_the_end = r.status.position > end;
                if past_the_end {
                    ahead.push(r.status.name.clone());
                }
                say(format_args!(
                    "{:<14} {:<10} position {:<10} lag {:<8} {}",
                    r.status.name,
                    r.status.state.as_str(),
                    r.status.position.position,
                    r.lag_events,
                    match past_the_end {
                        true => format!("ahead of the events, which end at {}", end.position),
                        false => r.status.last_error.unwrap_or_default(),
                    }
                ));
            }
            // Restored from different moments, or events removed: `serve` refuses to
            // start on such read models; a status saying `live`, lag 0, hid it.
            if !ahead.is_empty() {
                anyhow::bail!(
                    "{} applied events the store no longer holds (past its end, {}): \
                     run `ledger verify`, which names what differs",
                    ahead.join(", "),
                    end.position
                );
            }
            Ok(())
        }
        Command::Projections {
            action: ProjectionsCommand::Rebuild { name },
        } => {
            let names: Vec<Projection> = match &name {
                None => PROJECTIONS.to_vec(),
                Some(n) => match Projection::parse(n) {
                    Some(p) => vec![p],
                    None => anyhow::bail!(
                        "unknown projection {n}; one of {}",
                        PROJECTIONS.map(|p| p.as_str()).join(", ")
                    ),
                },
            };
            stores::require_ledger(&settings).await?;
            let core = core(&settings).await?;
            let total = core.runner.lag_of(Default::default()).await?;
            // One pass over the feed for all of them.
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} events ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let listed = names
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            bar.set_message(listed.clone());
            let progress = |done: usize| bar.set_position(done as u64);
            let started = std::time::Instant::now();
            let rebuilt = tokio::select! {
                applied = core.runner.rebuild_many(&names, &progress) => Some(applied),
                () = shutdown_signal() => None,
            };
            // The bar shows only on a terminal; the summary is printed everywhere.
            bar.finish_and_clear();
            let Some(applied) = rebuilt else {
                core.stores.closer().close().await;
                anyhow::bail!(
                    "interrupted: the rebuild of {listed} stopped before it finished, and the \
                     views are as they were; `ledger projections rebuild` starts it again"
                );
            };
            let applied = applied?;
            say(format_args!(
                "rebuilt {}: done, {applied} events in {:.1} s",
                listed,
                started.elapsed().as_secs_f64()
            ));
            core.stores.closer().close().await;
            Ok(())
        }
    }
}
