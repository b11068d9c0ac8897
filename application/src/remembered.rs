//! Idempotency for operations that write no events (the start of a rebuild): the first
//! reply is stored under the caller's key in a write of its own, after the operation,
//! and a retry of the same request gets it back without running it again.

use serde::{de::DeserializeOwned, Serialize};

use crate::commands::{CommandContext, CommandError, CommandService};
use crate::idempotency::{fingerprint, record_ok, scoped_key};
use crate::ports::store::{AppendError, AppendRequest};

impl CommandService {
    /// The reply stored under the caller's key for this request (its meaningful
    /// parts), if any; the same key with another request: `IdempotencyKeyReused`.
    pub async fn remembered_reply<R: DeserializeOwned>(
        &self,
        ctx: &CommandContext,
        request: &[&str],
    ) -> Result<Option<R>, CommandError> {
        let fp = fingerprint(request);
        self.stored_outcome(ctx, &fp).await?.transpose()
    }

    /// Stores `reply` under the caller's key (without one, nothing is stored) and
    /// answers it; when a concurrent request under the key stored its reply first,
    /// that one. A store that cannot take the record is `Unavailable`: only the key's
    /// record was at stake, so the request may be sent again.
    pub async fn remember_reply<R: Serialize + DeserializeOwned>(
        &self,
        ctx: &CommandContext,
        request: &[&str],
        reply: R,
    ) -> Result<R, CommandError> {
        let Some(key) = &ctx.idempotency_key else {
            return Ok(reply);
        };
        let fp = fingerprint(request);
        let record = record_ok(scoped_key(&ctx.principal.actor, key), fp, &reply);
        let write = AppendRequest {
            streams: vec![],
            idempotency: vec![record],
        };
        match self.pipeline.store.append(write).await {
            Ok(()) => Ok(reply),
            Err(AppendError::IdempotencyKeyExists(_)) => {
                self.remembered_reply(ctx, request).await?.ok_or_else(|| {
                    CommandError::Internal("a stored idempotency record vanished".into())
                })
            }
            Err(AppendError::Unavailable(m) | AppendError::OutcomeUnknown(m)) => {
                Err(CommandError::Unavailable(m))
            }
            Err(e) => Err(CommandError::Internal(e.to_string())),
        }
    }
}
