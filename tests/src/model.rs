//! A pure model of the ledger's accounts and transfers, for the model-checked API test
//! (`tests/tests/model.rs`): what each command must answer and what state it leaves.
//! Amounts are integer cents (USD). Where several refusals apply at once the model
//! gives them all: the service may name any one of them.

use std::collections::BTreeMap;

/// One command of the API.
#[derive(Debug, Clone)]
pub enum Op {
    /// `POST /accounts`.
    Open(usize),
    /// `POST /accounts/{id}/deposit`, with `If-Match` of the model's version (`Some(0)`)
    /// or an older one (`Some(1)`).
    Deposit(usize, i64, Option<u64>),
    /// `POST /accounts/{id}/withdraw`.
    Withdraw(usize, i64),
    /// `POST /transfers` (posted at once, or pending, then maybe with
    /// `expires_in_seconds`).
    Transfer {
        from: usize,
        to: usize,
        amount: i64,
        id: usize,
        pending: bool,
        expires: Option<i64>,
    },
    /// `POST /transfers/{id}/post` (all that remains, or this much).
    Post(usize, Option<i64>),
    /// `POST /transfers/{id}/void`.
    Void(usize),
    /// `POST /accounts/{id}/limits`.
    Limit(usize, i64),
    /// `POST /accounts/{id}/close`.
    Close(usize),
    /// The previous command again, with its idempotency key.
    Retry,
    /// The service's clock moves this many seconds on; the expirer records every
    /// pending transfer now due (the runner waits for it).
    Advance(i64),
    /// `POST /batches`: these commands, atomic or not (the runner decides them one by
    /// one with [`Model::apply`]; no `If-Match`, no retry inside).
    Batch(Vec<Op>, bool),
}

/// An account as the model holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Posted balance.
    pub balance: i64,
    /// Remaining of pending transfers out.
    pub pending_out: i64,
    /// Remaining of pending transfers in.
    pub pending_in: i64,
    /// Overdraft limit.
    pub limit: i64,
    /// Closed.
    pub closed: bool,
    /// Version (events so far).
    pub version: u64,
}

impl Account {
    /// Balance less pending out.
    pub fn available(&self) -> i64 {
        self.balance - self.pending_out
    }
}

/// A transfer as the model holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Source.
    pub from: usize,
    /// Destination.
    pub to: usize,
    /// Amount.
    pub amount: i64,
    /// Posted so far.
    pub posted: i64,
    /// `pending`, `posted`, `voided` or `expired`.
    pub status: &'static str,
    /// When it expires, in seconds on the model's clock.
    pub expires_at: Option<i64>,
}

impl Transfer {
    /// What is still reserved.
    pub fn remaining(&self) -> i64 {
        if self.status == "pending" {
            self.amount - self.posted
        } else {
            0
        }
    }
}

/// The whole model: accounts by index, transfers by index, and every account's state at
/// each of its versions (for temporal queries).
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Opened accounts.
    pub accounts: BTreeMap<usize, Account>,
    /// Transfers made.
    pub transfers: BTreeMap<usize, Transfer>,
    /// Each account's state after each of its versions (index 0 = version 1).
    pub history: BTreeMap<usize, Vec<Account>>,
    /// Seconds the service's clock has moved since the start.
    pub now: i64,
}

