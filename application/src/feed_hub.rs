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

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch, Notify, Semaphore};

use crate::feed::{FeedItem, FeedReader};
use crate::feed_subscription::Position;
pub use crate::feed_subscription::{Delivery, FeedEnd, FeedFilter, Subscription};
use crate::ports::store::{FeedCursor, RecordedEvent};

pub(crate) const PAGE: usize = 500;
pub(crate) const POLL: Duration = Duration::from_millis(250);
/// After a wake, commits gather this long into one read and one broadcast page.
const COALESCE: Duration = Duration::from_millis(10);
/// Failed feed reads in a row (one per poll) after which live subscribers are ended.
const MAX_FAILURES: u32 = 20;
/// Subscribers' catch-up reads of the store under way at once, at most. A crowd of
/// subscribers starting from the beginning (or stalled ones whose sockets still take
/// pages) took every connection of the store's pool, and commands, the expirer and
/// this hub's own reads waited or failed; now they share these few.
pub const CATCH_UP_READS: usize = 4;

/// A page of the feed as broadcast.
pub(crate) type Page = Arc<Vec<Arc<FeedItem>>>;

/// The hub's head and its broadcast channels, changed under one lock.
pub(crate) struct Channels {
    /// The last cursor the hub has taken on (`None` while nobody listens).
    pub(crate) head: Option<FeedCursor>,
    /// Every page, for subscribers without a stream filter.
    all: broadcast::Sender<Page>,
    /// Each stream's part of every page, for subscribers of that stream only (an
    /// account's live view wakes for its own events, not for every commit).
    streams: HashMap<String, broadcast::Sender<Page>>,
    buffer: usize,
}

impl Channels {
    fn listeners(&self) -> usize {
        self.all.receiver_count()
            + self
                .streams
                .values()
                .map(broadcast::Sender::receiver_count)
                .sum::<usize>()
    }

    /// Forgets the channels of streams nobody listens to any more.
    fn prune(&mut self) {
        self.streams.retain(|_, s| s.receiver_count() > 0);
    }

    /// What the reader must render: `None` for everything (a whole-feed subscriber),
    /// else the streams someone listens to.
    fn interest(&self) -> Option<HashSet<String>> {
        (self.all.receiver_count() == 0).then(|| self.streams.keys().cloned().collect())
    }

    /// Whether someone joined whom a page read for `interest` left out.
    fn outgrew(&self, interest: &Option<HashSet<String>>) -> bool {
        interest.as_ref().is_some_and(|watched| {
            self.all.receiver_count() > 0
                || self
                    .streams
                    .iter()
                    .any(|(s, tx)| tx.receiver_count() > 0 && !watched.contains(s))
        })
    }

    /// Sends each channel its part of `page`, forgetting streams nobody listens to.
    fn send(&mut self, page: Vec<Arc<FeedItem>>) {
        self.prune();
        if !self.streams.is_empty() {
            let mut parts: HashMap<&str, Vec<Arc<FeedItem>>> = HashMap::new();
            for item in &page {
                if self.streams.contains_key(&item.stream_id) {
                    parts.entry(&item.stream_id).or_default().push(item.clone());
                }
            }
            for (stream, part) in parts {
                if let Some(s) = self.streams.get(stream) {
                    let _ = s.send(Arc::new(part));
                }
            }
        }
        if self.all.receiver_count() > 0 {
            let _ = self.all.send(Arc::new(page));
        }
    }
}

/// The one feed reader of an instance and its subscribers.
pub struct FeedHub {
    pub(crate) reader: FeedReader,
    pub(crate) head: Mutex<Channels>,
    pub(crate) head_ready: Notify,
    pub(crate) kick: Notify,
    wake: Arc<Notify>,
    pub(crate) closed: watch::Sender<bool>,
    pub(crate) reads: AtomicU64,
    /// Permits for catch-up reads ([`CATCH_UP_READS`]).
    pub(crate) catch_up: Semaphore,
    failures: AtomicU32,
    /// Why the subscriptions were last ended by store failures.
    pub(crate) failed: Mutex<Option<String>>,
}

impl FeedHub {
    /// A hub reading through `reader`, woken by `wake` (commits here and elsewhere),
    /// buffering at most `buffer` pages (of at most 500 events) for a subscriber that
    /// falls behind.
    pub fn new(reader: FeedReader, wake: Arc<Notify>, buffer: usize) -> Arc<Self> {
        Arc::new(Self {
            reader,
            head: Mutex::new(Channels {
                head: None,
                all: broadcast::channel(buffer.max(1)).0,
                streams: HashMap::new(),
                buffer: buffer.max(1),
            }),
            head_ready: Notify::new(),
            kick: Notify::new(),
            wake,
            closed: watch::channel(false).0,
            reads: AtomicU64::new(0),
            catch_up: Semaphore::new(CATCH_UP_READS),
            failures: AtomicU32::new(0),
            failed: Mutex::new(None),
        })
    }

