//! `/admin/api-keys`: make, list and revoke API keys (the admin token only; the use
//! case checks it too).

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ledger_application::access::Role;
use ledger_application::api_keys::{KeyError, Replayable};
use ledger_application::ports::keys::ApiKey;
use ledger_application::CommandError;
use ledger_domain::{ErrorCode, Owner};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::body;
use crate::middleware::RequestContext;
use crate::problem::ApiError;

pub(crate) fn router() -> Router<crate::State> {
    Router::new()
        .route("/admin/api-keys", post(create).get(list))
        .route("/admin/api-keys/{key_id}", delete(revoke))
}

/// A key to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// A name for people (1-200 characters).
    pub name: Option<String>,
    /// `operator`, `reader` or `owner`.
    pub role: Option<String>,
    /// For role `owner` (and only for it): whose accounts the key acts on.
    pub owner: Option<String>,
}

/// An API key, without its secret.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyBody {
    /// Its id; events it causes record the actor `key:<key_id>`.
    pub key_id: String,
    /// Its name.
    pub name: String,
    /// `operator`, `reader` or `owner`.
    pub role: String,
    /// For an owner key, its owner; otherwise null.
    pub owner: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used (written at most once a minute), or null.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key just made, with its secret: shown in this answer only.
#[derive(Serialize, ToSchema)]
pub struct CreatedKeyBody {
    /// Its id.
    pub key_id: String,
    /// Its name.
    pub name: String,
    /// `operator`, `reader` or `owner`.
    pub role: String,
    /// For an owner key, its owner; otherwise null.
    pub owner: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// `ledger_sk_` and 64 hex digits: send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// The active keys.
#[derive(Serialize, ToSchema)]
pub struct ApiKeysBody {
    /// Oldest first.
    pub keys: Vec<ApiKeyBody>,
}

impl From<&ApiKey> for ApiKeyBody {
    fn from(k: &ApiKey) -> Self {
        Self {
            key_id: k.key_id.clone(),
            name: k.name.clone(),
            role: k.role.name().to_owned(),
            owner: k.role.owner().map(|o| o.to_string()),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Forbidden(f) => Self::new(ErrorCode::Forbidden, f.to_string()),
            KeyError::Invalid(m) => Self::validation(m),
            KeyError::IdempotencyKeyReused => {
                Self::new(ErrorCode::IdempotencyKeyReused, e.to_string())
            }
            KeyError::Store(s) => ledger_application::queries::QueryError::from(s).into(),
        }
    }
}

fn role(b: &NewKeyBody) -> Result<Role, ApiError> {
    let owner = match &b.owner {
        Some(o) => Some(Owner::parse(o.as_str()).map_err(|e| ApiError::validation(e.to_string()))?),
        None => None,
    };
    match (b.role.as_deref(), owner) {
        (Some("owner"), Some(o)) => Ok(Role::Owner(o)),
        (Some("owner"), None) => Err(ApiError::validation("role owner needs an owner")),
        (Some("operator" | "reader"), Some(_)) => {
            Err(ApiError::validation("owner is only for role owner"))
        }
        (Some("operator"), None) => Ok(Role::Operator),
        (Some("reader"), None) => Ok(Role::Reader),
        _ => Err(ApiError::validation(
            "role must be operator, reader or owner",
        )),
    }
}

#[utoipa::path(post, path = "/admin/api-keys", request_body = NewKeyBody,
    responses((status = 201, body = CreatedKeyBody)))]
pub(crate) async fn create(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ctx = crate::commands::admin_context(&rc, &headers)?;
    let b: NewKeyBody = body::json(&headers, body).await?;
    let name = b
        .name
        .as_deref()
        .ok_or_else(|| ApiError::validation("name is required"))?;
    let role = role(&b)?;
    rc.hand_over(&state.keys).await?;
    // The idempotency key is shared with every other POST: one a command used is 422
    // here, and the record written below makes this one 422 for a command.
    let owner = role.owner().map(|o| o.to_string()).unwrap_or_default();
    let request = ["api-key", name, role.name(), &owner];
    state
        .commands
        .remembered_reply::<Value>(&ctx, &request)
        .await?;
    // A retry gets the same key and secret, which is never stored: it is derived again
    // with the admin token (docs/API.md, "Access").
    let token = state.access.admin_token.as_ref();
    let replayable = ctx
        .idempotency_key
        .as_deref()
        .zip(token)
        .map(|(k, t)| Replayable {
            idempotency_key: k,
            server_secret: t.expose().as_bytes(),
        });
    let made = state
        .keys
        .create(&rc.principal, name, role, replayable)
        .await?;
    let record = json!({"key_id": made.key.key_id});
    match state.commands.remember_reply(&ctx, &request, record).await {
        Ok(_) => {}
        // Another request took the idempotency key meanwhile: the key made here was
        // never shown to anyone.
        Err(CommandError::IdempotencyKeyReused) if !made.replayed => {
            state.keys.revoke(&rc.principal, &made.key.key_id).await?;
            return Err(CommandError::IdempotencyKeyReused.into());
        }
        // The key is made; a retry answers it (and writes the record).
        Err(e) => return Err(e.into()),
    }
    let answer = CreatedKeyBody {
        key_id: made.key.key_id.clone(),
        name: made.key.name.clone(),
        role: made.key.role.name().to_owned(),
        owner: made.key.role.owner().map(|o| o.to_string()),
        created_at: made.key.created_at,
        secret: made.secret,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

#[utoipa::path(get, path = "/admin/api-keys", responses((status = 200, body = ApiKeysBody)))]
pub(crate) async fn list(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
) -> Result<Json<ApiKeysBody>, ApiError> {
    let keys = state.keys.list(&rc.principal).await?;
    Ok(Json(ApiKeysBody {
        keys: keys.iter().map(ApiKeyBody::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/admin/api-keys/{key_id}", params(("key_id" = String, Path)),
    responses((status = 204)))]
pub(crate) async fn revoke(
    State(state): State<crate::State>,
    Extension(rc): Extension<RequestContext>,
    Path(key_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let well_formed = key_id.len() == 32 && key_id.bytes().all(|b| b.is_ascii_hexdigit());
    rc.hand_over(&state.keys).await?;
    if well_formed && state.keys.revoke(&rc.principal, &key_id).await? {
        return Ok(StatusCode::NO_CONTENT);
    }
    Err(ApiError::new(
        ErrorCode::NotFound,
        "no active API key with that id",
    ))
}