/// The outcome the model expects: success, or one of these (status, code) refusals.
pub type Expected = Result<(), Vec<(u16, &'static str)>>;

impl Model {
    fn open_account(&self, i: usize, refusals: &mut Vec<(u16, &'static str)>) -> Option<&Account> {
        match self.accounts.get(&i) {
            None => refusals.push((404, "account_not_found")),
            Some(a) if a.closed => refusals.push((409, "account_closed")),
            Some(a) => return Some(a),
        }
        None
    }

    fn record(&mut self, i: usize, change: impl FnOnce(&mut Account)) {
        let a = self.accounts.entry(i).or_default();
        change(a);
        a.version += 1;
        let snapshot = a.clone();
        self.history.entry(i).or_default().push(snapshot);
    }

    /// Applies `op` if the service must accept it; what it must answer either way.
    pub fn apply(&mut self, op: &Op) -> Expected {
        let mut no = Vec::new();
        match *op {
            Op::Retry | Op::Batch(..) => return Ok(()),
            Op::Advance(seconds) => {
                self.now += seconds;
                self.expire_due();
            }
            Op::Open(i) => {
                if self.accounts.contains_key(&i) {
                    return Err(vec![(409, "account_exists")]);
                }
                self.record(i, |_| {});
            }
            Op::Deposit(i, amount, if_match) => {
                let open = self.open_account(i, &mut no).is_some();
                // An older version than the account's (a closed one's too) fails If-Match.
                if self.accounts.contains_key(&i) && if_match == Some(1) {
                    no.push((412, "version_mismatch"));
                }
                if open && no.is_empty() {
                    self.record(i, |a| a.balance += amount);
                }
            }
            Op::Withdraw(i, amount) => {
                if let Some(a) = self.open_account(i, &mut no) {
                    if amount > a.available() + a.limit {
                        no.push((422, "insufficient_funds"));
                    }
                }
                if no.is_empty() {
                    self.record(i, |a| a.balance -= amount);
                }
            }
            Op::Transfer {
                from,
                to,
                amount,
                id,
                pending,
                expires,
            } => {
                if from == to {
                    no.push((422, "same_account"));
                }
                if self.transfers.contains_key(&id) {
                    no.push((409, "transfer_exists"));
                }
                if let Some(a) = self.open_account(from, &mut no) {
                    if amount > a.available() + a.limit {
                        no.push((422, "insufficient_funds"));
                    }
                }
                self.open_account(to, &mut no);
                if no.is_empty() {
                    let status = if pending { "pending" } else { "posted" };
                    let posted = if pending { 0 } else { amount };
                    self.transfers.insert(
                        id,
                        Transfer {
                            from,
                            to,
                            amount,
                            posted,
                            status,
                            expires_at: expires.map(|e| self.now + e),
                        },
                    );
                    if pending {
                        self.record(from, |a| a.pending_out += amount);
                        self.record(to, |a| a.pending_in += amount);
                    } else {
                        self.record(from, |a| a.balance -= amount);
                        self.record(to, |a| a.balance += amount);
                    }
                }
            }
            Op::Post(id, amount) => {
                let Some(t) = self.transfers.get(&id).cloned() else {
                    return Err(vec![(404, "transfer_not_found")]);
                };
                self.still_pending(&t)?;
                let amount = amount.unwrap_or(t.remaining());
                if amount > t.remaining() {
                    return Err(vec![(422, "amount_exceeds_pending")]);
                }
                let t = self.transfers.entry(id).or_insert(t);
                t.posted += amount;
                if t.posted == t.amount {
                    t.status = "posted";
                }
                let (from, to) = (t.from, t.to);
                self.record(from, |a| {
                    a.pending_out -= amount;
                    a.balance -= amount;
                });
                self.record(to, |a| {
                    a.pending_in -= amount;
                    a.balance += amount;
                });
            }
            Op::Void(id) => {
                let Some(t) = self.transfers.get(&id).cloned() else {
                    return Err(vec![(404, "transfer_not_found")]);
                };
                self.still_pending(&t)?;
                let left = t.remaining();
                if let Some(t) = self.transfers.get_mut(&id) {
                    t.status = "voided";
                }
                self.record(t.from, |a| a.pending_out -= left);
                self.record(t.to, |a| a.pending_in -= left);
            }
            Op::Limit(i, limit) => {
                if let Some(a) = self.open_account(i, &mut no) {
                    if a.available() + limit < 0 {
                        no.push((422, "limit_below_debt"));
                    }
                }
                if no.is_empty() {
                    self.record(i, |a| a.limit = limit);
                }
            }
            Op::Close(i) => {
                if let Some(a) = self.open_account(i, &mut no) {
                    if a.pending_in > 0 || a.pending_out > 0 {
                        no.push((409, "pending_transfers"));
                    }
                    if a.balance != 0 {
                        no.push((422, "balance_not_zero"));
                    }
                }
                if no.is_empty() {
                    self.record(i, |a| a.closed = true);
                }
            }
        }
        if no.is_empty() {
            Ok(())
        } else {
            Err(no)
        }
    }
}

impl Model {
    /// A post or void on `t` is refused: expired (recorded or only due), or no longer pending.
    fn still_pending(&self, t: &Transfer) -> Expected {
        let due = t.expires_at.is_some_and(|at| self.now >= at);
        match t.status {
            "expired" => Err(vec![(409, "transfer_expired")]),
            "pending" if due => Err(vec![(409, "transfer_expired")]),
            "pending" => Ok(()),
            _ => Err(vec![(409, "transfer_not_pending")]),
        }
    }

    /// Records the expiry of every pending transfer due now, in the expirer's order
    /// (`expires_at`, then the id as text): each releases what remained on both sides.
    fn expire_due(&mut self) {
        let mut due: Vec<(i64, String, usize)> = self
            .transfers
            .iter()
            .filter(|(_, t)| t.status == "pending")
            .filter_map(|(&id, t)| {
                t.expires_at
                    .filter(|&at| at <= self.now)
                    .map(|at| (at, format!("t{id}"), id))
            })
            .collect();
        due.sort();
        for (_, _, id) in due {
            let Some(t) = self.transfers.get_mut(&id) else {
                continue;
            };
            let left = t.remaining();
            t.status = "expired";
            let (from, to) = (t.from, t.to);
            self.record(from, |a| a.pending_out -= left);
            self.record(to, |a| a.pending_in -= left);
        }
    }
}

/// Cents as the API writes USD: `"-12.05"`.
pub fn usd(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:02}",
        cents.unsigned_abs() / 100,
        cents.unsigned_abs() % 100
    )
}
