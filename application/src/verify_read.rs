//! `ledger verify`'s read-ahead: the feed read page after page by one stage (the
//! rebuild's, [`read_pages`]) and each event's hash computed from its fields by
//! another, each a page ahead of the next, so that the database's read of a page, the
//! hashing of the page before it and the checks of the one before that run at the
//! same time (on different cores when there is a spawner). The hash is a pure function
//! of the stored event, so computing it apart changes nothing the checks see; memory
//! stays a few pages whatever the feed's length.

use std::future::Future;
use std::sync::Arc;

use ledger_domain::ChainHash;
use tokio::sync::mpsc;

use crate::ports::store::{EventStore, FeedCursor, FeedPage, RecordedEvent, StoreError};
use crate::ports::system::Spawner;
use crate::rebuild_read::{read_pages, start_stages};

/// A page of the feed with the hash each event's fields give after its own
/// `prev_hash` ([`RecordedEvent::computed_hash`]), in the same order.
pub(crate) struct HashedPage {
    pub(crate) events: Vec<RecordedEvent>,
    pub(crate) computed: Vec<ChainHash>,
    pub(crate) next: FeedCursor,
}

/// What the read-ahead gives, in feed order: pages, then `Ok(None)` at the feed's end
/// or an error (after either, nothing more).
pub(crate) type HashedPages = mpsc::Receiver<Result<Option<HashedPage>, StoreError>>;

/// Starts reading and hashing the feed after `from`, `limit` events a page. With a
/// spawner both stages run as tasks of their own and the returned future is already
/// done; without one, the caller polls it beside its use of the pages. Either way the
/// stages stop at the feed's end, at an error, or once the pages are dropped.
pub(crate) fn read_ahead(
    store: Arc<dyn EventStore>,
    from: FeedCursor,
    limit: usize,
    spawner: Option<&Arc<dyn Spawner>>,
) -> (HashedPages, impl Future<Output = ()> + Send) {
    let (raw_tx, raw_rx) = mpsc::channel(1);
    let (hashed_tx, hashed_rx) = mpsc::channel(1);
    let reading = read_pages(store, from, limit, raw_tx);
    let hashing = hash_pages(raw_rx, hashed_tx);
    (hashed_rx, start_stages(reading, hashing, spawner))
}

/// Computes the hashes of each page read, in order.
async fn hash_pages(
    mut pages: mpsc::Receiver<Result<Option<FeedPage>, StoreError>>,
    out: mpsc::Sender<Result<Option<HashedPage>, StoreError>>,
) {
    while let Some(page) = pages.recv().await {
        if out.is_closed() {
            // Verification stopped: nothing more to hash.
            return;
        }
        let hashed = page.map(|page| {
            page.map(|page| HashedPage {
                computed: page
                    .events
                    .iter()
                    .map(|e| e.computed_hash(e.prev_hash))
                    .collect(),
                events: page.events,
                next: page.next,
            })
        });
        let more = matches!(hashed, Ok(Some(_)));
        if out.send(hashed).await.is_err() || !more {
            return;
        }
    }
}
