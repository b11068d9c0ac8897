//! The event relay's sink on NATS JetStream (`async-nats`).
//!
//! Each event goes to `<prefix>.<stream type>.<stream id>` (the id encoded by
//! [`subject_token`]) with `Nats-Msg-Id: <event id>`, so JetStream drops a re-sent
//! event inside its duplicate window, and `Ledger-Cursor: <feed cursor>`. A page is
//! published pipelined (every message sent, then the acknowledgements awaited in order)
//! and chained: each message after a page's first carries
//! `Nats-Expected-Last-Msg-Id: <previous event id>`, so a message lost in a reconnect
//! makes the ones after it fail instead of being stored ahead of it. The stream's order
//! is therefore the feed's order.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt::Write as _;
use std::time::Duration;

use async_nats::jetstream::stream::RawMessageErrorKind;
use async_nats::jetstream::{self, context::ContextBuilder, message::PublishMessage};
use async_trait::async_trait;
use bytes::Bytes;
use ledger_application::feed::FeedItem;
use ledger_application::ports::relay::{LastMessage, Published, RelaySink};
use ledger_application::ports::store::FeedCursor;
use tokio::sync::Mutex;

/// Where and how to relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsTarget {
    /// `nats://host:port`.
    pub url: String,
    /// The JetStream stream (created when absent, subjects `<prefix>.>`).
    pub stream: String,
    /// The subjects' first tokens.
    pub subject_prefix: String,
}

/// JetStream's duplicate window on a stream the relay creates: a re-sent event is
/// dropped when its first copy is younger than this.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

/// A name JetStream takes for a stream (as its documentation gives the rule).
fn valid_stream_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && !name.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\')
        })
}

/// Refuses a stream name JetStream would refuse and a subject prefix that is not a
/// NATS subject (checked before anything is opened: the settings are wrong).
pub fn check_names(stream: &str, subject_prefix: &str) -> Result<(), String> {
    if !subject_prefix.split('.').all(valid_token) {
        return Err(format!(
            "relay.nats.subject_prefix {subject_prefix:?} is not a NATS subject: dot-separated tokens without spaces, `*` or `>`"
        ));
    }
    if !valid_stream_name(stream) {
        return Err(format!(
            "relay.nats.stream {stream:?} is not a JetStream stream name: 1 to 255 characters \
             without spaces, `.`, `*`, `>`, `/`, `\\` or control characters"
        ));
    }
    Ok(())
}

/// Refuses a URL the NATS client would refuse (another scheme, no host), its text not
/// repeated: it may hold a token or a password.
pub fn check_url(url: &str) -> Result<(), String> {
    credentials(url).map(drop)
}

/// The client's options with the credentials the URL carries: `nats://user:password@host`
/// or `nats://token@host` (percent-encoded, as in any URL). The client itself sends
/// none of them (black-box testing found a secured server refusing every login).
fn credentials(url: &str) -> Result<async_nats::ConnectOptions, String> {
    let addr = url.parse::<async_nats::ServerAddr>().map_err(|e| {
        format!("relay.nats.url is not a NATS server's address (nats://host:port): {e}")
    })?;
    let decoded = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "relay.nats.url's credentials are not UTF-8 once decoded".to_owned())
    };
    Ok(match (addr.username(), addr.password()) {
        (Some(user), Some(password)) => {
            async_nats::ConnectOptions::with_user_and_password(decoded(user)?, decoded(password)?)
        }
        (Some(token), None) => async_nats::ConnectOptions::with_token(decoded(token)?),
        _ => async_nats::ConnectOptions::new(),
    })
}

/// Publishes feed pages to a JetStream stream.
pub struct JetStreamSink {
    context: jetstream::Context,
    /// The client under `context`, asked whether it is connected when a request fails.
    client: async_nats::Client,
    target: NatsTarget,
    stream_ready: Mutex<bool>,
    /// The cursor and event id of the last message acknowledged, which the next page's
    /// first message expects when that page follows it (`None` after a start or a
    /// failure).
    last_acknowledged: Mutex<Option<(FeedCursor, String)>>,
}

impl JetStreamSink {
    /// A sink on `target`. Never fails for NATS being down: the client connects (and
    /// reconnects) in the background, and publishes fail until it is up.
    pub async fn connect(target: NatsTarget) -> Result<Self, String> {
        check_names(&target.stream, &target.subject_prefix)?;
        let client = credentials(&target.url)?
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            // A connection whose answers stopped (a black-holed path) is found dead
            // after two unanswered pings: with the client's default of a minute each,
            // the relay stood still for three minutes.
            .ping_interval(Duration::from_secs(5))
            .max_reconnects(None)
            .connect(target.url.as_str())
            .await
            // The URL is not repeated: it may carry a password (the caller names it
            // with the password hidden).
            .map_err(|e| format!("cannot connect: {e}"))?;
        let context = ContextBuilder::new()
            .timeout(Duration::from_secs(5))
            .max_ack_inflight(20_000)
            .backpressure_on_inflight(true)
            .build(client.clone());
        Ok(Self {
            context,
            client,
            target,
            stream_ready: Mutex::new(false),
            last_acknowledged: Mutex::new(None),
        })
    }

    async fn ensure_stream(&self) -> Result<(), String> {
        let mut ready = self.stream_ready.lock().await;
        if *ready {
            return Ok(());
        }
        let config = jetstream::stream::Config {
            name: self.target.stream.clone(),
            subjects: vec![format!("{}.>", self.target.subject_prefix)],
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        };
        self.context
            .get_or_create_stream(config)
            .await
            .map_err(|e| self.failed(format!("JetStream stream {}: {e}", self.target.stream)))?;
        *ready = true;
        Ok(())
    }

