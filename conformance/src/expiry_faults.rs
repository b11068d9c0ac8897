//! The expirer when a group of expiries cannot be written together: a store that keeps
//! refusing the group (a conflict that never ends, as a stream another instance keeps
//! moving would), and one whose answer to the group's commit is lost after it landed.
//! The expirer's own logic: one store suffices.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use ledger_application::expirer::Expirer;
use ledger_application::ports::store::{
    AppendError, AppendRequest, EventStore, FeedCursor, FeedPage, IdempotencyRecord, RecordedEvent,
    StoreError, StreamQuery,
};
use ledger_application::ports::system::SystemClock;
use ledger_application::transfers::transfer_stream;
use ledger_domain::TransferId;

use crate::expiry_burst::{ctx, hold, open_funded, Set};
use crate::projections::{catch_up_all, Harness};

/// What the store does to an append of more than one expiry.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Fault {
    /// Nothing.
    None,
    /// Refuses it as a conflict, every time.
    RefuseGroups,
    /// Writes the first, then answers as if the connection broke before the commit's
    /// answer came.
    LoseFirstGroupsAnswer,
}

/// The store, counting appends, with a fault on groups of expiries.
pub(crate) struct Counting {
    store: Arc<dyn EventStore>,
    appends: AtomicUsize,
    fault: Fault,
}

impl Counting {
    pub(crate) fn new(store: Arc<dyn EventStore>, fault: Fault) -> Self {
        let appends = AtomicUsize::new(0);
        Self {
            store,
            appends,
            fault,
        }
    }

    /// How many appends were asked for.
    pub(crate) fn appends(&self) -> usize {
        self.appends.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl EventStore for Counting {
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        let before = self.appends.fetch_add(1, Ordering::SeqCst);
        let events = request.streams.iter().flat_map(|w| &w.events);
        let expiries = events.filter(|e| e.event_type == "TransferExpired").count();
        match self.fault {
            Fault::RefuseGroups if expiries > 1 => Err(AppendError::Conflict {
                stream_id: request.streams[0].stream_id.clone(),
                expected: request.streams[0].expected_version,
            }),
            Fault::LoseFirstGroupsAnswer if expiries > 1 && before == 0 => {
                self.store.append(request).await?;
                Err(AppendError::OutcomeUnknown("connection reset".into()))
            }
            _ => self.store.append(request).await,
        }
    }
    async fn read_stream<'a>(&self, q: StreamQuery<'a>) -> Result<Vec<RecordedEvent>, StoreError> {
        self.store.read_stream(q).await
    }
    async fn read_feed(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        self.store.read_feed(after, limit).await
    }
    async fn feed_end(&self) -> Result<FeedCursor, StoreError> {
        self.store.feed_end().await
    }
    async fn committed_end(&self) -> Result<FeedCursor, StoreError> {
        self.store.committed_end().await
    }
    async fn count_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        self.store.count_after(after).await
    }
    async fn size_bytes(&self) -> Result<u64, StoreError> {
        self.store.size_bytes().await
    }
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.store.idempotency_record(key).await
    }
}

/// Five pending transfers between `eb-0` and `eb-1`, due within the hour; the views
/// caught up. Their ids.
async fn five_pending(h: &Harness) -> Vec<TransferId> {
    let commands = h.commands();
    open_funded(&commands, 2, "100").await;
    let mut made = Vec::new();
    for t in 0..5 {
        let req = hold(&format!("gr-{t}"), (t % 2, 1 - t % 2), "1");
        made.push(req.transfer_id.clone().expect("id"));
        commands.transfer(req, &ctx()).await.expect("reserve");
    }
    catch_up_all(&h.runner(50)).await;
    made
}

/// An expirer an hour ahead, writing through `store` with a cache of its own.
fn expirer_on(h: &Harness, store: Arc<Counting>) -> Expirer {
    let commands = Harness::cached_commands_on(store, Arc::new(SystemClock));
    let later = Arc::new(Set(Mutex::new(Utc::now() + Duration::hours(1))));
    Expirer::new(commands, h.read.clone(), later)
}

/// How many expiries each transfer's stream holds.
async fn expiries_of(h: &Harness, made: &[TransferId]) -> Vec<usize> {
    let mut counts = Vec::new();
    for id in made {
        let stream = transfer_stream(id);
        let query = StreamQuery {
            stream_id: &stream,
            after_version: 0,
            until: None,
            limit: 100,
        };
        let events = h.store.read_stream(query).await.expect("read");
        let expired = events.iter().filter(|e| e.event_type == "TransferExpired");
        counts.push(expired.count());
    }
    counts
}

/// A group the store keeps refusing is written one expiry at a time: every due
/// transfer is still expired, once, and counted.
pub async fn a_group_that_cannot_be_written_is_written_one_at_a_time(h: Harness) {
    let made = five_pending(&h).await;
    let refusing = Arc::new(Counting::new(h.store.clone(), Fault::RefuseGroups));
    let expirer = expirer_on(&h, refusing.clone());
    let stepped = expirer.step().await.expect("step");
    assert_eq!(stepped.recorded, 5, "each expired and counted");
    assert!(refusing.appends() > 5, "the group was tried first");
    assert_eq!(expiries_of(&h, &made).await, [1; 5]);
    catch_up_all(&h.runner(50)).await;
    assert_eq!(expirer.step().await.expect("again").recorded, 0);
}

/// A group whose commit landed but whose answer was lost: the expirer's cache is not
/// trusted after it, so the one-at-a-time pass that follows reads the store, finds
/// them expired and writes nothing (a cache left as it was would have tried each
/// expiry again, conflicted, and only then read the store).
pub async fn a_group_whose_answer_was_lost_is_not_written_again(h: Harness) {
    let made = five_pending(&h).await;
    let losing = Arc::new(Counting::new(h.store.clone(), Fault::LoseFirstGroupsAnswer));
    let expirer = expirer_on(&h, losing.clone());
    let stepped = expirer.step().await.expect("step");
    assert_eq!(
        stepped.recorded, 0,
        "none known to be recorded by this step"
    );
    assert_eq!(losing.appends(), 1, "only the group's");
    assert_eq!(expiries_of(&h, &made).await, [1; 5]);
}
