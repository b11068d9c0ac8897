//! Batches: several operations in one request. Atomic ones are decided in order, each
//! against the state the earlier ones left, and written in one append across every
//! stream they touch (all or nothing; `batch_unit.rs`); non-atomic ones
//! (`batch_non_atomic.rs`) run each operation through its own command, concurrently,
//! sharing commits with everything else in flight.

use std::collections::BTreeSet;

use ledger_domain::{AccountId, Decimal, DomainError, ErrorCode, Note, TransferId};
use serde::{Deserialize, Serialize};

use crate::batch_unit::BatchUnit;
use crate::commands::{
    keyed_fingerprint, AccountAction, AccountReply, CommandContext, CommandError, CommandService,
    OpenAccount,
};
use crate::idempotency::replay;
use crate::transfers::{TransferReply, TransferRequest};

pub use crate::batch_non_atomic::non_atomic_fingerprint;
use crate::write::Written;

/// The most operations a batch takes.
pub const MAX_BATCH_OPERATIONS: usize = 1000;

/// One operation of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOperation {
    /// Open an account.
    Open(OpenAccount),
    /// Deposit, withdraw, close or change the limit of an account.
    Act(AccountId, AccountAction),
    /// A transfer, posted at once or pending.
    Transfer(TransferRequest),
    /// Post part or all of a pending transfer.
    Post(TransferId, Option<Decimal>),
    /// Void a pending transfer.
    Void(TransferId, Option<Note>),
    /// An operation whose values the request layer refused: in an atomic batch it is
    /// that operation's refusal, in its turn.
    Rejected(ErrorCode, String),
}

/// What one operation answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchReply {
    /// An account (`open` with 201, the others with 200).
    Account {
        /// Whether it was opened by this operation.
        opened: bool,
        /// The account right after.
        account: AccountReply,
    },
    /// A transfer (a new one with 201, a post or void with 200).
    Transfer {
        /// Whether it was made by this operation.
        created: bool,
        /// The transfer and its accounts right after.
        transfer: Box<TransferReply>,
    },
}

/// A refused atomic batch: which operation, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRefusal {
    /// The index of the first refused operation.
    pub operation: usize,
    /// Its code.
    pub code: ErrorCode,
    /// Its detail.
    pub detail: String,
}

/// The whole answer of an atomic batch (what its idempotency key stores).
pub type AtomicOutcome = Result<Vec<BatchReply>, BatchRefusal>;

