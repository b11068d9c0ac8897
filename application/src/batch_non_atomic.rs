//! Non-atomic batches: each operation through its own command, concurrently, sharing
//! commits with everything else in flight; one idempotency key for the whole batch.

use crate::batch::{BatchOperation, BatchReply};
use crate::commands::{CommandContext, CommandError, CommandService};

impl CommandService {
    /// Runs each operation on its own, concurrently; results in the order given. With
    /// an idempotency key, operation `i` runs under a key of its own
    /// ([`crate::idempotency::operation_key`]), so a retried batch gets every
    /// operation's first outcome back.
    ///
    /// The batch's key itself is stored first, alone, with the fingerprint of the whole
    /// request (its operations, and those refused before they ran by their index and
    /// content), so the same key with another batch, atomic or not, is refused before
    /// anything runs. `If-Match` does not apply. The operations run concurrently, each on
    /// its own streams' state, as lone commands do (a later one may be decided first).
    /// `ops` are the operations to run with their index in the request, `invalid` the
    /// others' index and content as sent.
    pub async fn batch(
        &self,
        ops: Vec<(usize, BatchOperation)>,
        invalid: &[(usize, String)],
        ctx: &CommandContext,
    ) -> Result<Vec<Result<BatchReply, CommandError>>, CommandError> {
        crate::commands::admit(ctx)?;
        let mut legacy = false;
        if let Some(key) = &ctx.idempotency_key {
            let fp = non_atomic_fingerprint(false, &ops, invalid);
            let record = crate::idempotency::record_ok(
                crate::idempotency::scoped_key(&ctx.principal.actor, key),
                fp.clone(),
                &crate::idempotency::OPERATION_KEYS,
            );
            let request = crate::ports::store::AppendRequest {
                streams: vec![],
                idempotency: vec![record],
            };
            match self.pipeline.store.append(request).await {
                Ok(()) => {}
                Err(crate::ports::store::AppendError::IdempotencyKeyExists(stored))
                    if stored.fingerprint == fp => {}
                // The same batch first sent to an earlier version: its operations are
                // stored under that version's keys. (An earlier version finds this
                // version's record under another fingerprint and refuses the key, so
                // a retry during a rolling upgrade never runs a batch twice.)
                Err(crate::ports::store::AppendError::IdempotencyKeyExists(stored))
                    if stored.fingerprint == non_atomic_fingerprint(true, &ops, invalid) =>
                {
                    legacy = true;
                }
                Err(crate::ports::store::AppendError::IdempotencyKeyExists(_)) => {
                    return Err(CommandError::IdempotencyKeyReused)
                }
                // Only the batch's own record was at stake: sent again with its key,
                // the batch finds it or stores it, and runs.
                Err(
                    crate::ports::store::AppendError::Unavailable(m)
                    | crate::ports::store::AppendError::OutcomeUnknown(m),
                ) => return Err(CommandError::Unavailable(m)),
                Err(e) => return Err(CommandError::Internal(e.to_string())),
            }
        }
        let runs = ops.into_iter().map(|(i, op)| {
            let mut ctx = ctx.clone();
            ctx.idempotency_key = ctx.idempotency_key.map(|k| match legacy {
                false => crate::idempotency::operation_key(&k, i),
                true => format!("{k}#{i}"),
            });
            ctx.if_match = None;
            async move { self.run_one(op, &ctx).await }
        });
        Ok(futures_util::future::join_all(runs).await)
    }

    async fn run_one(
        &self,
        op: BatchOperation,
        ctx: &CommandContext,
    ) -> Result<BatchReply, CommandError> {
        let account = |opened, account| BatchReply::Account { opened, account };
        let transfer = |created, transfer| BatchReply::Transfer {
            created,
            transfer: Box::new(transfer),
        };
        Ok(match op {
            BatchOperation::Open(o) => account(true, self.open_account(o, ctx).await?),
            BatchOperation::Act(id, a) => account(false, self.act(id, a, ctx).await?),
            BatchOperation::Transfer(t) => transfer(true, self.transfer(t, ctx).await?),
            BatchOperation::Post(id, a) => transfer(false, self.post_transfer(id, a, ctx).await?),
            BatchOperation::Void(id, r) => transfer(false, self.void_transfer(id, r, ctx).await?),
            BatchOperation::Rejected(code, detail) => {
                return Err(CommandError::Rejected { code, detail })
            }
        })
    }
}

/// The fingerprint a non-atomic batch's own record is stored with: of its operations,
/// and those refused before they ran by their index and content. `legacy`: as versions
/// that ran operation `i` under `<key>#<i>` wrote it.
pub fn non_atomic_fingerprint(
    legacy: bool,
    ops: &[(usize, BatchOperation)],
    invalid: &[(usize, String)],
) -> String {
    let tag = if legacy {
        "non-atomic-batch"
    } else {
        "non-atomic-batch/2"
    };
    let mut parts = vec![tag.to_owned()];
    parts.extend(ops.iter().map(|(i, op)| format!("{i}:{}", op.canonical())));
    parts.extend(invalid.iter().map(|(i, why)| format!("{i}:invalid:{why}")));
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    crate::idempotency::fingerprint(&parts)
}
