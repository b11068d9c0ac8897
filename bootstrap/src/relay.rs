//! The relay loop: inside `serve` when `relay.nats.url` is set, or alone as
//! `ledger relay`. One instance relays at a time (the `relay` lease); the others stand
//! by and take over when it dies. Woken by commits; NATS trouble backs off, never
//! touching the command path.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ledger_application::feed::FeedReader;
use ledger_application::ports::readmodel::{Lease, ProjectionStore};
use ledger_application::ports::store::FeedCursor;
use ledger_application::relay::{Relay, RelayError};
use ledger_nats::{JetStreamSink, NatsTarget};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::projectors::{back_off, no_answer, STEP_DEADLINE};
use crate::settings::{Nats, Settings};
use crate::{core, feed_reader, shutdown_signal, stores, Core};

/// Events per page published (pipelined) before the checkpoint moves.
const BATCH: usize = 2_000;
const POLL: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The relay the settings ask for, if any.
pub async fn build(
    nats: &Nats,
    reader: FeedReader,
    checkpoints: Arc<dyn ProjectionStore>,
) -> anyhow::Result<Option<Arc<Relay>>> {
    let Some(url) = nats.url.clone().filter(|u| !u.trim().is_empty()) else {
        return Ok(None);
    };
    let shown = crate::settings::redacted(&url);
    let sink = JetStreamSink::connect(NatsTarget {
        url,
        stream: nats.stream.clone(),
        subject_prefix: nats.subject_prefix.clone(),
    })
    .await
    .map_err(anyhow::Error::msg)
    .with_context(|| format!("starting the NATS relay (relay.nats.url {shown})"))?;
    Ok(Some(Arc::new(Relay::new(
        reader,
        checkpoints,
        Arc::new(sink),
        BATCH,
    ))))
}

/// Runs the relay until `stop` turns true.
pub fn spawn(
    relay: Arc<Relay>,
    leases: Arc<dyn ProjectionStore>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = POLL;
        while !*stop.borrow() {
            // Listening before the step: a commit during it wakes the pause after it.
            let woken = wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match leases.try_lead(Lease::Relay).await {
                Ok(true) => {}
                Ok(false) => {
                    back_off(&mut stop, Duration::from_secs(2)).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot take the relay lease; retrying");
                    back_off(&mut stop, Duration::from_secs(1)).await;
                    continue;
                }
            }
            let step = tokio::time::timeout(STEP_DEADLINE, relay.step()).await;
            match step.unwrap_or_else(|_| Err(RelayError::Store(no_answer()))) {
                // A full page: more is waiting.
                Ok(n) if n >= relay.batch() => backoff = POLL,
                Ok(_) => {
                    backoff = POLL;
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep(POLL) => {}
                        _ = stop.changed() => {}
                    }
                }
                Err(RelayError::Overtaken) => {
                    tracing::info!(
                        "the relay's checkpoint moved under this step (another instance \
                         relays now, or a rewind); standing by"
                    );
                    back_off(&mut stop, Duration::from_secs(2)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "relay step failed; retrying");
                    back_off(&mut stop, backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    })
}

/// `ledger relay`: only the relay, until SIGINT or SIGTERM.
pub async fn relay_until_stopped(settings: Settings) -> anyhow::Result<()> {
    stores::require_ledger(&settings).await?;
    let Core { runner, stores } = core(&settings).await?;
    let reader = feed_reader(stores.events.clone());
    let Some(relay) = build(&settings.relay.nats, reader, stores.projections.clone()).await? else {
        anyhow::bail!("set relay.nats.url (LEDGER__RELAY__NATS__URL) to relay the feed to NATS");
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let mut tasks = vec![spawn(
        relay,
        runner.target().clone(),
        wake.clone(),
        stop_rx.clone(),
    )];
    if let Some(pool) = stores.pg_pool.clone() {
        tasks.push(ledger_postgres::notify::listen(pool, wake, stop_rx));
    }
    tracing::info!(stream = %settings.relay.nats.stream, "relaying the feed to NATS JetStream");
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    stores.closer().close().await;
    Ok(())
}

/// `ledger relay rewind --after <start|cursor>`: moves the relay's checkpoint back to
/// `after`, so that the relay (running or not) publishes every event after it again
/// (a stream that lost its messages is refilled). Returns what it did, to print.
pub async fn rewind(settings: &Settings, after: &str) -> anyhow::Result<String> {
    let to = match after.trim() {
        "start" => FeedCursor::START,
        cursor => cursor.parse().map_err(|()| {
            anyhow::anyhow!(
                "--after takes `start` or a Ledger-Cursor as the relay's messages carry it \
                 (`<tx>-<position>`), not {cursor:?}"
            )
        })?,
    };
    stores::require_ledger(settings).await?;
    let Core { stores, .. } = core(settings).await?;
    let (checkpoints, events) = (stores.projections.as_ref(), stores.events.as_ref());
    let moved = ledger_application::relay::rewind(checkpoints, events, to).await;
    let again = match &moved {
        Ok(from) if *from != to => stores.events.lag_after(to).await.ok(),
        _ => None,
    };
    stores.closer().close().await;
    let from = moved?;
    if from == to {
        return Ok(format!(
            "the relay's checkpoint is already at {to}: nothing moved"
        ));
    }
    let again = match again {
        Some(1) => "about 1 event".to_owned(),
        Some(n) => format!("about {n} events"),
        None => "the events".to_owned(),
    };
    Ok(format!(
        "relay checkpoint moved back from {from} to {to}: the relay publishes {again} \
         after it again (JetStream drops a re-sent event whose id it saw within its \
         duplicate window, 10 minutes on a stream the relay made, even in a purged \
         stream: refill a deleted stream, not a purged one)"
    ))
}
