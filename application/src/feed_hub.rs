//! Live feed subscriptions: one reader per instance tails the global feed and fans its
//! pages out to every subscriber, so a thousand subscribers cost one feed read (and one
//! wake each) per page, not a query each per commit.
//!
//! Gap-free hand-over: a subscriber joins the broadcast and reads the hub's `head` (the
//! last cursor the hub has taken on) under one lock, then catches up from the store
//! until a short page: that end is at or past the head (the visible end only moves
//! forward), and everything past the head is broadcast after it joined. The hub moves
//! `head` before broadcasting, and forgets it (`None`) only while nobody listens, under
//! the same lock; on the next subscriber it starts again from the store's end.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch, Notify};

use crate::feed::{FeedItem, FeedReader};
use crate::ports::store::FeedCursor;

const PAGE: usize = 500;
const POLL: Duration = Duration::from_millis(250);
/// After a wake, commits gather this long into one read and one broadcast page.
const COALESCE: Duration = Duration::from_millis(10);

/// A page of the feed as broadcast.
type Page = Arc<Vec<Arc<FeedItem>>>;

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

/// The one feed reader of an instance and its subscribers.
pub struct FeedHub {
    reader: FeedReader,
    sender: broadcast::Sender<Page>,
    head: Mutex<Option<FeedCursor>>,
    head_ready: Notify,
    kick: Notify,
    wake: Arc<Notify>,
    closed: watch::Sender<bool>,
    reads: AtomicU64,
}

impl FeedHub {
    /// A hub reading through `reader`, woken by `wake` (commits here and elsewhere),
    /// buffering at most `buffer` pages (of at most 500 events) for a subscriber that
    /// falls behind.
    pub fn new(reader: FeedReader, wake: Arc<Notify>, buffer: usize) -> Arc<Self> {
        Arc::new(Self {
            reader,
            sender: broadcast::channel(buffer.max(1)).0,
            head: Mutex::new(None),
            head_ready: Notify::new(),
            kick: Notify::new(),
            wake,
            closed: watch::channel(false).0,
            reads: AtomicU64::new(0),
        })
    }

    /// Feed reads made for live subscribers (the hub's and their catch-ups).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Ends every subscription (with `FeedEnd::ShuttingDown`) and the reader.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    fn lock_head(&self) -> std::sync::MutexGuard<'_, Option<FeedCursor>> {
        self.head.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tails the feed while anyone listens, until [`Self::close`].
    pub async fn run(self: Arc<Self>) {
        let mut closed = self.closed.subscribe();
        while !*closed.borrow() {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let head = {
                let mut head = self.lock_head();
                if self.sender.receiver_count() == 0 {
                    *head = None;
                }
                *head
            };
            let full = match head {
                None if self.sender.receiver_count() > 0 => {
                    match self.reader.store().feed_end().await {
                        Ok(end) => {
                            *self.lock_head() = Some(end);
                            self.head_ready.notify_waiters();
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "live feed cannot find the feed's end");
                            false
                        }
                    }
                }
                None => false,
                Some(after) => self.step(after).await,
            };
            if full {
                continue;
            }
            tokio::select! {
                _ = &mut woken => tokio::time::sleep(COALESCE).await,
                _ = self.kick.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = closed.changed() => {}
            }
        }
    }

    /// Reads one page after `after` and broadcasts it; true when the page was full.
    async fn step(&self, after: FeedCursor) -> bool {
        self.reads.fetch_add(1, Ordering::Relaxed);
        match self.reader.page(after, PAGE).await {
            Ok(items) => {
                let Some(last) = items.last() else {
                    return false;
                };
                *self.lock_head() = Some(last.cursor);
                let full = items.len() == PAGE;
                let page: Vec<Arc<FeedItem>> = items.into_iter().map(Arc::new).collect();
                // No receiver left is fine: nobody to tell.
                let _ = self.sender.send(Arc::new(page));
                full
            }
            Err(e) => {
                tracing::warn!(error = %e, "live feed read failed; retrying");
                false
            }
        }
    }

    /// A subscription to the global feed after `after`, filtered.
    pub fn subscribe(self: &Arc<Self>, after: FeedCursor, filter: FeedFilter) -> Subscription {
        self.subscription(Position::Feed(after), filter)
    }

    /// A subscription to one stream's events after `after_version`.
    pub fn subscribe_stream(self: &Arc<Self>, stream_id: &str, after_version: u64) -> Subscription {
        let filter = FeedFilter {
            stream_id: Some(stream_id.to_owned()),
            event_type: None,
        };
        self.subscription(
            Position::Stream {
                stream_id: stream_id.to_owned(),
                version: after_version,
            },
            filter,
        )
    }

    fn subscription(self: &Arc<Self>, position: Position, filter: FeedFilter) -> Subscription {
        let (rx, head) = self.join();
        Subscription {
            hub: self.clone(),
            rx,
            head,
            closed: self.closed.subscribe(),
            filter,
            position,
            catching_up: true,
            live_pages: 0,
            restarts: 0,
            pending: VecDeque::new(),
            ended: false,
        }
    }

    /// Joins the broadcast and reads the head under the lock the reader forgets it under.
    fn join(&self) -> (broadcast::Receiver<Page>, Option<FeedCursor>) {
        let head = self.lock_head();
        let rx = self.sender.subscribe();
        let at = *head;
        drop(head);
        self.kick.notify_one();
        (rx, at)
    }
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
enum Position {
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
    ended: bool,
}

/// How often a subscriber whose own catch-up outran the buffer starts it again before
/// it counts as too slow.
const MAX_RESTARTS: u32 = 3;

impl Subscription {
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
                    let (rx, head) = self.hub.join();
                    (self.rx, self.head, self.catching_up) = (rx, head, true);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(self.end(FeedEnd::TooSlow))
                }
                Err(broadcast::error::RecvError::Closed) => {
                    return Some(self.end(FeedEnd::ShuttingDown))
                }
            }
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
        self.hub.reads.fetch_add(1, Ordering::Relaxed);
        let reader = &self.hub.reader;
        let page = match &self.position {
            Position::Feed(after) => reader.page(*after, PAGE).await,
            Position::Stream { stream_id, version } => {
                reader.stream_page(stream_id, *version, PAGE).await
            }
        }
        .map_err(|e| FeedEnd::StoreFailed(e.to_string()))?;
        if page.len() < PAGE {
            self.catching_up = false;
        }
        self.pending = page.into_iter().map(Arc::new).collect();
        Ok(())
    }

    async fn wait_for_head(&mut self) -> Result<Option<FeedCursor>, FeedEnd> {
        let ready = self.hub.head_ready.notified();
        tokio::pin!(ready);
        ready.as_mut().enable();
        if let Some(h) = *self.hub.lock_head() {
            return Ok(Some(h));
        }
        self.hub.kick.notify_one();
        tokio::select! {
            _ = ready => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = self.closed.changed() => return Err(FeedEnd::ShuttingDown),
        }
        Ok(*self.hub.lock_head())
    }
}
