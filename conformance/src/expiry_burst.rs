//! A burst of expiries: 540 pending transfers over four accounts, all due, expired in
//! one pass (two pages of the view, several groups of one append each). The view pages
//! due transfers by their order; every one still pending is recorded once, one posted
//! and one voided after the view last saw them are passed over, and each account
//! records its expiries in the order they fell due, as one after another would.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ledger_application::commands::{AccountAction, CommandContext, OpenAccount};
use ledger_application::expirer::{Expirer, EXPIRER_ACTOR, EXPIRER_BATCH};
use ledger_application::ports::store::StreamQuery;
use ledger_application::ports::system::Clock;
use ledger_application::transfers::TransferRequest;
use ledger_domain::{AccountId, Currency, Decimal, Owner, TransferId};

use crate::projections::{catch_up_all, Harness};

const TRANSFERS: usize = 720;

struct Later(DateTime<Utc>);

impl Clock for Later {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn ctx() -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new("burst-suite", Default::default()),
        ..Default::default()
    }
}

fn account(a: usize) -> AccountId {
    AccountId::parse(format!("eb-{a}")).expect("id")
}

fn transfer(t: usize) -> TransferId {
    TransferId::parse(format!("ebt-{t}")).expect("id")
}

fn dec(s: &str) -> Decimal {
    Decimal::parse(s).expect("amount")
}

/// The workload, then the checks.
pub async fn a_burst_of_expiries_is_recorded_once_in_due_order(h: Harness) {
    let commands = h.commands();
    for a in 0..4 {
        let open = OpenAccount {
            account_id: Some(account(a)),
            owner: Owner::parse("owner").expect("owner"),
            currency: Currency::parse("USD").expect("USD"),
            overdraft_limit: None,
        };
        commands.open_account(open, &ctx()).await.expect("open");
        let deposit = AccountAction::Deposit {
            amount: dec("10000"),
            description: None,
        };
        commands
            .act(account(a), deposit, &ctx())
            .await
            .expect("deposit");
    }
    for t in 0..TRANSFERS {
        let req = TransferRequest {
            transfer_id: Some(transfer(t)),
            from: account(t % 4),
            to: account((t + 1 + t / 4) % 4),
            amount: dec("1.5"),
            description: None,
            pending: true,
            expires_in_seconds: Some(60),
        };
        let (from, to) = (req.from.clone(), req.to.clone());
        if from != to {
            commands.transfer(req, &ctx()).await.expect("reserve");
        }
    }
    catch_up_all(&h.runner(50)).await;
    let at = Utc::now() + Duration::hours(1);
    let due = h.read.due_transfers(at, None, 1000).await.expect("due");
    assert!(due.len() > EXPIRER_BATCH, "{} due", due.len());
    assert!(due.windows(2).all(|w| w[0] < w[1]), "in order");
    let mut paged = Vec::new();
    loop {
        let page = h.read.due_transfers(at, paged.last(), 7).await;
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
    commands
        .post_transfer(posted.clone(), None, &ctx())
        .await
        .expect("post");
    commands
        .void_transfer(voided.clone(), None, &ctx())
        .await
        .expect("void");

    let expirer = Expirer::new(commands.clone(), h.read.clone(), Arc::new(Later(at)));
    let stepped = expirer.step().await.expect("expirer");
    assert_eq!(
        stepped.recorded,
        due.len() - 2,
        "each still pending expired once"
    );
    assert!(!stepped.more, "all read in one step");
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
            let n: usize = t["ebt-".len()..].parse().expect("n");
            let (from, to) = (n % 4, (n + 1 + n / 4) % 4);
            if (from == a || to == a) && !settled.contains(&t.as_str()) {
                want.push(t.clone());
            }
        }
        assert_eq!(expired, want, "{id}: its expiries in due order");
    }
}
