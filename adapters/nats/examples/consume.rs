//! A consumer of the relayed feed: prints every event of the JetStream stream, oldest
//! first, then new ones as they arrive.
//!
//! `cargo run -q -p ledger-nats --example consume -- [URL] [STREAM] [COUNT]`
//! (defaults `nats://127.0.0.1:4222`, `LEDGER`, no limit): one line per event with its
//! subject, `Ledger-Cursor` and JSON. An ordered consumer: no acknowledgements, no
//! state left on the server. A consumer that must survive restarts keeps the last
//! `Ledger-Cursor` (or stream sequence) it processed and starts after it.

use async_nats::jetstream::{self, consumer::pull::OrderedConfig, consumer::DeliverPolicy};
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let stream = args.next().unwrap_or_else(|| "LEDGER".into());
    let count: Option<usize> = args.next().map(|n| n.parse()).transpose()?;
    let js = jetstream::new(async_nats::connect(url.as_str()).await?);
    let consumer = js
        .get_stream(&stream)
        .await?
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    let mut seen = 0;
    while count.is_none_or(|c| seen < c) {
        let Some(message) = messages.next().await else {
            break;
        };
        let message = message?;
        let cursor = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Ledger-Cursor"))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        println!(
            "{} {cursor} {}",
            message.subject,
            String::from_utf8_lossy(&message.payload)
        );
        seen += 1;
    }
    Ok(())
}
