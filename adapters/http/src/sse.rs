//! Live feeds as Server-Sent Events: the global feed (`/events/stream`) and one
//! account's events (`/accounts/{id}/events/stream`), both served by the instance's one
//! feed reader (`FeedHub`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{stream, StreamExt};
use std::sync::Arc;

use ledger_application::api_keys::ApiKeys;
use ledger_application::feed::FeedItem;
use ledger_application::feed_hub::{Delivery, FeedEnd, FeedFilter, Subscription};
use ledger_application::ports::store::FeedCursor;
use ledger_domain::AccountId;

use crate::auth::Access;
use crate::body;
use crate::live_streams::LiveStreamPermit;
use crate::middleware::RequestContext;
use crate::problem::ApiError;

/// Idle connections get a comment line this often (API.md: at least every 15 s).
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// A stream with no event to send checks its caller's access this often: a revoked key
/// ends its streams on quiet feeds too, not only at their next event.
const ACCESS_RECHECK: Duration = Duration::from_secs(5);

pub(crate) fn router() -> Router<crate::State> {
    Router::new()
        .route("/events/stream", get(feed_stream))
        .route("/accounts/{id}/events/stream", get(account_stream))
}

/// `Last-Event-ID` (a reconnect) wins over the query's resume point.
fn resume_point<'a>(
    headers: &'a HeaderMap,
    query: Option<&'a String>,
) -> Result<Option<&'a str>, ApiError> {
    if headers.get_all("last-event-id").iter().nth(1).is_some() {
        // Which one a proxy passes on is unknowable: the stream would resume elsewhere.
        return Err(ApiError::validation(
            "send one Last-Event-ID header, not several",
        ));
    }
    match headers.get("last-event-id") {
        // An id this route gave: `end` is a place to start (`?after=end`), not one.
        Some(v) if v.as_bytes().trim_ascii() == b"end" => Err(ApiError::validation(
            "Last-Event-ID must be an event's `id` as this stream sent it (`?after=end` starts at the end)",
        )),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| ApiError::validation("Last-Event-ID is not readable text")),
        None => Ok(query.map(String::as_str)),
    }
}

#[utoipa::path(get, path = "/events/stream", params(("after" = Option<String>, Query),
    ("stream_id" = Option<String>, Query), ("event_type" = Option<String>, Query),
    ("Last-Event-ID" = Option<String>, Header)),
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "per event `id: <cursor>`, `event: <event_type>`, `data: <event JSON>`")))]
pub(crate) async fn feed_stream(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    state.queries.may_follow_feed(&rc.principal)?;
    let q = body::query(raw.as_deref())?;
    body::only(&q, &["after", "stream_id", "event_type"])?;
    let after = match resume_point(&headers, q.get("after"))? {
        None => FeedCursor::START,
        // Only what commits from now on (a console following the ledger live).
        Some("end") => state.store.feed_end().await?,
        Some(c) => c.parse().map_err(|_| {
            ApiError::validation(
                "unreadable cursor: give `after=end`, a `next` of /events or an event's `id` \
                 (as Last-Event-ID: an event's `id` only)",
            )
        })?,
    };
    let event_type = body::event_type(&q)?;
    let stream_id = q.get("stream_id").cloned();
    if stream_id
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.chars().count() > 200)
    {
        // Characters, as the contract's `maxLength` counts (it said bytes, and refused
        // what the schema allows).
        return Err(ApiError::validation("stream_id must be 1-200 characters"));
    }
    let filter = FeedFilter {
        stream_id,
        event_type,
    };
    let permit = state.live_streams.permit(&rc.principal, &state.metrics)?;
    let subscription = state.feed.subscribe(after, filter);
    let caller = (state.keys.clone(), rc);
    Ok(events(subscription, caller, permit, |item| {
        item.cursor.to_string()
    }))
}

