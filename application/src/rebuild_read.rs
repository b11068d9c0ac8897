//! A rebuild's read-ahead: the feed read page after page by one stage and decoded by
//! another, each a page ahead of the next, so that the database's read of a page, its
//! decoding and the applying of the page before it all run at the same time (on
//! different cores when there is a spawner). Each stage holds at most one page beside
//! the one in its channel, so memory stays a few pages whatever the feed's length.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::decode::decode_page;
use crate::decode::FeedDecodeError;
use crate::ports::readmodel::ProjectedEvent;
use crate::ports::store::{EventStore, FeedCursor, FeedPage, StoreError};
use crate::ports::system::Spawner;

/// A decoded page of the feed and the cursor after it.
pub(crate) type DecodedPage = (Vec<ProjectedEvent>, FeedCursor);

/// What the read-ahead gives, in feed order: pages, then `Ok(None)` at the feed's end
/// or an error (after either, nothing more).
pub(crate) type Pages = mpsc::Receiver<Result<Option<DecodedPage>, FeedDecodeError>>;

/// Starts reading and decoding the feed after `from`, `limit` events a page. With a
/// spawner both stages run as tasks of their own and the returned future is already
/// done; without one, the caller polls it beside its use of the pages. Either way the
/// stages stop at the feed's end, at an error, or once the pages are dropped.
pub(crate) fn read_ahead(
    store: Arc<dyn EventStore>,
    from: FeedCursor,
    limit: usize,
    spawner: Option<&Arc<dyn Spawner>>,
) -> (Pages, impl Future<Output = ()> + Send) {
    let (raw_tx, raw_rx) = mpsc::channel(1);
    let (decoded_tx, decoded_rx) = mpsc::channel(1);
    let reading = read_pages(store.clone(), from, limit, raw_tx);
    let decoding = decode_pages(store, raw_rx, decoded_tx);
    (decoded_rx, start_stages(reading, decoding, spawner))
}

/// Starts two stages: as tasks of their own with a spawner (the returned future is then
/// already done), or joined in the returned future, for the caller to poll beside its
/// use of what they give (`ledger verify`'s read-ahead starts its stages with it too).
pub(crate) fn start_stages(
    first: impl Future<Output = ()> + Send + 'static,
    second: impl Future<Output = ()> + Send + 'static,
    spawner: Option<&Arc<dyn Spawner>>,
) -> impl Future<Output = ()> + Send {
    let stages = match spawner {
        Some(spawner) => {
            spawner.spawn(Box::pin(first));
            spawner.spawn(Box::pin(second));
            None
        }
        None => Some(futures_util::future::join(first, second)),
    };
    async move {
        if let Some(stages) = stages {
            stages.await;
        }
    }
}

/// Reads page after page, each as soon as the one before it is read (`ledger verify`'s
/// read-ahead reads with it too).
pub(crate) async fn read_pages(
    store: Arc<dyn EventStore>,
    mut from: FeedCursor,
    limit: usize,
    out: mpsc::Sender<Result<Option<FeedPage>, StoreError>>,
) {
    while !out.is_closed() {
        let page = match store.read_feed(from, limit).await {
            Ok(page) if page.events.is_empty() => Ok(None),
            Ok(page) => Ok(Some(page)),
            Err(e) => Err(e),
        };
        let more = match &page {
            Ok(Some(page)) => {
                from = page.next;
                true
            }
            _ => false,
        };
        if out.send(page).await.is_err() || !more {
            return;
        }
    }
}

/// Decodes each page read, in order.
async fn decode_pages(
    store: Arc<dyn EventStore>,
    mut pages: mpsc::Receiver<Result<Option<FeedPage>, StoreError>>,
    out: mpsc::Sender<Result<Option<DecodedPage>, FeedDecodeError>>,
) {
    while let Some(page) = pages.recv().await {
        if out.is_closed() {
            // The pass stopped: nothing more to decode.
            return;
        }
        let decoded = match page {
            Ok(Some(page)) => decode_page(store.as_ref(), page.events)
                .await
                .map(|events| Some((events, page.next))),
            Ok(None) => Ok(None),
            Err(e) => Err(FeedDecodeError::Store(e)),
        };
        let more = matches!(decoded, Ok(Some(_)));
        if out.send(decoded).await.is_err() || !more {
            return;
        }
    }
}
