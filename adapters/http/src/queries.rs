//! The read side: current and temporal account views, histories, lists, audit, analytics.

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use ledger_application::ports::readmodel::{AccountFilter, AuditFilter, DailyFilter};
use ledger_application::ports::store::StreamBound;
use ledger_domain::{AccountId, AccountStatus, Currency, Owner};

use crate::body;
use crate::dto::*;
use crate::middleware::RequestContext;
use crate::problem::ApiError;
use ledger_domain::ErrorCode;

pub(crate) fn router() -> Router<crate::State> {
    Router::new()
        .route("/accounts/{id}", get(account))
        .route("/accounts/{id}/events", get(account_events))
        .route("/audit", get(audit))
        .route("/analytics/summary", get(summary))
        .route("/analytics/daily", get(daily))
        .route("/events", get(feed))
}

/// An RFC 3339 instant. A query string's `+` is read as a space (form encoding), so an
/// offset sent unencoded (`?as_of=2026-01-01T10:00:00+02:00`) arrives as ` 02:00`: a
/// space past the date is read back as the `+` it was (no instant has one there).
fn instant(v: &str, name: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(v)
        .or_else(|e| match v.rfind(' ') {
            Some(i) if i > 10 => {
                DateTime::parse_from_rfc3339(&format!("{}+{}", &v[..i], &v[i + 1..]))
            }
            _ => Err(e),
        })
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::validation(format!("{name} must be an RFC 3339 instant")))
}

/// A calendar date written exactly `YYYY-MM-DD` (chrono alone also reads `2026-1-5`,
/// signs and spaces).
fn date(v: &str, name: &str) -> Result<NaiveDate, ApiError> {
    let b = v.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    shaped
        .then(|| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| ApiError::validation(format!("{name} must be a date (YYYY-MM-DD)")))
}

#[utoipa::path(get, path = "/accounts/{id}", params(("id" = String, Path),
    ("version" = Option<u64>, Query), ("as_of" = Option<String>, Query)),
    responses((status = 200, body = AccountViewBody), (status = 404, body = crate::problem::Problem)))]
pub(crate) async fn account(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id = body::path_account(&id)?;
    let q = body::query(raw.as_deref())?;
    body::only(&q, &["version", "as_of"])?;
    let bound = match (q.get("version"), q.get("as_of")) {
        (Some(_), Some(_)) => return Err(ApiError::validation("give version or as_of, not both")),
        (Some(v), None) => Some(StreamBound::Version(body::whole_number(v).ok_or_else(
            || ApiError::validation("version must be a whole number of at most 19 digits"),
        )?)),
        (None, Some(t)) => Some(StreamBound::RecordedAt(instant(t, "as_of")?)),
        (None, None) => None,
    };
    if let Some(bound) = bound {
        let historic = state
            .queries
            .state_at(&rc.principal, id.as_str(), bound)
            .await?
            .and_then(|h| HistoricAccountBody::new(&h.account.state, h.account.version, h.as_of))
            .ok_or_else(ApiError::account_not_found)?;
        return Ok(Json(historic).into_response());
    }
    let view = state
        .queries
        .current(&rc.principal, id.as_str())
        .await?
        .ok_or_else(ApiError::account_not_found)?;
    let mut response = Json(AccountViewBody::from(&view)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", view.version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/accounts/{id}/events", params(("id" = String, Path),
    ("after_version" = Option<u64>, Query), ("limit" = Option<usize>, Query)),
    responses((status = 200, body = EventsPage)))]
pub(crate) async fn account_events(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventsPage>, ApiError> {
    let id = body::path_account(&id)?;
    let q = body::query(raw.as_deref())?;
    body::only(&q, &["after_version", "limit"])?;
    let after = match q.get("after_version") {
        None => 0,
        Some(v) => body::whole_number(v).ok_or_else(|| {
            ApiError::validation("after_version must be a whole number of at most 19 digits")
        })?,
    };
    let limit = body::limit(&q, 100, 1000)?;
    let page = state
        .queries
        .account_events(&rc.principal, id.as_str(), after, limit)
        .await?;
    let next_after_version = page.last().map_or(after, |(r, _)| r.version);
    Ok(Json(EventsPage {
        events: page.iter().map(|(r, e)| EventBody::new(r, e)).collect(),
        next_after_version,
    }))
}

#[utoipa::path(get, path = "/accounts", params(("owner" = Option<String>, Query),
    ("status" = Option<String>, Query), ("limit" = Option<usize>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = AccountsPage)))]