    /// Feed reads made for live subscribers (the hub's and their catch-ups).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        self.lock_head().listeners()
    }

    /// Ends every subscription (with `FeedEnd::ShuttingDown`) and the reader.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Whether [`Self::close`] was called: the service is shutting down.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    pub(crate) fn lock_head(&self) -> std::sync::MutexGuard<'_, Channels> {
        self.head.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tails the feed while anyone listens, until [`Self::close`].
    pub async fn run(self: Arc<Self>) {
        let mut closed = self.closed.subscribe();
        while !*closed.borrow() {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let (head, listeners) = {
                let mut channels = self.lock_head();
                channels.prune();
                let listeners = channels.listeners();
                if listeners == 0 {
                    channels.head = None;
                }
                (channels.head, listeners)
            };
            let full = match head {
                None if listeners > 0 => match self.reader.store().feed_end().await {
                    Ok(end) => {
                        self.failures.store(0, Ordering::Relaxed);
                        self.lock_head().head = Some(end);
                        self.head_ready.notify_waiters();
                        continue;
                    }
                    Err(e) => {
                        self.read_failed("live feed cannot find the feed's end", e);
                        false
                    }
                },
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

    /// Reads one page after `after` and broadcasts it; true when more is to be read
    /// now (the page was full, or someone joined whom the read left out).
    async fn step(&self, after: FeedCursor) -> bool {
        self.reads.fetch_add(1, Ordering::Relaxed);
        // Only what someone listens to is decoded and rendered. Someone who joins
        // during the read may need events it left out: then the head stays and the page
        // is read again for the larger interest.
        let interest = self.lock_head().interest();
        let keep = |e: &RecordedEvent| interest.as_ref().is_none_or(|s| s.contains(&e.stream_id));
        match self.reader.page_of(after, PAGE, keep).await {
            Ok((_, _, 0)) => {
                self.failures.store(0, Ordering::Relaxed);
                false
            }
            Ok((items, last, read)) => {
                self.failures.store(0, Ordering::Relaxed);
                let page: Vec<Arc<FeedItem>> = items.into_iter().map(Arc::new).collect();
                let mut channels = self.lock_head();
                if channels.outgrew(&interest) {
                    return true;
                }
                channels.head = Some(last);
                channels.send(page);
                read == PAGE
            }
            Err(e) => {
                self.read_failed("live feed read failed; retrying", e);
                false
            }
        }
    }

    /// Counts a failed read (of a page or of the feed's end); the [`MAX_FAILURES`]th in
    /// a row ends every subscription.
    fn read_failed(&self, what: &str, e: impl std::fmt::Display) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(error = %e, failures, "{what}");
        if failures >= MAX_FAILURES {
            self.fail(e.to_string());
        }
    }

    /// Ends every current subscription with `FeedEnd::StoreFailed` (the store failed
    /// [`MAX_FAILURES`] reads in a row); later subscribers start afresh.
    fn fail(&self, why: String) {
        tracing::error!(error = %why, "live feed gives up on its subscribers");
        self.failures.store(0, Ordering::Relaxed);
        *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        let mut channels = self.lock_head();
        let buffer = channels.buffer;
        channels.head = None;
        // Dropping the senders ends every receiver; each reads the reason above.
        channels.all = broadcast::channel(buffer).0;
        channels.streams.clear();
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
        let (rx, head) = self.join(filter.stream_id.as_deref());
        Subscription::new(self.clone(), rx, head, position, filter)
    }

    /// Joins the broadcast (of `stream` only, or of everything) and reads the head,
    /// under the lock the reader forgets the head under.
    pub(crate) fn join(
        &self,
        stream: Option<&str>,
    ) -> (broadcast::Receiver<Page>, Option<FeedCursor>) {
        let mut channels = self.lock_head();
        channels.prune();
        let buffer = channels.buffer;
        let rx = match stream {
            Some(s) => channels
                .streams
                .entry(s.to_owned())
                .or_insert_with(|| broadcast::channel(buffer).0)
                .subscribe(),
            None => channels.all.subscribe(),
        };
        let at = channels.head;
        drop(channels);
        self.kick.notify_one();
        (rx, at)
    }
}
