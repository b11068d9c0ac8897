//! The feed as outside consumers get it: events decoded (upcast) and rendered once
//! into the text they are sent as, read a page at a time from the global feed or from
//! one stream. Live streams (`feed_hub`) and the relay (`relay`) both read through it.

use std::sync::Arc;

use uuid::Uuid;

use crate::decode::{FeedDecoder, LedgerEvent};
use crate::ports::store::{EventStore, FeedCursor, RecordedEvent, StreamQuery};
use crate::queries::QueryError;

/// Renders an event as consumers receive it (the API's event JSON); the HTTP adapter
/// supplies it, so the shape is defined in one place.
pub type RenderEvent = Arc<dyn Fn(&RecordedEvent, &LedgerEvent) -> String + Send + Sync>;

/// One event of the feed, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// Where it sits in the global feed.
    pub cursor: FeedCursor,
    /// Unique id.
    pub event_id: Uuid,
    /// The stream.
    pub stream_id: String,
    /// The stream's aggregate type (`account`, `transfer`).
    pub stream_type: String,
    /// Its version in the stream.
    pub version: u64,
    /// Type name, after upcasting (as the rendered text shows it).
    pub event_type: String,
    /// The rendered event.
    pub text: String,
}

/// Reads feed pages and renders them.
#[derive(Clone)]
pub struct FeedReader {
    store: Arc<dyn EventStore>,
    render: RenderEvent,
}

impl FeedReader {
    /// Reads `store`, rendering with `render`.
    pub fn new(store: Arc<dyn EventStore>, render: RenderEvent) -> Self {
        Self { store, render }
    }

    /// The store it reads.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// At most `limit` feed events after `after`, in feed order.
    pub async fn page(&self, after: FeedCursor, limit: usize) -> Result<Vec<FeedItem>, QueryError> {
        let page = self.store.read_feed(after, limit).await?;
        self.rendered(page.events).await
    }

    /// [`Self::page`] rendering only the events `keep` selects (the others cost no
    /// decoding); also the cursor of the page's last event and how many it read.
    pub async fn page_of(
        &self,
        after: FeedCursor,
        limit: usize,
        keep: impl Fn(&RecordedEvent) -> bool,
    ) -> Result<(Vec<FeedItem>, FeedCursor, usize), QueryError> {
        let page = self.store.read_feed(after, limit).await?;
        let read = page.events.len();
        let kept = page.events.into_iter().filter(|e| keep(e)).collect();
        Ok((self.rendered(kept).await?, page.next, read))
    }

    /// At most `limit` events of one stream after `after_version`, in version order.
    pub async fn stream_page(
        &self,
        stream_id: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<FeedItem>, QueryError> {
        let events = self
            .store
            .read_stream(StreamQuery {
                stream_id,
                after_version,
                until: None,
                limit,
            })
            .await?;
        self.rendered(events).await
    }

    async fn rendered(&self, events: Vec<RecordedEvent>) -> Result<Vec<FeedItem>, QueryError> {
        let mut decoder = FeedDecoder::default();
        let mut items = Vec::with_capacity(events.len());
        for recorded in events {
            let event = decoder.decode(self.store.as_ref(), &recorded).await?;
            let text = (self.render)(&recorded, &event);
            items.push(FeedItem {
                cursor: recorded.cursor,
                event_id: recorded.event_id,
                event_type: event.event_type().to_owned(),
                stream_id: recorded.stream_id,
                stream_type: recorded.stream_type,
                version: recorded.version,
                text,
            });
        }
        Ok(items)
    }
}
