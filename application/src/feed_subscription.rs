//! One subscriber's view of the live feed: its catch-up from the store, then the hub's
//! broadcast (the hand-over is explained in `feed_hub`).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::feed::FeedItem;
use crate::feed_hub::{FeedHub, Page, PAGE, POLL};
use crate::ports::store::{FeedCursor, RecordedEvent};
use crate::queries::QueryError;

fn failed(e: QueryError) -> FeedEnd {
    FeedEnd::StoreFailed(e.to_string())
}

/// How a subscription ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEnd {
    /// It fell further behind than the buffer holds.
    TooSlow,
    /// The instance is shutting down.
    ShuttingDown,
    /// The store failed (the message is for the log).
    StoreFailed(String),
}

/// What a subscription delivers next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// An event (matching the subscription's filter).
    Event(Arc<FeedItem>),
    /// The end; nothing follows.
    End(FeedEnd),
}

/// Which events a subscription delivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedFilter {
    /// Only this stream's.
    pub stream_id: Option<String>,
    /// Only events of this type.
    pub event_type: Option<String>,
}

impl FeedFilter {
    fn matches(&self, item: &FeedItem) -> bool {
        self.stream_id.as_ref().is_none_or(|s| *s == item.stream_id)
            && self
                .event_type
                .as_ref()
                .is_none_or(|t| *t == item.event_type)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Position {
    Feed(FeedCursor),
    Stream { stream_id: String, version: u64 },
}

/// One subscriber's view of the feed: its catch-up from the store, then the broadcast.
pub struct Subscription {
    hub: Arc<FeedHub>,
    rx: broadcast::Receiver<Page>,
    head: Option<FeedCursor>,
    closed: watch::Receiver<bool>,
    filter: FeedFilter,
    position: Position,
    catching_up: bool,
    live_pages: u64,
    restarts: u32,
    pending: VecDeque<Arc<FeedItem>>,
    /// The end of the last catch-up page, passed once `pending` is delivered.
    read_to: Option<FeedCursor>,
    ended: bool,
}

/// How often a subscriber whose own catch-up outran the buffer starts it again before
/// it counts as too slow.
const MAX_RESTARTS: u32 = 3;

impl Subscription {
    pub(crate) fn new(
        hub: Arc<FeedHub>,
        rx: broadcast::Receiver<Page>,
        head: Option<FeedCursor>,
        position: Position,
        filter: FeedFilter,
    ) -> Self {
        Self {
            closed: hub.closed.subscribe(),
            hub,
            rx,
            head,
            filter,
            position,
            catching_up: true,
            live_pages: 0,
            restarts: 0,
            pending: VecDeque::new(),
            read_to: None,
            ended: false,
        }
    }

    /// The next delivery; `None` after the end.
    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            if self.ended {
                return None;
            }
            if *self.closed.borrow() {
                return Some(self.end(FeedEnd::ShuttingDown));
            }
            if let Some(item) = self.pending.pop_front() {
                if let Some(d) = self.take(item) {
                    return Some(d);
                }
                continue;
            }
            if let Position::Feed(cursor) = &mut self.position {
                // Once `pending` is delivered, the catch-up page's events it left out
                // are passed too.
                if let Some(to) = self.read_to.take() {
                    *cursor = to.max(*cursor);
                }
            }
            if self.catching_up {
                if let Err(end) = self.catch_up_page().await {
                    return Some(self.end(end));
                }
                continue;
            }
            let received = tokio::select! {
                r = self.rx.recv() => r,
                _ = self.closed.changed() => continue,
            };
            match received {
                Ok(page) => {
                    self.live_pages += 1;
                    self.pending.extend(page.iter().cloned());
                }
                Err(broadcast::error::RecvError::Lagged(_))
                    if self.live_pages == 0 && self.restarts < MAX_RESTARTS =>
                {
                    // Its own catch-up took longer than the buffer lasts: catch up again.
                    self.restarts += 1;
                    let (rx, head) = self.hub.join(self.filter.stream_id.as_deref());
                    (self.rx, self.head, self.catching_up) = (rx, head, true);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(self.end(FeedEnd::TooSlow))
                }
                Err(broadcast::error::RecvError::Closed) => {
                    let why = self.why_closed();
                    return Some(self.end(why));
                }
            }
        }
    }

    /// Why the hub closed this subscription's channel: it gave up on the store, or
    /// the server shuts down.
    fn why_closed(&self) -> FeedEnd {
        let failed = self.hub.failed.lock().unwrap_or_else(|p| p.into_inner());
        match failed.clone() {
            Some(e) if !*self.closed.borrow() => FeedEnd::StoreFailed(e),
            _ => FeedEnd::ShuttingDown,
        }
    }

    fn end(&mut self, why: FeedEnd) -> Delivery {
        self.ended = true;
        Delivery::End(why)
    }

    /// Moves past `item` when it is new to this subscriber; delivers it if it matches.
    fn take(&mut self, item: Arc<FeedItem>) -> Option<Delivery> {
        match &mut self.position {
            Position::Feed(cursor) => {
                if item.cursor <= *cursor {
                    return None;
                }
                *cursor = item.cursor;
            }
            Position::Stream { stream_id, version } => {
                if item.stream_id != *stream_id || item.version <= *version {
                    return None;
                }
                *version = item.version;
            }
        }
        self.filter.matches(&item).then_some(Delivery::Event(item))
    }

    /// One page of catch-up from the store; at a short page (once the hub has a head)
    /// the subscription goes live.
    async fn catch_up_page(&mut self) -> Result<(), FeedEnd> {
        if self.head.is_none() {
            self.head = self.wait_for_head().await?;
            return Ok(());
        }
        let _reading = tokio::select! {
            permit = self.hub.catch_up.acquire() => permit.map_err(|_| FeedEnd::ShuttingDown)?,
            _ = self.closed.changed() => return Err(FeedEnd::ShuttingDown),
        };
        self.hub.reads.fetch_add(1, Ordering::Relaxed);
        let reader = &self.hub.reader;
        let read = match &mut self.position {
            Position::Feed(after) => {
                // Only this subscriber's stream (if it has one) is decoded and rendered;
                // the cursor moves past the rest of the page.
                let stream = self.filter.stream_id.as_deref();
                let keep = |e: &RecordedEvent| stream.is_none_or(|s| s == e.stream_id);
                let (items, last, read) =
                    reader.page_of(*after, PAGE, keep).await.map_err(failed)?;
                self.pending = items.into_iter().map(Arc::new).collect();
                self.read_to = (read > 0).then_some(last);
                read
            }
            Position::Stream { stream_id, version } => {
                let items = reader
                    .stream_page(stream_id, *version, PAGE)
                    .await
                    .map_err(failed)?;
                self.pending = items.into_iter().map(Arc::new).collect();
                self.pending.len()
            }
        };
        if read < PAGE {
            self.catching_up = false;
        }
        Ok(())
    }

    async fn wait_for_head(&mut self) -> Result<Option<FeedCursor>, FeedEnd> {
        let ready = self.hub.head_ready.notified();
        tokio::pin!(ready);
        ready.as_mut().enable();
        if let Some(h) = self.hub.lock_head().head {
            return Ok(Some(h));
        }
        self.hub.kick.notify_one();
        tokio::select! {
            _ = ready => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = self.closed.changed() => return Err(FeedEnd::ShuttingDown),
        }
        // The hub gave up finding the feed's end (the store fails): it closed the
        // channel, and this subscriber ends instead of waiting on.
        if self.rx.is_closed() {
            return Err(self.why_closed());
        }
        Ok(self.hub.lock_head().head)
    }
}
