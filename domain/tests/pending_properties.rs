//! Random sequences of deposits, withdrawals, pending transfers, posts, voids, expiries
//! and limit changes over three accounts: `available` + `overdraft_limit` never goes
//! below zero, the sum of balances equals deposits less withdrawals, pending amounts
//! equal what remains of the pending transfers, and no transfer posts beyond its amount.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ledger_domain::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Deposit(usize, u32),
    Withdraw(usize, u32),
    Reserve(usize, usize, u32, Option<u8>),
    Post(usize, Option<u32>),
    Void(usize),
    Expire(usize),
    Limit(usize, u32),
    Tick(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..5000u32).prop_map(|(a, n)| Op::Deposit(a, n)),
        (0..3usize, 1..5000u32).prop_map(|(a, n)| Op::Withdraw(a, n)),
        (
            0..3usize,
            0..3usize,
            1..5000u32,
            proptest::option::of(1..20u8)
        )
            .prop_map(|(a, b, n, e)| Op::Reserve(a, b, n, e)),
        (0..8usize, proptest::option::of(1..3000u32)).prop_map(|(t, n)| Op::Post(t, n)),
        (0..8usize).prop_map(Op::Void),
        (0..8usize).prop_map(Op::Expire),
        (0..3usize, 0..3000u32).prop_map(|(a, n)| Op::Limit(a, n)),
        (1..10u8).prop_map(Op::Tick),
    ]
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}
fn cents(n: u32) -> Decimal {
    Decimal::parse(&format!("{}.{:02}", n / 100, n % 100)).unwrap()
}
fn name(i: usize) -> AccountId {
    AccountId::parse(format!("acc-{i}")).unwrap()
}

struct World {
    accounts: Vec<Account>,
    transfers: Vec<Transfer>,
    now: DateTime<Utc>,
    external: i64,
}

impl World {
    fn new() -> Self {
        let accounts = (0..3)
            .map(|i| {
                let a = Account::default();
                let events = a
                    .decide(&AccountCommand::Open {
                        id: name(i),
                        owner: Owner::parse("Ada").unwrap(),
                        currency: usd(),
                        overdraft_limit: None,
                    })
                    .unwrap();
                fold(a, &events)
            })
            .collect();
        Self {
            accounts,
            transfers: Vec::new(),
            now: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
            external: 0,
        }
    }

    fn act(&mut self, a: usize, command: AccountCommand) -> Result<(), DomainError> {
        let events = self.accounts[a].decide(&command)?;
        for e in &events {
            match e {
                AccountEvent::Deposited { amount, .. } => self.external += amount.minor_units(),
                AccountEvent::Withdrawn { amount, .. } => self.external -= amount.minor_units(),
                _ => {}
            }
        }
        self.accounts[a] = fold(self.accounts[a].clone(), &events);
        Ok(())
    }

    fn apply(&mut self, plan: TransferPlan, from: usize, to: usize, t: usize) {
        self.accounts[from] = fold(self.accounts[from].clone(), &plan.debit);
        self.accounts[to] = fold(self.accounts[to].clone(), &plan.credit);
        self.transfers[t] = fold(self.transfers[t].clone(), &plan.record);
    }

    fn index(&self, id: &AccountId) -> usize {
        (0..3).find(|&i| name(i) == *id).unwrap()
    }

    fn settle(&mut self, t: usize, s: Settlement) {
        let Some(rec) = self.transfers.get(t).and_then(|x| x.recorded()).cloned() else {
            return;
        };
        let (f, to) = (self.index(&rec.from), self.index(&rec.to));
        let plan = plan_settlement(
            &s,
            self.now,
            &self.transfers[t],
            &self.accounts[f],
            &self.accounts[to],
        );
        if let Ok(plan) = plan {
            self.apply(plan, f, to, t);
        }
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Deposit(a, n) => {
                let _ = self.act(
                    a,
                    AccountCommand::Deposit {
                        amount: cents(n),
                        description: None,
                    },
                );
            }
            Op::Withdraw(a, n) => {
                let _ = self.act(
                    a,
                    AccountCommand::Withdraw {
                        amount: cents(n),
                        description: None,
                    },
                );
            }
            Op::Limit(a, n) => {
                let _ = self.act(a, AccountCommand::SetOverdraftLimit { limit: cents(n) });
            }
            Op::Reserve(a, b, n, expires) => {
                let order = TransferOrder {
                    transfer_id: TransferId::parse(format!("t{}", self.transfers.len())).unwrap(),
                    from: name(a),
                    to: name(b),
                    amount: cents(n),
                    description: None,
                    pending: true,
                    expires_at: expires.map(|s| self.now + Duration::seconds(i64::from(s))),
                };
                let plan = plan_transfer(
                    &order,
                    &self.accounts[a],
                    &self.accounts[b],
                    &Transfer::default(),
                );
                if let Ok(plan) = plan {
                    self.transfers.push(Transfer::default());
                    let t = self.transfers.len() - 1;
                    self.apply(plan, a, b, t);
                }
            }
            Op::Post(t, n) => self.settle(t, Settlement::Post(n.map(cents))),
            Op::Void(t) => self.settle(t, Settlement::Void(None)),
            Op::Expire(t) => self.settle(t, Settlement::Expire),
            Op::Tick(s) => self.now += Duration::seconds(i64::from(s)),
        }
    }

    fn check(&self) {
        let mut balances = 0i64;
        let (mut out, mut inn) = (vec![0i64; 3], vec![0i64; 3]);
        for t in self.transfers.iter().filter_map(Transfer::details) {
            assert!(
                t.posted.minor_units() + t.remaining.minor_units()
                    <= t.transfer.amount.minor_units()
            );
            assert!(t.posted.minor_units() >= 0 && t.remaining.minor_units() >= 0);
            if t.status == TransferStatus::Pending {
                out[self.index(&t.transfer.from)] += t.remaining.minor_units();
                inn[self.index(&t.transfer.to)] += t.remaining.minor_units();
            } else {
                assert_eq!(t.remaining.minor_units(), 0);
            }
        }
        for (i, a) in self.accounts.iter().enumerate() {
            let d = a.details().unwrap();
            assert!(
                d.available().minor_units() + d.overdraft_limit.minor_units() >= 0,
                "{d:?}"
            );
            assert_eq!(d.pending_out.minor_units(), out[i]);
            assert_eq!(d.pending_in.minor_units(), inn[i]);
            balances += d.balance.minor_units();
        }
        assert_eq!(balances, self.external, "money is conserved");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn pending_transfers_keep_every_invariant(ops in proptest::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        for op in ops {
            world.step(op);
            world.check();
        }
    }
}
