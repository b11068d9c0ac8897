//! `GET /console`: the web console, its files compiled into the binary (no build step,
//! no CDN), and `GET /whoami`, which tells the console what the signed-in key may do.
//!
//! The console is plain JavaScript modules over this same API; it holds no logic of
//! the ledger's own. Its files are under `adapters/http/console/` (uPlot vendored from
//! npm with its licence). Answers are gzip-compressed when the browser accepts it.

use axum::extract::{Extension, Path};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::compression::CompressionLayer;
use utoipa::ToSchema;

use crate::middleware::RequestContext;
use crate::problem::ApiError;

/// One embedded file: its name under `/console/`, its media type and its bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $media:expr) => {
        Asset {
            name: $name,
            media_type: $media,
            body: include_bytes!(concat!("../console/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console (the page itself is `index.html`).
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("live.js", JS),
    asset!("ui.js", JS),
    asset!("accounts.js", JS),
    asset!("account.js", JS),
    asset!("chart.js", JS),
    asset!("transfers.js", JS),
    asset!("admin.js", JS),
    asset!("uPlot.iife.min.js", JS),
    asset!("uPlot.min.css", "text/css; charset=utf-8"),
    asset!("uPlot.LICENSE", "text/plain; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// Scripts, styles and requests from this origin only (uPlot styles its elements
/// through the DOM, which a policy does not restrict).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(crate) fn router() -> Router<crate::State> {
    Router::new()
        .route("/console", get(page))
        .route("/console/{file}", get(file))
        .layer(CompressionLayer::new().gzip(true))
        .route("/whoami", get(whoami))
}

/// The names of the console's files (the test of the first load's size reads them all).
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|a| a.name)
}

/// The media types its files are served as (for the OpenAPI document).
pub(crate) fn media_types() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|a| a.media_type)
}

fn serve(name: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return ApiError::new(ledger_domain::ErrorCode::NotFound, "no such console file")
            .into_response();
    };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.media_type),
    );
    // Always asked again (cheap, compressed), so an upgraded binary's console is used.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[utoipa::path(get, path = "/console", responses((status = 200,
    description = "The web console's page", content_type = "text/html", body = String)))]
pub(crate) async fn page() -> Response {
    serve("index.html")
}

#[utoipa::path(get, path = "/console/{file}", params(("file" = String, Path)),
    responses((status = 200, description = "One of the console's files (script, style, licence)",
        content_type = "text/plain", body = String)))]
pub(crate) async fn file(Path(name): Path<String>) -> Response {
    serve(&name)
}

/// `GET /whoami`: the caller as the service sees it.
#[derive(Serialize, ToSchema)]
pub struct WhoAmIBody {
    /// `admin`, `api-token-N`, `key:<key_id>`, or `anonymous` (an open API).
    pub actor: String,
    /// `admin`, `operator`, `reader` or `owner`.
    pub role: String,
    /// For an owner key, its owner; otherwise null.
    pub owner: Option<String>,
}

#[utoipa::path(get, path = "/whoami", responses((status = 200, body = WhoAmIBody)))]
pub(crate) async fn whoami(Extension(rc): Extension<RequestContext>) -> Json<WhoAmIBody> {
    let p = rc.principal;
    Json(WhoAmIBody {
        owner: p.role.owner().map(|o| o.as_str().to_owned()),
        role: p.role.name().to_owned(),
        actor: p.actor,
    })
}
