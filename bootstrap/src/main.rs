//! The `ledger` command line: `serve` (default), `migrate`, `relay`,
//! `projections rebuild|status`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use ledger_application::ports::readmodel::{Projection, PROJECTIONS};
use ledger_bootstrap::{core, init_tracing, relay_until_stopped, Application, Settings};

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
    Relay,
    /// Read-model maintenance.
    Projections {
        #[command(subcommand)]
        action: ProjectionsCommand,
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
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    init_tracing(&settings);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Relay => relay_until_stopped(settings).await,
        Command::Migrate => {
            core(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Projections {
            action: ProjectionsCommand::Status,
        } => {
            let core = core(&settings).await?;
            for r in core.runner.reports().await? {
                println!(
                    "{:<14} {:<10} position {:<10} lag {:<8} {}",
                    r.status.name,
                    r.status.state.as_str(),
                    r.status.position.position,
                    r.lag_events,
                    r.status.last_error.unwrap_or_default()
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
                        "unknown projection {n}; one of {:?}",
                        PROJECTIONS.map(|p| p.as_str())
                    ),
                },
            };
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
            let applied = core.runner.rebuild_many(&names, &progress).await?;
            // The bar shows only on a terminal; the summary is printed everywhere.
            bar.finish_and_clear();
            println!(
                "rebuilt {}: done, {applied} events in {:.1} s",
                listed,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}
