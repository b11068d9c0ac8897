//! Wiring of the `ledger` binary: settings, adapters, use cases, HTTP, projectors.
//! `main` only parses the command line and calls in here.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod access;
pub mod expirer;
pub mod integrity;
pub mod linger;
mod process;
pub mod projectors;
pub mod relay;
pub mod serve;
pub mod settings;
mod settings_checks;
mod settings_file;
pub mod stores;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ledger_application::feed::FeedReader;
use ledger_application::feed_hub::FeedHub;
use ledger_application::ports::store::EventStore;
use ledger_application::ports::system::Spawner;
use ledger_application::ports::system::{Clock, SystemClock, UuidV7Ids};
use ledger_application::projection::ProjectionRunner;
use ledger_application::queries::QueryService;
use ledger_application::repository::Repository;
use ledger_application::CommandService;
use ledger_http::metrics::Metrics;
use ledger_http::timed_store::TimedEventStore;
use ledger_http::AppState;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

pub use process::{init_tracing, shutdown_signal};
pub use relay::relay_until_stopped;
pub use settings::Settings;

/// Pages of the feed (each one read, at most 500 events) a live subscriber may fall
/// behind before it is cut off.
const FEED_BUFFER: usize = 64;

/// The application with its adapters open and its port bound.
pub struct Application {
    listener: TcpListener,
    port: u16,
    /// How long a request's head may take to arrive, and a write may wait.
    limits: serve::Limits,
    state: Arc<AppState>,
    pg_pool: Option<sqlx::PgPool>,
    /// Closes the stores after the last request and task.
    closer: stores::Closer,
    projections: bool,
    expirer: Arc<ledger_application::expirer::Expirer>,
    /// The sealer and its interval in seconds, when a signing key is set.
    sealer: Option<(Arc<ledger_application::seal::Sealer>, u64)>,
}

/// The live feed's reader: events rendered as the API shows them.
pub fn feed_reader(store: Arc<dyn EventStore>) -> FeedReader {
    FeedReader::new(store, Arc::new(ledger_http::dto::render_event))
}

/// The services built on the stores, for the CLI's non-serving commands too.
pub struct Core {
    /// The projection runner.
    pub runner: Arc<ProjectionRunner>,
    /// The opened stores.
    pub stores: stores::Stores,
}

/// Background tasks on the Tokio runtime.
fn tokio_spawner() -> Arc<dyn Spawner> {
    Arc::new(|task| {
        tokio::spawn(task);
    })
}

/// Opens the stores and builds the projection runner.
pub async fn core(settings: &Settings) -> anyhow::Result<Core> {
    core_of(stores::open_announced(settings).await?)
}

/// [`core`] over the stores as they are (no migration, no backfill): for the commands
/// that only read (`projections status`), which must not upgrade a schema under the
/// older instances still running on it.
pub async fn core_unchanged(settings: &Settings) -> anyhow::Result<Core> {
    core_of(stores::open_unchanged(settings).await?)
}

fn core_of(stores: stores::Stores) -> anyhow::Result<Core> {
    let runner = Arc::new(
        ProjectionRunner::new(stores.events.clone(), stores.projections.clone(), 500)
            .with_spawner(tokio_spawner()),
    );
    Ok(Core { runner, stores })
}

