//! Pass 4 of `ledger verify`, continued: each transfer's legs against its record. A
//! transfer is one append of three streams (the payer's leg, the payee's, the
//! transfer's own record), and each account's figures are checked on their own
//! (`verify_arithmetic`). Without this, a forged transfer whose legs disagree (a debit
//! of 1.00 and a credit of 1,000.00, each adding up in its own account) created money,
//! and verify found nothing (black-box testing, twenty-ninth session).
//!
//! Per transfer, three flows must be the same on its record, its debit leg and its
//! credit leg: what was reserved, what moved (at once, or posted) and what was released
//! (voided or expired); and each leg must be on the account its record names, in its
//! currency. A transfer whose flows agree once it has ended is let go as it is met, so
//! memory holds only the transfers still pending (and any that disagree).

use std::collections::HashMap;

use ledger_domain::{AccountEvent, Currency, Leg, Money, TransferEvent, TransferId};

use crate::decode::LedgerEvent;
use crate::ports::store::RecordedEvent;
use crate::transfers::transfer_stream;
use crate::verify::{Finding, Pass};
use crate::verify_models::Decoded;

/// Which stream gave a figure: the record, the debit leg, the credit leg.
const RECORD: usize = 0;
const DEBIT: usize = 1;
const CREDIT: usize = 2;

/// A flow's total (minor units) as the record, the debit leg and the credit leg give it.
type Flow = [i128; 3];

/// What was reserved, what moved, what was released.
#[derive(Clone, Copy)]
enum Kind {
    Reserved = 0,
    Moved = 1,
    Released = 2,
}

const KINDS: [(Kind, &str); 3] = [
    (Kind::Reserved, "reserved"),
    (Kind::Moved, "moved"),
    (Kind::Released, "released"),
];

/// One transfer as its events give it so far.
#[derive(Default)]
struct Transfer {
    /// The record's payer, payee and currency, once met; and whether it is pending.
    record: Option<(String, String, Currency, bool)>,
    /// The account and currency each leg was on: debit, credit.
    legs: [Option<(String, Currency)>; 2],
    flows: [Flow; 3],
    /// What no flow shows (a leg on two accounts, a record written twice).
    stray: Option<String>,
    /// The position of the last of its events met.
    last: u64,
}

impl Transfer {
    fn leg(&mut self, side: usize, account: &str, amount: Money, held_in: Option<Currency>) {
        if let Some(c) = held_in.filter(|c| *c != amount.currency()) {
            let why = format!(
                "a leg of {} {} on {account}, an account in {}",
                amount,
                amount.currency().code(),
                c.code()
            );
            self.stray.get_or_insert(why);
        }
        let on = &mut self.legs[side - 1];
        match on {
            None => *on = Some((account.to_owned(), amount.currency())),
            Some((a, c)) if a == account && *c == amount.currency() => {}
            Some((a, c)) => {
                let why = format!(
                    "one leg is on {a} in {}, another on {account} in {}",
                    c.code(),
                    amount.currency().code()
                );
                self.stray.get_or_insert(why);
            }
        }
    }

    fn recorded(&mut self, from: &str, to: &str, amount: Money, pending: bool) {
        if self.record.is_some() {
            self.stray
                .get_or_insert("its record is written twice".into());
            return;
        }
        self.record = Some((from.into(), to.into(), amount.currency(), pending));
    }

    fn add(&mut self, kind: Kind, side: usize, amount: Money) {
        self.flows[kind as usize][side] += i128::from(amount.minor_units());
    }

    /// Posted at once, or pending with nothing left held.
    fn ended(&self) -> bool {
        let [reserved, moved, released] = self.flows.map(|f| f[RECORD]);
        match self.record {
            Some((.., pending)) => !pending || reserved == moved + released,
            None => false,
        }
    }

