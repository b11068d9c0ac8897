//! A burst of expiries: 540 pending transfers over four accounts, due at three instants
//! (many at each), expired in one pass by another instance whose cache holds the
//! accounts from before the transfers were made. The view pages due transfers in their
//! order (`expires_at`, then the id byte by byte); the pass writes them in a few
//! appends (groups), decides a group again on the store's state when its cache
//! refuses an expiry, passes over one posted and one voided after the view last saw
//! them, records every other once, and each account records its expiries in due order.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use ledger_application::batch::BatchOperation;
use ledger_application::commands::{AccountAction, CommandContext, CommandService, OpenAccount};
use ledger_application::expirer::{
    Expirer, EXPIRER_ACTOR, EXPIRER_BATCH, EXPIRY_GROUP, STEP_PAGES,
};
use ledger_application::ports::store::StreamQuery;
use ledger_application::ports::system::{Clock, SystemClock};
use ledger_application::transfers::TransferRequest;
use ledger_domain::{AccountId, Currency, Decimal, Owner, TransferId};

use crate::expiry_faults::{Counting, Fault};
use crate::projections::{catch_up_all, Harness};

const TRANSFERS: usize = 720;

/// A clock the test sets.
pub(crate) struct Set(pub(crate) Mutex<DateTime<Utc>>);

impl Clock for Set {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

pub(crate) fn ctx() -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new("burst-suite", Default::default()),
        ..Default::default()
    }
}

fn account(a: usize) -> AccountId {
    AccountId::parse(format!("eb-{a}")).expect("id")
}

fn parties(t: usize) -> (usize, usize) {
    (t % 4, (t + 1 + t / 4) % 4)
}

fn dec(s: &str) -> Decimal {
    Decimal::parse(s).expect("amount")
}

/// A pending transfer `id` of `amount` from `eb-{from}` to `eb-{to}`, expiring 60 s
/// after it is made.
pub(crate) fn hold(id: &str, (from, to): (usize, usize), amount: &str) -> TransferRequest {
    TransferRequest {
        transfer_id: Some(TransferId::parse(id).expect("id")),
        from: account(from),
        to: account(to),
        amount: dec(amount),
        description: None,
        pending: true,
        expires_in_seconds: Some(60),
    }
}

/// Opens `eb-0` .. `eb-{n-1}`, each with `amount` deposited.
pub(crate) async fn open_funded(commands: &CommandService, n: usize, amount: &str) {
    for a in 0..n {
        let open = OpenAccount {
            account_id: Some(account(a)),
            owner: Owner::parse("owner").expect("owner"),
            currency: Currency::parse("USD").expect("USD"),
            overdraft_limit: None,
        };
        commands.open_account(open, &ctx()).await.expect("open");
        let deposit = AccountAction::Deposit {
            amount: dec(amount),
            description: None,
        };
        let deposited = commands.act(account(a), deposit, &ctx()).await;
        deposited.expect("deposit");
    }
}

