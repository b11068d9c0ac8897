//! `GET /integrity/public-key`: the Ed25519 public key that signs seals, as PEM.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::problem::ApiError;

pub(crate) fn router() -> Router<crate::State> {
    Router::new().route("/integrity/public-key", get(public_key))
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