    /// A failed request's error, saying first when the client is not connected: a
    /// refused or unreachable server otherwise read "jetstream request timed out".
    fn failed(&self, error: String) -> String {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => error,
            state => format!(
                "not connected to NATS ({state}; the client keeps reconnecting, and its \
                 log says why it cannot): {error}"
            ),
        }
    }

    /// The stream's newest message, if it holds any (looked up afresh: it may have
    /// been replaced since; the lookup brings the stream's state).
    async fn newest(&self) -> Result<Option<LastMessage>, String> {
        let name = &self.target.stream;
        let failed = |e: String| self.failed(format!("JetStream stream {name}: {e}"));
        let stream = self
            .context
            .get_stream(name)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let state = &stream.cached_info().state;
        if state.messages == 0 {
            return Ok(None);
        }
        let m = match stream.get_raw_message(state.last_sequence).await {
            Ok(m) => m,
            // Removed on its own by an operator: nothing to compare.
            Err(e) if matches!(e.kind(), RawMessageErrorKind::NoMessageFound) => return Ok(None),
            Err(e) => return Err(failed(e.to_string())),
        };
        let header = |name: &str| m.headers.get(name).map(|v| v.to_string());
        Ok(Some(LastMessage {
            cursor: header("Ledger-Cursor"),
            event_id: header("Nats-Msg-Id"),
        }))
    }

    fn message(item: &FeedItem, previous: Option<String>) -> PublishMessage {
        let mut m = PublishMessage::build()
            .payload(Bytes::from(item.text.clone()))
            .message_id(item.event_id.to_string())
            .header("Ledger-Cursor", item.cursor.to_string().as_str());
        if let Some(p) = previous {
            m = m.expected_last_message_id(p);
        }
        m
    }
}

#[async_trait]
impl RelaySink for JetStreamSink {
    async fn publish(&self, after: FeedCursor, items: &[FeedItem]) -> Published {
        if let Err(error) = self.ensure_stream().await {
            return Published {
                acknowledged: 0,
                error: Some(error),
            };
        }
        let mut chained = self.last_acknowledged.lock().await;
        let mut error = None;
        let mut pending = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let previous = match i.checked_sub(1) {
                Some(p) => Some(items[p].event_id.to_string()),
                // Only right after the last acknowledged event (not after a rewind, or
                // a checkpoint another relay moved).
                None => chained
                    .as_ref()
                    .filter(|(cursor, _)| *cursor == after)
                    .map(|(_, id)| id.clone()),
            };
            let subject = subject(&self.target.subject_prefix, item);
            match self
                .context
                .send_publish(subject, Self::message(item, previous))
                .await
            {
                Ok(ack) => pending.push(ack),
                Err(e) => {
                    error = Some(self.failed(format!("publish to NATS: {e}")));
                    break;
                }
            }
        }
        let mut acknowledged = 0;
        for ack in pending {
            match ack.await {
                Ok(_) => acknowledged += 1,
                Err(e) => {
                    error = Some(self.failed(format!("JetStream acknowledgement: {e}")));
                    break;
                }
            }
        }
        if error.is_some() {
            // The stream may have been deleted: look it up again next time, and start
            // the chain afresh (a message of this page may or may not be stored).
            *self.stream_ready.lock().await = false;
            *chained = None;
        } else if let Some(last) = items.last() {
            *chained = Some((last.cursor, last.event_id.to_string()));
        }
        Published {
            acknowledged,
            error,
        }
    }

    async fn last_message(&self) -> Result<Option<LastMessage>, String> {
        self.ensure_stream().await?;
        let newest = self.newest().await;
        if newest.is_err() {
            // The stream may have been deleted: look it up again next time.
            *self.stream_ready.lock().await = false;
        }
        newest
    }
}

/// The subject of an event: `<prefix>.<stream type>.<encoded stream id>`.
pub fn subject(prefix: &str, item: &FeedItem) -> String {
    format!(
        "{prefix}.{}.{}",
        subject_token(&item.stream_type),
        subject_token(&item.stream_id)
    )
}

/// A stream id as one subject token: ASCII letters, digits, `_`, `-` and `:` stay; every
/// other byte (of the UTF-8 text) becomes `~` and two upper-case hex digits, so `.`
/// (the token separator), `*`, `>`, `$` and `~` itself never appear raw:
/// `acc.1` is `acc~2E1`, `$seals` is `~24seals`.
pub fn subject_token(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "~{b:02X}");
        }
    }
    out
}

fn valid_token(t: &str) -> bool {
    !t.is_empty() && t != "*" && t != ">" && !t.chars().any(|c| c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_safe_characters_and_encode_the_rest() {
        assert_eq!(subject_token("acc-1_b:c"), "acc-1_b:c");
        assert_eq!(subject_token("acc.1"), "acc~2E1");
        assert_eq!(subject_token("$seals"), "~24seals");
        assert_eq!(subject_token("a~b*>"), "a~7Eb~2A~3E");
        assert_eq!(subject_token("é"), "~C3~A9");
    }

    #[test]
    fn prefixes_must_be_subjects() {
        assert!("ledger.events".split('.').all(valid_token));
        assert!(!"ledger..events".split('.').all(valid_token));
        assert!(!"ledger.>".split('.').all(valid_token));
        assert!(!"led ger".split('.').all(valid_token));
    }

    #[test]
    fn stream_names_are_what_jetstream_takes() {
        assert!(valid_stream_name("LEDGER") && valid_stream_name("ledger-events_2"));
        for bad in ["", "BB.X", "BB FEED", "BB*", "a>b", "a/b", "a\\b", "a\tb"] {
            assert!(!valid_stream_name(bad), "{bad:?}");
        }
        assert!(!valid_stream_name(&"x".repeat(256)));
    }
}