pub(crate) async fn list_accounts(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> Result<Json<AccountsPage>, ApiError> {
    let q = body::query(raw.as_deref())?;
    body::only(&q, &["owner", "status", "limit", "cursor"])?;
    let limit = body::limit(&q, 50, 1000)?;
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(
            AccountStatus::parse(s)
                .ok_or_else(|| ApiError::validation("status must be open or closed"))?,
        ),
    };
    let filter = AccountFilter {
        // An owner by the rule of stored ones: white space alone is no owner's, said
        // rather than answered with an empty page; characters that show nothing are
        // looked up, as earlier versions stored such owners. (Control characters never
        // reach here: no query parameter takes one.)
        owner: q
            .get("owner")
            .map(|o| Owner::from_stored(o.clone()).map(|o| o.as_str().to_owned()))
            .transpose()
            .map_err(body::invalid)?,
        status,
        // A `next_cursor` is an account's id (as stored: earlier versions took `..`):
        // anything else was not given by this list.
        after: q
            .get("cursor")
            .map(|c| AccountId::from_stored(c.clone()).map(|a| a.as_str().to_owned()))
            .transpose()
            .map_err(|_| {
                ApiError::validation("unreadable cursor: give a `next_cursor` of this list")
            })?,
        limit,
    };
    let accounts = state.queries.accounts(&rc.principal, filter).await?;
    let next_cursor = (accounts.len() == limit)
        .then(|| accounts.last().map(|a| a.account_id.clone()))
        .flatten();
    Ok(Json(AccountsPage {
        accounts: accounts.iter().map(AccountViewBody::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/audit", responses((status = 200, body = AuditPage)))]
pub(crate) async fn audit(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    let q = body::query(raw.as_deref())?;
    body::only(
        &q,
        &[
            "account_id",
            "event_type",
            "from",
            "to",
            "request_id",
            "limit",
            "cursor",
        ],
    )?;
    let limit = body::limit(&q, 100, 1000)?;
    let before = body::position_cursor(&q)?;
    let filter = AuditFilter {
        account_id: body::account_filter(&q)?,
        event_type: body::event_type(&q)?,
        from: q.get("from").map(|v| instant(v, "from")).transpose()?,
        to: q.get("to").map(|v| instant(v, "to")).transpose()?,
        // Every request has an id: an empty one names none (an unset variable, most
        // likely), said rather than answered with an empty page.
        request_id: match q.get("request_id") {
            Some(r) if r.is_empty() => {
                return Err(ApiError::validation(
                    "request_id is empty: give an X-Request-ID",
                ))
            }
            r => r.cloned(),
        },
        owner: None,
        before,
        limit,
    };
    let entries = state.queries.audit(&rc.principal, filter).await?;
    let next_cursor = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.position.to_string()))
        .flatten();
    Ok(Json(AuditPage {
        entries: entries.iter().map(AuditBody::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/analytics/summary", responses((status = 200, body = SummaryBody)))]
pub(crate) async fn summary(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
) -> Result<Json<SummaryBody>, ApiError> {
    let rows = state.queries.summary(&rc.principal).await?;
    Ok(Json(SummaryBody {
        currencies: rows.iter().map(CurrencyBody::from).collect(),
    }))
}

#[utoipa::path(get, path = "/analytics/daily", responses((status = 200, body = DailyBody)))]
pub(crate) async fn daily(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> Result<Json<DailyBody>, ApiError> {
    let q = body::query(raw.as_deref())?;
    body::only(&q, &["currency", "from", "to", "limit", "cursor"])?;
    let limit = body::limit(&q, DAILY_LIMIT, DAILY_LIMIT)?;
    let currency = q
        .get("currency")
        .map(|c| {
            Currency::parse(c).map_err(|e| ApiError::new(ErrorCode::InvalidCurrency, e.to_string()))
        })
        .transpose()?;
    let from = q.get("from").map(|v| date(v, "from")).transpose()?;
    let to = q.get("to").map(|v| date(v, "to")).transpose()?;
    let after = q.get("cursor").map(|c| day_cursor(c)).transpose()?;
    let filter = DailyFilter {
        currency,
        from,
        to,
        after,
        limit,
    };
    let rows = state.queries.daily(&rc.principal, filter).await?;
    let next_cursor = (rows.len() == limit)
        .then(|| {
            rows.last()
                .map(|d| format!("{}.{}", d.date, d.currency.code()))
        })
        .flatten();
    Ok(Json(DailyBody {
        days: rows.iter().map(DayBody::from).collect(),
        next_cursor,
    }))
}

/// The most lines of `/analytics/daily` one page holds, and what it holds when no
/// `limit` is given (as many as the service answered before it paged).
const DAILY_LIMIT: usize = 10_000;

/// A `next_cursor` of `/analytics/daily`: the last line's day and currency,
/// `YYYY-MM-DD.CUR`.
fn day_cursor(c: &str) -> Result<(NaiveDate, Currency), ApiError> {
    c.split_once('.')
        .and_then(|(d, cur)| Some((date(d, "cursor").ok()?, Currency::parse(cur).ok()?)))
        .ok_or_else(|| ApiError::validation("unreadable cursor: give a `next_cursor` of this list"))
}

/// The global feed.
#[utoipa::path(get, path = "/events", params(("after" = Option<String>, Query), ("limit" = Option<usize>, Query)),
    responses((status = 200, body = FeedBody)))]
pub(crate) async fn feed(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> Result<Json<FeedBody>, ApiError> {
    state.queries.may_follow_feed(&rc.principal)?;
    let q = body::query(raw.as_deref())?;
    body::only(&q, &["after", "limit"])?;
    let limit = body::limit(&q, 100, 1000)?;
    let after = match q.get("after").map(String::as_str) {
        None => ledger_application::ports::store::FeedCursor::START,
        // Only what commits from now on, as the live stream's `after=end`: a consumer
        // that starts polling now gets the cursor to poll from.
        Some("end") => state.store.feed_end().await?,
        Some(c) => c.parse().map_err(|_| {
            ApiError::validation("unreadable cursor: give `after=end` or a `next` of /events")
        })?,
    };
    let (events, next) = state.queries.feed(&rc.principal, after, limit).await?;
    Ok(Json(FeedBody {
        events: events.iter().map(|(r, e)| EventBody::new(r, e)).collect(),
        next: next.to_string(),
    }))
}