#[utoipa::path(get, path = "/accounts/{id}/events/stream", params(("id" = String, Path),
    ("after_version" = Option<u64>, Query), ("Last-Event-ID" = Option<String>, Header)),
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "per event `id: <version>`, `event: <event_type>`, `data: <event JSON>`")))]
pub(crate) async fn account_stream(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id: AccountId = body::path_account(&id)?;
    let q = body::query(raw.as_deref())?;
    body::only(&q, &["after_version"])?;
    let after = match resume_point(&headers, q.get("after_version"))? {
        None => 0,
        Some(v) => body::whole_number(v).ok_or_else(|| {
            ApiError::validation(
                "after_version (or Last-Event-ID) must be a whole number of at most 19 digits",
            )
        })?,
    };
    state
        .queries
        .visible_account(&rc.principal, id.as_str())
        .await?;
    let permit = state.live_streams.permit(&rc.principal, &state.metrics)?;
    let subscription = state.feed.subscribe_stream(id.as_str(), after);
    let caller = (state.keys.clone(), rc);
    Ok(events(subscription, caller, permit, |item| {
        item.version.to_string()
    }))
}

/// Why the stream must end before its next event, if it must: its key (if it was
/// opened with one) is revoked (no event past the revocation's reach, one second per
/// instance), the open API it was opened on has closed (a stream opened during the
/// set-up once went on after the first key closed it), or either cannot be checked now
/// (a store failure, not a refusal: the client may reconnect).
async fn access_refusal(keys: &ApiKeys, rc: &RequestContext) -> Option<&'static str> {
    match crate::auth::access_now(keys, rc).await {
        Ok(Access::Still) => None,
        Ok(Access::KeyRevoked) => Some("closed: the key is revoked"),
        Ok(Access::ApiClosed) => {
            Some("closed: the API is no longer open: an API key or token is needed")
        }
        Err(e) => {
            tracing::warn!(error = %e, "live feed subscription ended: its access cannot be checked");
            Some(STORE_FAILED)
        }
    }
}

const STORE_FAILED: &str = "closed: the feed cannot be read past this point now (the \
    event store failed, or an event cannot be read: the server's log says which); \
    reconnect with Last-Event-ID to resume";

/// The subscription as an SSE body: each event with its id, a closing comment at the
/// end, heartbeats while idle. A stream opened with an API key ends when the key is
/// revoked (or cannot be checked). The permit goes when the body does.
fn events(
    subscription: Subscription,
    caller: (Arc<ApiKeys>, RequestContext),
    permit: LiveStreamPermit,
    id_of: fn(&FeedItem) -> String,
) -> Response {
    let watcher = caller.clone();
    let body = stream::unfold(
        Some((subscription, caller, permit)),
        move |state| async move {
            let (mut sub, caller, permit) = state?;
            let event = match sub.next().await? {
                Delivery::Event(item) => {
                    if let Some(why) = access_refusal(&caller.0, &caller.1).await {
                        return Some((Ok::<_, Infallible>(Event::default().comment(why)), None));
                    }
                    Event::default()
                        .id(id_of(&item))
                        .event(item.event_type.as_str())
                        .data(item.text.as_str())
                }
                Delivery::End(why) => Event::default().comment(closing(&why)),
            };
            Some((Ok::<_, Infallible>(event), Some((sub, caller, permit))))
        },
    );
    // The events, and between them a look at the caller's access every
    // `ACCESS_RECHECK`. Dropping `next()` for a look loses nothing: the body keeps the
    // step it was in and goes on with it at the next poll.
    let body = stream::unfold(Some((Box::pin(body), watcher)), |state| async move {
        let (mut body, caller) = state?;
        loop {
            tokio::select! {
                item = body.next() => return Some((item?, Some((body, caller)))),
                () = tokio::time::sleep(ACCESS_RECHECK) => {
                    if let Some(why) = access_refusal(&caller.0, &caller.1).await {
                        return Some((Ok(Event::default().comment(why)), None));
                    }
                }
            }
        }
    });
    Sse::new(body)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response()
}

fn closing(why: &FeedEnd) -> &'static str {
    match why {
        FeedEnd::TooSlow => {
            "closed: this subscriber fell too far behind the feed; reconnect with Last-Event-ID to resume"
        }
        FeedEnd::ShuttingDown => {
            "closed: the server is shutting down; reconnect with Last-Event-ID to resume"
        }
        FeedEnd::StoreFailed(e) => {
            tracing::warn!(error = %e, "live feed subscription ended on a store error");
            STORE_FAILED
        }
    }
}