impl Application {
    /// Opens the stores (migrating them), wires everything and binds the address.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with the clock commands and the expirer read (a test
    /// drives expiries with a `ManualClock`); seals and leases keep the system's time.
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        // What the settings can be wrong about is said before a store is opened (or
        // made, at a mistyped path): the signing key, and the address, bound now (taken,
        // but not listening until the stores are open: until then a client is refused,
        // rather than left waiting on a service that cannot answer yet).
        let signing_key = integrity::signing_key(&settings.integrity)?;
        for caution in settings_checks::cautions(&settings) {
            tracing::warn!("{caution}");
        }
        let socket = serve::bind(&settings.server.address)
            .with_context(|| format!("cannot listen on {}", settings.server.address))?;
        let Core { runner, stores } = core(&settings).await?;
        stores::warm_up(&stores).await;
        let spawner = tokio_spawner();
        let metrics = Arc::new(Metrics::default());
        // Commands append through this one: their latency lands in the metrics.
        let timed: Arc<dyn EventStore> =
            Arc::new(TimedEventStore::new(stores.events.clone(), metrics.clone()));
        // Snapshots are sealed with a secret every instance on the store shares.
        let snapshot_key = ledger_application::repository::snapshot_secret(stores.events.as_ref())
            .await
            .context("reading the snapshots' secret from the event store")?;
        let repo = Arc::new(
            Repository::new(
                timed.clone(),
                stores.snapshots.clone(),
                settings.snapshots.every,
            )
            .with_cache(settings.snapshots.cache_capacity)
            .with_spawner(spawner.clone())
            .with_snapshot_key(snapshot_key),
        );
        let commands = Arc::new(CommandService::new(
            timed,
            repo.clone(),
            clock.clone(),
            Arc::new(UuidV7Ids),
            spawner.clone(),
            // Conflicts in a row before a 409 (the waits between them add up to about
            // 0.2-0.4 s): enough for two instances' hot accounts.
            20,
        ));
        let expirer = Arc::new(ledger_application::expirer::Expirer::new(
            commands.clone(),
            stores.read.clone(),
            clock,
        ));
        let queries = Arc::new(QueryService::new(
            stores.events.clone(),
            repo.clone(),
            stores.read.clone(),
        ));
        let access = access::tokens(&settings.auth);
        let keys = access::api_keys(&stores, spawner.clone());
        access::say_if_open(&access, &keys).await;
        let wake = Arc::new(Notify::new());
        let reader = feed_reader(stores.events.clone());
        let relay = relay::build(
            &settings.relay.nats,
            reader.clone(),
            stores.projections.clone(),
        )
        .await?;
        let public_key = match &signing_key {
            Some(key) => Some(integrity::public_key_pem(&key.verifying_key())?),
            None => None,
        };
        let sealer = signing_key.map(|key| integrity::sealer(key, &stores));
        let live_streams = ledger_http::live_streams::LiveStreams::new(
            settings.server.max_live_streams,
            settings.server.max_live_streams_per_key,
            &metrics,
        );
        let state = Arc::new(AppState {
            commands,
            queries,
            runner,
            store: stores.events.clone(),
            snapshots: stores.snapshots.clone(),
            metrics,
            load_stats: repo.stats(),
            access,
            request_timeout: Duration::from_millis(settings.server.request_timeout_ms),
            require_idempotency_key: settings.server.require_idempotency_key,
            feed: FeedHub::new(reader, wake.clone(), FEED_BUFFER),
            live_streams,
            wake,
            relay,
            public_key,
            keys,
            limiter: ledger_http::auth::rate_limiter(settings.auth.rate_limit_per_second),
            latest_seal: Default::default(),
        });
        let listener = socket
            .listen(1024)
            .with_context(|| format!("cannot listen on {}", settings.server.address))?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            port,
            limits: serve::Limits {
                head: Duration::from_millis(settings.server.header_read_timeout_ms),
                write: Duration::from_millis(settings.server.write_timeout_ms),
                connections: serve::connections_for(&settings),
            },
            state,
            closer: stores.closer(),
            pg_pool: stores.pg_pool,
            projections: settings.projections.enabled,
            expirer,
            sealer: sealer.map(|s| (s, settings.integrity.seal_interval_seconds)),
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The expirer `serve` runs about once a second (a test may run a step at once).
    pub fn expirer(&self) -> Arc<ledger_application::expirer::Expirer> {
        self.expirer.clone()
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes: then stops accepting, finishes in-flight
    /// requests, and stops the projectors between batches (checkpoints stay consistent).
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = vec![expirer::spawn(
            self.expirer.clone(),
            self.state.runner.target().clone(),
            stop_rx.clone(),
        )];
        if self.projections {
            tasks.extend(projectors::spawn(
                self.state.runner.clone(),
                self.state.wake.clone(),
                stop_rx.clone(),
            ));
        } else {
            tracing::info!("projections.enabled is false: this instance runs no projector");
        }
        if let Some(pool) = self.pg_pool.clone() {
            // Other instances' commits wake the projectors, the live feed and the relay.
            tasks.push(ledger_postgres::notify::listen(
                pool,
                self.state.wake.clone(),
                stop_rx.clone(),
            ));
        }
        if let Some(relay) = self.state.relay.clone() {
            tasks.push(relay::spawn(
                relay,
                self.state.runner.target().clone(),
                self.state.wake.clone(),
                stop_rx.clone(),
            ));
        }
        if let Some((sealer, every)) = self.sealer.clone() {
            tasks.push(integrity::spawn(
                sealer,
                self.state.runner.target().clone(),
                Duration::from_secs(every),
                stop_rx.clone(),
            ));
        }
        tasks.push(tokio::spawn(self.state.feed.clone().run()));
        // Live subscriptions end (with a closing comment) when the signal comes, so
        // the graceful shutdown is not held open by them.
        let feed = self.state.feed.clone();
        let signal = async move {
            signal.await;
            feed.close();
        };
        let address = self.listener.local_addr().map(|a| a.to_string());
        let address = address.unwrap_or_else(|e| format!("unknown ({e})"));
        tracing::info!(%address, port = self.port, "ledger listening");
        let router = ledger_http::router(self.state.clone());
        serve::serve(self.listener, router, self.limits, signal).await;
        let _ = stop_tx.send(true);
        // The background loops end together, within one bound (one after another, each
        // with its own, a stalled database once made a shutdown take 40 s).
        let ended = futures_util::future::join_all(tasks);
        if tokio::time::timeout(Duration::from_secs(10), ended)
            .await
            .is_err()
        {
            tracing::warn!("background tasks still running 10 s after the shutdown began");
        }
        if tokio::time::timeout(Duration::from_secs(10), self.closer.close())
            .await
            .is_err()
        {
            tracing::warn!("the stores did not close within 10 s");
        }
        tracing::info!("ledger stopped");
        Ok(())
    }
}
