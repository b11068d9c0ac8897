//! The conformance suite's own fold of every event in the feed, and what the read
//! models show in the same shape, so that the two can be compared.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use ledger_domain::{AccountEvent, AccountStatus};

use ledger_application::decode::{FeedDecoder, LedgerEvent};
use ledger_application::ports::readmodel::{AccountFilter, AuditFilter};
use ledger_application::ports::store::FeedCursor;

use crate::projections::Harness;

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Expected {
    balances: BTreeMap<String, (i128, u64, AccountStatus, i128, i128, u64)>,
    pub(crate) per_currency: BTreeMap<String, (i128, i64, i128, i128, i128, i64)>,
    pub(crate) events: usize,
}

/// Folds every event of the feed, independently of the projections.
pub(crate) async fn expected(h: &Harness) -> Expected {
    let total = h.store.count_after(FeedCursor::START).await.expect("count");
    for _ in 0..2000 {
        let e = expected_once(h).await;
        if e.events as u64 >= total {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the feed never showed every committed event");
}

async fn expected_once(h: &Harness) -> Expected {
    let mut e = Expected::default();
    let mut cursor = FeedCursor::START;
    let mut decoder = FeedDecoder::default();
    let mut currencies: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let page = h.store.read_feed(cursor, 500).await.expect("feed");
        if page.events.is_empty() {
            break;
        }
        for r in &page.events {
            e.events += 1;
            let ev = decoder.decode(h.store.as_ref(), r).await.expect("decode");
            let LedgerEvent::Account(ev) = ev else {
                let LedgerEvent::Transfer(t) = ev else {
                    continue;
                };
                let c = e
                    .per_currency
                    .entry(t.amount().currency().code().into())
                    .or_default();
                c.4 += i128::from(t.amount().minor_units());
                continue;
            };
            let row = e.balances.entry(r.stream_id.clone()).or_insert((
                0,
                0,
                AccountStatus::Open,
                0,
                0,
                0,
            ));
            row.1 = r.version;
            if let AccountEvent::Opened { currency, .. } = &ev {
                currencies.insert(r.stream_id.clone(), currency.code().into());
            }
            let cur = currencies.get(&r.stream_id).cloned().unwrap_or_default();
            let c = e.per_currency.entry(cur).or_default();
            let amount = i128::from(ev.amount().map_or(0, |m| m.minor_units()));
            match ev {
                AccountEvent::Deposited { .. } => {
                    row.0 += amount;
                    row.3 += amount;
                    row.5 += 1;
                    c.0 += amount;
                    c.2 += amount;
                }
                AccountEvent::TransferCredited { .. } => {
                    row.0 += amount;
                    row.3 += amount;
                    row.5 += 1;
                    c.0 += amount;
                }
                AccountEvent::Withdrawn { .. } => {
                    row.0 -= amount;
                    row.4 += amount;
                    row.5 += 1;
                    c.0 -= amount;
                    c.3 += amount;
                }
                AccountEvent::TransferDebited { .. } => {
                    row.0 -= amount;
                    row.4 += amount;
                    row.5 += 1;
                    c.0 -= amount;
                }
                AccountEvent::Closed { .. } => {
                    row.2 = AccountStatus::Closed;
                    c.5 += 1;
                }
                AccountEvent::Opened { .. } => c.1 += 1,
                // Not made by this workload (the pending-transfer suite checks those).
                AccountEvent::OverdraftLimitSet { .. }
                | AccountEvent::PendingReserved { .. }
                | AccountEvent::PendingPosted { .. }
                | AccountEvent::PendingReleased { .. } => {}
            }
        }
        cursor = page.next;
    }
    e
}

/// Every account row of the current-state view.
pub(crate) async fn all_accounts(h: &Harness) -> Vec<ledger_application::views::AccountView> {
    h.read
        .accounts(AccountFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("accounts")
}

/// What the read models show, in the shape of [`Expected`].
pub(crate) async fn observed(h: &Harness) -> Expected {
    let mut o = Expected::default();
    for a in all_accounts(h).await {
        o.balances.insert(
            a.account_id.clone(),
            (
                i128::from(a.balance.minor_units()),
                a.version,
                a.status,
                a.total_deposits.minor_units(),
                a.total_withdrawals.minor_units(),
                a.transaction_count,
            ),
        );
    }
    for s in h.read.summary().await.expect("summary") {
        let t = s.totals;
        o.per_currency.insert(
            s.currency.code().into(),
            (
                t.total_balance,
                t.open_accounts + t.closed_accounts,
                t.total_deposited,
                t.total_withdrawn,
                t.transfer_volume,
                t.closed_accounts,
            ),
        );
    }
    let mut before = None;
    let mut ids = HashSet::new();
    loop {
        let page = h
            .read
            .audit(AuditFilter {
                before,
                limit: 300,
                ..Default::default()
            })
            .await
            .expect("audit");
        let Some(last) = page.last() else { break };
        before = Some(last.position);
        for entry in page {
            assert!(ids.insert(entry.event_id), "audit entry twice");
        }
    }
    o.events = ids.len();
    o
}
