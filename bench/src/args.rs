//! `ledger-bench`'s command line.

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Benchmarks the ledger: HTTP scenarios, the database floor, replay and rebuild")]
pub(crate) struct Args {
    /// Seconds per HTTP scenario.
    #[arg(long, default_value_t = 10)]
    pub(crate) seconds: u64,
    /// Concurrent HTTP clients (and floor connections).
    #[arg(long, default_value_t = 32)]
    pub(crate) clients: usize,
    /// Rounds of the spread (each after its own floor measurement) and of the single
    /// client on short and on long streams (alternating).
    #[arg(long, default_value_t = 3)]
    pub(crate) rounds: usize,
    /// Events in the long stream.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) long_stream: usize,
    /// Events to rebuild the projections over.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) rebuild_events: usize,
    /// The `ledger` binary (default: target/release/ledger).
    #[arg(long)]
    pub(crate) binary: Option<PathBuf>,
    /// Runs only the rebuild measurement (for working on it; the targets are taken
    /// from full runs).
    #[arg(long)]
    pub(crate) only_rebuild: bool,
    /// Events written before the feed measurements (the relay catches up with them).
    #[arg(long, default_value_t = 200_000)]
    pub(crate) feed_events: usize,
    /// Runs only the feed measurements (relay, SSE latency, idle subscribers).
    #[arg(long)]
    pub(crate) only_feed: bool,
    /// Runs only the console measurement: the chart of an account with 10,000 events in
    /// headless Chromium, and the first load's size.
    #[arg(long)]
    pub(crate) only_console: bool,
    /// Runs only the embedded default (SQLite) against its floor.
    #[arg(long)]
    pub(crate) only_sqlite: bool,
    /// Runs only the tamper-evidence measurements: the spread with hashing against
    /// `--baseline` (when given), and `ledger verify` over `--verify-events`.
    #[arg(long)]
    pub(crate) only_integrity: bool,
    /// A `ledger` binary without hashing, for the A/B of `--only-integrity`.
    #[arg(long)]
    pub(crate) baseline: Option<PathBuf>,
    /// Bytes added to each row the baseline writes (a control for row width).
    #[arg(long, default_value_t = 0)]
    pub(crate) pad_baseline: usize,
    /// Runs only issues 16 and 17's scenarios: the floor, the spread, the reserve +
    /// post pairs and the batches.
    #[arg(long)]
    pub(crate) only_writes: bool,
    /// Runs only the single client on the directly written long stream against fresh
    /// accounts (`--long-stream` events).
    #[arg(long)]
    pub(crate) only_long: bool,
    /// Runs only the access measurement: the spread with an owner key per client
    /// against the same spread with the API open.
    #[arg(long)]
    pub(crate) only_access: bool,
    /// Runs only the cold-load measurement: the first command after a restart on long
    /// accounts against fresh ones.
    #[arg(long)]
    pub(crate) only_cold: bool,
    /// Long (and fresh) accounts of `--only-cold`.
    #[arg(long, default_value_t = 9)]
    pub(crate) cold_accounts: usize,
    /// Events in each long account of `--only-cold`.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) cold_events: usize,
    /// Events `ledger verify` reads in `--only-integrity` (0: none).
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) verify_events: usize,
    /// Runs only the scale measurement: the service at growing sizes of the store.
    #[arg(long)]
    pub(crate) only_scale: bool,
    /// The sizes (events in the store) `--only-scale` measures at, in order.
    #[arg(long, value_delimiter = ',', default_value = "0,1000000,10000000")]
    pub(crate) scale_marks: Vec<u64>,
    /// Where `--only-scale` draws its curve (PNG).
    #[arg(long)]
    pub(crate) plot: Option<PathBuf>,
}

impl Args {
    /// The `ledger` binary to start: `--binary`, or the one beside this executable.
    pub(crate) fn ledger_binary(&self) -> PathBuf {
        self.binary.clone().unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap_or_default();
            exe.parent().map(|d| d.join("ledger")).unwrap_or_default()
        })
    }
}
