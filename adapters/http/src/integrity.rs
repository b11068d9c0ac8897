//! `GET /integrity/public-key`: the Ed25519 public key that signs seals, as PEM; and
//! `GET /admin/seals/latest`: the last seal with its signature checked.

use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ledger_application::seal_latest::{LatestSealError, SignatureCheck};
use ledger_domain::ErrorCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::middleware::RequestContext;
use crate::problem::ApiError;

pub(crate) fn router() -> Router<crate::State> {
    Router::new()
        .route("/integrity/public-key", get(public_key))
        .route("/admin/seals/latest", get(latest))
}

#[utoipa::path(
    get,
    path = "/integrity/public-key",
    responses((status = 200, description = "The public key (SubjectPublicKeyInfo PEM)", content_type = "application/x-pem-file", body = String))
)]
pub(crate) async fn public_key(State(state): State<crate::State>) -> Response {
    match &state.public_key {
        Some(pem) => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            pem.clone(),
        )
            .into_response(),
        None => ApiError::new(
            ledger_domain::ErrorCode::NotFound,
            "signing is off: no integrity.signing_key is set",
        )
        .into_response(),
    }
}

/// `GET /admin/seals/latest`: the last seal and its signature's check.
#[derive(Serialize, ToSchema)]
pub struct LatestSealBody {
    /// Its version in stream `$seals`.
    pub version: u64,
    /// When it was written.
    pub recorded_at: DateTime<Utc>,
    /// The feed cursor of the last event it covers.
    pub cursor: String,
    /// How many events it covers.
    pub events: u64,
    /// The feed digest it signed (hex).
    pub digest: String,
    /// The public key that signed it (hex).
    pub public_key: String,
    /// `valid` (verifies with this service's public key), `invalid`, or `no_key`
    /// (signing is off here).
    pub signature: String,
    /// Why it is invalid, or what the check covers.
    pub detail: String,
}

#[utoipa::path(get, path = "/admin/seals/latest", responses((status = 200, body = LatestSealBody)))]
pub(crate) async fn latest(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
) -> Result<Json<LatestSealBody>, ApiError> {
    crate::admin::admin_only(&rc)?;
    let found = state
        .latest_seal
        .latest(state.store.as_ref(), state.public_key.as_deref())
        .await;
    let latest = match found {
        Ok(Some(latest)) => latest,
        Ok(None) => return Err(ApiError::new(ErrorCode::NotFound, "nothing is sealed yet")),
        Err(LatestSealError::Store(e)) => return Err(e.into()),
        Err(e @ LatestSealError::Key(_)) => return Err(ApiError::internal(e)),
    };
    let (signature, detail) = match latest.signature {
        SignatureCheck::Valid => (
            "valid",
            "the signature verifies with this service's public key; `ledger verify` also recomputes the digest".to_owned(),
        ),
        SignatureCheck::Invalid(why) => ("invalid", why),
        SignatureCheck::NoKey => ("no_key", "signing is off here: no public key to check it with".to_owned()),
    };
    let seal = latest.seal;
    Ok(Json(LatestSealBody {
        version: latest.version,
        recorded_at: latest.recorded_at,
        cursor: seal.cursor,
        events: seal.events,
        digest: seal.digest,
        public_key: seal.public_key,
        signature: signature.to_owned(),
        detail,
    }))
}