    /// What does not agree, if anything.
    fn disagreement(&self) -> Option<String> {
        if let Some(stray) = &self.stray {
            return Some(stray.clone());
        }
        let Some((from, to, currency, pending)) = &self.record else {
            // Met after the transfer ended (and was let go), or with no transfer made.
            let on_record = self.flows.iter().any(|f| f[RECORD] != 0);
            return Some(match on_record {
                true => "an event of its stream after it ended, or with no transfer made".into(),
                false => "its legs have no record of the transfer".into(),
            });
        };
        for (on, named, side) in [
            (&self.legs[0], from, "debit"),
            (&self.legs[1], to, "credit"),
        ] {
            match on {
                Some((account, c)) if account != named || c != currency => {
                    return Some(format!(
                        "its {side} leg is on {account} in {}, its record names {named} in {}",
                        c.code(),
                        currency.code()
                    ))
                }
                _ => {}
            }
        }
        let text = |minor: i128| match i64::try_from(minor) {
            Ok(m) => Money::from_minor(m, *currency).to_string(),
            Err(_) => format!("{minor} minor units"),
        };
        let [reserved, moved, released] = self.flows.map(|f| f[RECORD]);
        if *pending && moved + released > reserved {
            return Some(format!(
                "{} posted and {} released of the {} reserved",
                text(moved),
                text(released),
                text(reserved)
            ));
        }
        for (kind, name) in KINDS {
            let flow = self.flows[kind as usize];
            if flow[DEBIT] != flow[RECORD] || flow[CREDIT] != flow[RECORD] {
                return Some(format!(
                    "{name}: {} on its record, {} on its debit leg, {} on its credit leg",
                    text(flow[RECORD]),
                    text(flow[DEBIT]),
                    text(flow[CREDIT])
                ));
            }
        }
        None
    }
}

/// Every transfer's legs against its record, over the whole feed.
#[derive(Default)]
pub(crate) struct LegsFold {
    open: HashMap<TransferId, Transfer>,
}

impl LegsFold {
    /// Adds one event (other events, and ones that cannot be read, are passed over).
    pub(crate) fn apply(&mut self, e: &RecordedEvent, decoded: &Decoded) {
        use AccountEvent as A;
        use TransferEvent as T;
        let side = |leg: &Leg| match leg {
            Leg::Debit => DEBIT,
            Leg::Credit => CREDIT,
        };
        let Ok((event, held_in)) = decoded else {
            return;
        };
        let (id, kind, at, amount) = match event {
            LedgerEvent::Account(a) => match a {
                A::TransferDebited {
                    transfer_id,
                    amount,
                    ..
                } => (transfer_id, Kind::Moved, DEBIT, amount),
                A::TransferCredited {
                    transfer_id,
                    amount,
                    ..
                } => (transfer_id, Kind::Moved, CREDIT, amount),
                A::PendingReserved {
                    transfer_id,
                    leg,
                    amount,
                    ..
                } => (transfer_id, Kind::Reserved, side(leg), amount),
                A::PendingPosted {
                    transfer_id,
                    leg,
                    amount,
                    ..
                } => (transfer_id, Kind::Moved, side(leg), amount),
                A::PendingReleased {
                    transfer_id,
                    leg,
                    amount,
                    ..
                } => (transfer_id, Kind::Released, side(leg), amount),
                _ => return,
            },
            LedgerEvent::Transfer(t) => match t {
                T::Recorded(r) => (&r.transfer_id, Kind::Moved, RECORD, &r.amount),
                T::PendingCreated { transfer: r, .. } => {
                    (&r.transfer_id, Kind::Reserved, RECORD, &r.amount)
                }
                T::Posted {
                    transfer_id,
                    amount,
                    ..
                } => (transfer_id, Kind::Moved, RECORD, amount),
                T::Voided {
                    transfer_id,
                    released,
                    ..
                }
                | T::Expired {
                    transfer_id,
                    released,
                    ..
                } => (transfer_id, Kind::Released, RECORD, released),
            },
            LedgerEvent::Sealed(_) => return,
        };
        let transfer = self.open.entry(id.clone()).or_default();
        match event {
            LedgerEvent::Transfer(T::Recorded(r)) => {
                transfer.recorded(r.from.as_str(), r.to.as_str(), r.amount, false)
            }
            LedgerEvent::Transfer(T::PendingCreated { transfer: r, .. }) => {
                transfer.recorded(r.from.as_str(), r.to.as_str(), r.amount, true)
            }
            LedgerEvent::Account(_) => transfer.leg(at, &e.stream_id, *amount, *held_in),
            _ => {}
        }
        transfer.add(kind, at, *amount);
        transfer.last = e.cursor.position;
        if transfer.ended() && transfer.disagreement().is_none() {
            self.open.remove(id);
        }
    }

    /// A finding for each transfer whose legs and record disagree.
    pub(crate) fn finish(self, findings: &mut Vec<Finding>) {
        for (id, transfer) in self.open {
            if let Some(why) = transfer.disagreement() {
                findings.push(Finding {
                    pass: Pass::ReadModels,
                    stream_id: Some(transfer_stream(&id)),
                    version: None,
                    position: Some(transfer.last),
                    detail: format!("the transfer's legs and record disagree: {why}"),
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "verify_legs_tests.rs"]
mod tests;