impl BatchOperation {
    /// Its part of the batch's fingerprint: amounts canonical (`12.5` and `"12.50"` are
    /// one request), absent values told apart from empty ones.
    pub(crate) fn canonical(&self) -> String {
        let note = |n: &Option<Note>| n.as_ref().map_or("\u{0}".to_owned(), |n| n.to_string());
        let dec = |d: &Option<Decimal>| d.map_or("\u{0}".to_owned(), |d| d.canonical());
        let parts: Vec<String> = match self {
            Self::Open(o) => vec![
                "open".into(),
                o.account_id
                    .as_ref()
                    .map_or("\u{0}".into(), |a| a.to_string()),
                o.owner.to_string(),
                o.currency.code().into(),
                dec(&o.overdraft_limit),
            ],
            Self::Act(id, a) => {
                let (kind, amount, text) = match a {
                    AccountAction::Deposit {
                        amount,
                        description,
                    } => ("deposit", amount.canonical(), note(description)),
                    AccountAction::Withdraw {
                        amount,
                        description,
                    } => ("withdraw", amount.canonical(), note(description)),
                    AccountAction::Close { reason } => ("close", String::new(), note(reason)),
                    AccountAction::SetLimit { overdraft_limit } => {
                        ("limits", overdraft_limit.canonical(), String::new())
                    }
                };
                vec![kind.into(), id.to_string(), amount, text]
            }
            Self::Transfer(t) => vec![
                "transfer".into(),
                t.transfer_id
                    .as_ref()
                    .map_or("\u{0}".into(), |t| t.to_string()),
                t.from.to_string(),
                t.to.to_string(),
                t.amount.canonical(),
                note(&t.description),
                format!("{}:{:?}", t.pending, t.expires_in_seconds),
            ],
            Self::Post(id, amount) => vec!["post".into(), id.to_string(), dec(amount)],
            Self::Void(id, reason) => vec!["void".into(), id.to_string(), note(reason)],
            Self::Rejected(code, detail) => {
                vec!["rejected".into(), code.to_string(), detail.clone()]
            }
        };
        crate::idempotency::fingerprint(&parts.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

impl CommandService {
    /// Runs an atomic batch: every operation or none. `Err` is a failure of the batch
    /// as a whole (store unavailable, conflicts beyond the retries, a reused key); a
    /// refused operation is `Ok(Err(refusal))`.
    pub async fn atomic_batch(
        &self,
        mut ops: Vec<BatchOperation>,
        ctx: &CommandContext,
    ) -> Result<AtomicOutcome, CommandError> {
        crate::commands::admit(ctx)?;
        let mut parts = vec!["atomic-batch".to_owned()];
        parts.extend(ops.iter().map(BatchOperation::canonical));
        // (Ids the server chooses come after: a retry's operations fingerprint alike.)
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let fp = keyed_fingerprint(ctx, &parts);
        if let Some(stored) = self.stored_outcome(ctx, &fp).await? {
            return stored;
        }
        // Ids the server chooses are chosen once, before the write loop (a retry after
        // a conflict decides the same operations again).
        for op in &mut ops {
            match op {
                BatchOperation::Open(o) if o.account_id.is_none() => {
                    o.account_id = Some(self.new_account_id()?);
                }
                BatchOperation::Transfer(t) if t.transfer_id.is_none() => {
                    t.transfer_id = Some(self.new_transfer_id()?);
                }
                _ => {}
            }
        }
        // A post or void of a transfer made by another request between the planning
        // and the decision is a conflict (`BatchUnit::settled_parties`): plan again.
        for _ in 0..3 {
            match self.atomic_batch_once(&ops, ctx, &fp).await {
                Written::Done(Err(CommandError::Conflict)) => continue,
                Written::Done(outcome) => return outcome,
                Written::KeyTaken(stored) => return replay(&stored, &fp),
                Written::Failed(e) => return Err(e),
            }
        }
        Err(CommandError::Conflict)
    }

    /// One planning of an atomic batch: the accounts each post and void moves, their
    /// locks, and the write loop.
    async fn atomic_batch_once(
        &self,
        ops: &[BatchOperation],
        ctx: &CommandContext,
        fp: &str,
    ) -> Written<Result<AtomicOutcome, CommandError>> {
        let parties = match self.batch_parties(ops).await {
            Ok(parties) => parties,
            Err(e) => return Written::Failed(e),
        };
        let accounts: BTreeSet<&str> = ops
            .iter()
            .flat_map(|op| match op {
                BatchOperation::Open(o) => o.account_id.iter().map(|a| a.as_str()).collect(),
                BatchOperation::Act(a, _) => vec![a.as_str()],
                BatchOperation::Transfer(t) => vec![t.from.as_str(), t.to.as_str()],
                BatchOperation::Post(id, _) | BatchOperation::Void(id, _) => parties
                    .get(id)
                    .map(|(f, t)| vec![f.as_str(), t.as_str()])
                    .unwrap_or_default(),
                BatchOperation::Rejected(..) => vec![],
            })
            .collect();
        let accounts: Vec<&str> = accounts.into_iter().collect();
        let unit = BatchUnit::new(ops, &parties, ctx, fp);
        let _serialized = self.pipeline.locks.lock(&accounts).await;
        self.pipeline.write(&unit).await
    }

    /// The two accounts of each transfer a post or void names: the stored transfer's
    /// when it exists (a transfer operation reusing its id is refused in its turn and
    /// must not redirect the settlement), else those of the first operation of the batch
    /// that makes it. (Found by the model-checked API test: an atomic batch voiding a
    /// transfer, then making one with its id between other accounts, voided against
    /// those accounts.)
    async fn batch_parties(
        &self,
        ops: &[BatchOperation],
    ) -> Result<std::collections::HashMap<TransferId, (AccountId, AccountId)>, CommandError> {
        let mut made = std::collections::HashMap::new();
        for op in ops {
            if let BatchOperation::Transfer(t) = op {
                if let Some(id) = &t.transfer_id {
                    made.entry(id.clone())
                        .or_insert_with(|| (t.from.clone(), t.to.clone()));
                }
            }
        }
        let mut parties = std::collections::HashMap::new();
        for op in ops {
            let (BatchOperation::Post(id, _) | BatchOperation::Void(id, _)) = op else {
                continue;
            };
            if parties.contains_key(id) {
                continue;
            }
            match self.parties(id).await {
                Ok(p) => {
                    parties.insert(id.clone(), p);
                }
                Err(CommandError::Refused(DomainError::TransferNotFound)) => {
                    // Made by this batch, or decided in its turn: refused there.
                    if let Some(p) = made.get(id) {
                        parties.insert(id.clone(), p.clone());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(parties)
    }

    fn new_account_id(&self) -> Result<AccountId, CommandError> {
        AccountId::parse(self.pipeline.ids.new_id().to_string())
            .map_err(|e| CommandError::Internal(e.to_string()))
    }

    fn new_transfer_id(&self) -> Result<TransferId, CommandError> {
        TransferId::parse(self.pipeline.ids.new_id().to_string())
            .map_err(|e| CommandError::Internal(e.to_string()))
    }
}

impl From<(usize, CommandError)> for BatchRefusal {
    fn from((operation, e): (usize, CommandError)) -> Self {
        Self {
            operation,
            code: e.code(),
            detail: e.to_string(),
        }
    }
}

/// A transfer a post or void names that does not exist (and the batch does not make).
pub(crate) fn unknown_transfer() -> CommandError {
    DomainError::TransferNotFound.into()
}