/// The workload, then the checks.
pub async fn a_burst_of_expiries_is_recorded_once_in_due_order(h: Harness) {
    let counting = Arc::new(Counting::new(h.store.clone(), Fault::None));
    let later = Utc::now() + Duration::hours(1);
    let expiring = Harness::cached_commands_on(counting.clone(), Arc::new(SystemClock));
    // The expiring instance caches the accounts as they are before any transfer.
    open_funded(&expiring, 4, "10000").await;
    let start = Utc::now();
    let clock = Arc::new(Set(Mutex::new(start)));
    let commands = Harness::cached_commands_on(h.store.clone(), clock.clone());
    for t in (0..TRANSFERS).filter(|&t| parties(t).0 != parties(t).1) {
        // Due at three instants, many at each, in an order that is not the ids'.
        *clock.0.lock().expect("clock") = start + Duration::seconds((t % 3) as i64);
        let req = hold(&format!("ebt-{t}"), parties(t), "1.5");
        commands.transfer(req, &ctx()).await.expect("reserve");
    }
    catch_up_all(&h.runner(50)).await;
    let due = h.read.due_transfers(later, None, 1000).await.expect("due");
    assert!(due.len() > EXPIRER_BATCH, "{} due", due.len());
    assert!(due.windows(2).all(|w| w[0] < w[1]), "in order");
    assert!(due.windows(2).any(|w| w[0].expires_at == w[1].expires_at));
    let mut paged = Vec::new();
    loop {
        let page = h.read.due_transfers(later, paged.last(), 7).await;
        let page = page.expect("page");
        if page.is_empty() {
            break;
        }
        paged.extend(page);
    }
    assert_eq!(paged, due, "paged 7 at a time");
    let due: Vec<String> = due.into_iter().map(|d| d.transfer_id).collect();
    // Settled after the view last saw them: it still shows them pending.
    let (posted, voided) = (
        TransferId::parse(due[7].clone()).expect("id"),
        TransferId::parse(due[EXPIRER_BATCH + 5].clone()).expect("id"),
    );
    let post = commands.post_transfer(posted.clone(), None, &ctx()).await;
    post.expect("post");
    let void = commands.void_transfer(voided.clone(), None, &ctx()).await;
    void.expect("void");

    let expirer = Expirer::new(expiring, h.read.clone(), Arc::new(Set(Mutex::new(later))));
    let before = counting.appends();
    let stepped = expirer.step().await.expect("expirer");
    let appends = counting.appends() - before;
    assert_eq!(
        stepped.recorded,
        due.len() - 2,
        "each still pending expired once"
    );
    assert!(!stepped.more, "all read in one step");
    assert!(
        appends <= due.len().div_ceil(EXPIRY_GROUP) + 2,
        "{appends} appends: groups, not one each"
    );
    let again = expirer.step().await.expect("again");
    assert_eq!(again.recorded, 0, "none twice");

    let settled = [posted.as_str(), voided.as_str()];
    for a in 0..4 {
        let id = account(a);
        let events = h
            .store
            .read_stream(StreamQuery {
                stream_id: id.as_str(),
                after_version: 0,
                until: None,
                limit: 100_000,
            })
            .await
            .expect("read");
        let expired: Vec<String> = events
            .iter()
            .filter(|e| e.metadata.actor == EXPIRER_ACTOR)
            .map(|e| e.metadata.correlation_id.clone().expect("the transfer"))
            .collect();
        let mut want = Vec::new();
        for t in &due {
            let (from, to) = parties(t["ebt-".len()..].parse().expect("n"));
            if (from == a || to == a) && !settled.contains(&t.as_str()) {
                want.push(t.clone());
            }
        }
        assert_eq!(expired, want, "{id}: its expiries in due order");
    }
}

/// More due than one step reads, and a view that has not caught up with the first
/// step's expiries: the next step goes on from where the first stopped (it does not
/// read again what the view still shows pending), and records the rest. The expirer's
/// own logic: one store suffices.
pub async fn a_long_burst_goes_on_where_the_last_step_stopped(h: Harness) {
    let commands = h.commands();
    open_funded(&commands, 2, "100000").await;
    let total = STEP_PAGES * EXPIRER_BATCH + 200;
    for b in 0..total / 100 {
        let ops = (0..100)
            .map(|i| {
                BatchOperation::Transfer(hold(&format!("lb-{b}-{i}"), (i % 2, 1 - i % 2), "0.01"))
            })
            .collect();
        let made = commands.atomic_batch(ops, &ctx()).await.expect("batch");
        made.expect("made");
    }
    catch_up_all(&h.runner(500)).await;
    let later = Arc::new(Set(Mutex::new(Utc::now() + Duration::hours(1))));
    let expirer = Expirer::new(commands, h.read.clone(), later);
    let first = expirer.step().await.expect("first");
    assert_eq!(first.recorded, STEP_PAGES * EXPIRER_BATCH);
    assert!(first.more, "more is due");
    // The view still shows all of them pending.
    let second = expirer.step().await.expect("second");
    assert_eq!(
        second.recorded, 200,
        "the rest, after where the first stopped"
    );
    assert!(!second.more);
}
