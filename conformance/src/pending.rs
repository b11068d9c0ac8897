//! The pending-transfer part of the read-model suite: after pending transfers, partial
//! posts, voids, limit changes and expiries (by two expirers at once), the current-state
//! and transfers views equal the aggregates' own state, the analytics' pending volume
//! equals what the accounts hold, each expiry is recorded once, and a rebuild gives
//! identical views.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ledger_application::commands::{AccountAction, CommandContext, OpenAccount};
use ledger_application::expirer::Expirer;
use ledger_application::ports::readmodel::{AccountFilter, TransferFilter, PROJECTIONS};
use ledger_application::ports::store::FeedCursor;
use ledger_application::ports::system::Clock;
use ledger_application::repository::Repository;
use ledger_application::transfer_views::{TransferRow, TransferView};
use ledger_application::transfers::{transfer_stream, TransferRequest};
use ledger_domain::{Account, AccountId, Currency, Decimal, Owner, Transfer, TransferId};

use crate::projections::{catch_up_all, Harness, NoSnapshots};

struct Later(DateTime<Utc>);

impl Clock for Later {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn ctx() -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new("pending-suite", Default::default()),
        ..Default::default()
    }
}

fn id(s: &str) -> AccountId {
    AccountId::parse(s).expect("id")
}

fn dec(s: &str) -> Decimal {
    Decimal::parse(s).expect("amount")
}

/// Accounts' (balance, pending out, pending in, limit) and transfers, as the views show.
type Shown = (BTreeMap<String, [i64; 4]>, Vec<TransferRow>, i128);

async fn shown(h: &Harness) -> Shown {
    let accounts = h
        .read
        .accounts(AccountFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("accounts");
    let map = accounts
        .iter()
        .map(|a| {
            let m = [a.balance, a.pending_out, a.pending_in, a.overdraft_limit];
            (a.account_id.clone(), m.map(|m| m.minor_units()))
        })
        .collect();
    let transfers = h
        .read
        .transfers(TransferFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("transfers");
    let pending: i128 = h
        .read
        .summary()
        .await
        .expect("summary")
        .iter()
        .map(|s| s.totals.pending_volume)
        .sum();
    (map, transfers, pending)
}

/// The workload, then the checks.
pub async fn pending_views_match_the_aggregates(h: Harness) {
    let commands = h.commands();
    for a in 0..6 {
        let req = OpenAccount {
            account_id: Some(id(&format!("p-{a}"))),
            owner: Owner::parse("owner").expect("owner"),
            currency: Currency::parse("USD").expect("USD"),
            overdraft_limit: (a % 2 == 0).then(|| dec("25")),
        };
        commands.open_account(req, &ctx()).await.expect("open");
        let deposit = AccountAction::Deposit {
            amount: dec("100"),
            description: None,
        };
        commands
            .act(id(&format!("p-{a}")), deposit, &ctx())
            .await
            .expect("deposit");
    }
    for t in 0..30usize {
        let req = TransferRequest {
            transfer_id: Some(TransferId::parse(format!("pt-{t}")).expect("id")),
            from: id(&format!("p-{}", t % 6)),
            to: id(&format!("p-{}", (t + 1 + t / 6) % 6)),
            amount: dec(&format!("{}.25", 1 + t % 9)),
            description: None,
            pending: true,
            expires_in_seconds: (t % 3 == 0).then_some(60),
        };
        let _ = commands.transfer(req, &ctx()).await;
    }
    for t in 0..30usize {
        let tid = TransferId::parse(format!("pt-{t}")).expect("id");
        let _ = match t % 5 {
            0 | 1 => commands.post_transfer(tid, Some(dec("1")), &ctx()).await,
            2 => commands.post_transfer(tid, None, &ctx()).await,
            3 => commands.void_transfer(tid, None, &ctx()).await,
            _ => continue,
        };
    }
    let limit = AccountAction::SetLimit {
        overdraft_limit: dec("40"),
    };
    let _ = commands.act(id("p-1"), limit, &ctx()).await;
    catch_up_all(&h.runner(7)).await;
    // Two expirers at once (two instances: each its own cache and locks), an hour later:
    // every due transfer expires exactly once.
    let at = Utc::now() + Duration::hours(1);
    let due = h
        .read
        .due_transfers(at, None, 1000)
        .await
        .expect("due")
        .len();
    let now_due = h.read.due_transfers(Utc::now(), None, 1000).await;
    let now_due = now_due.expect("due");
    assert!(now_due.is_empty(), "nothing is due before its time");
    let later: Arc<dyn Clock> = Arc::new(Later(at));
    let (one, two) = (
        Expirer::new(commands.clone(), h.read.clone(), later.clone()),
        Expirer::new(h.commands(), h.read.clone(), later),
    );
    let (a, b) = tokio::join!(one.step(), two.step());
    let recorded = a.expect("expirer").recorded + b.expect("expirer").recorded;
    assert!(due >= 4, "{due} transfers were due");
    assert_eq!(recorded, due, "each due transfer expired once");
    catch_up_all(&h.runner(7)).await;

    let repo = Repository::new(h.store.clone(), Arc::new(NoSnapshots), 0);
    let (accounts, transfers, pending_volume) = shown(&h).await;
    let mut held = 0i128;
    for (account, shown) in &accounts {
        let state = repo.load_fresh::<Account>(account).await.expect("load");
        let d = state.state.details().expect("opened");
        let want = [d.balance, d.pending_out, d.pending_in, d.overdraft_limit];
        assert_eq!(*shown, want.map(|m| m.minor_units()), "{account}");
        assert!(d.available().minor_units() + d.overdraft_limit.minor_units() >= 0);
        held += i128::from(d.pending_out.minor_units());
    }
    assert_eq!(
        pending_volume, held,
        "the pending volume is what accounts hold"
    );
    assert_eq!(transfers.len(), 30);
    for row in &transfers {
        let tid = TransferId::parse(row.view.transfer_id.clone()).expect("id");
        let state = repo
            .load_fresh::<Transfer>(&transfer_stream(&tid))
            .await
            .expect("load");
        let want = TransferView::of(state.state.details().expect("exists"));
        assert_eq!(row.view, want);
    }
    for account in accounts.keys() {
        one_account_s_transfers(&h, account, &transfers).await;
    }
    let runner = h.runner(5);
    runner
        .rebuild_many(&PROJECTIONS, &|_| {})
        .await
        .expect("rebuild");
    assert_eq!(shown(&h).await, (accounts, transfers, pending_volume));
    assert!(h.store.count_after(FeedCursor::START).await.expect("count") > 100);
}

/// `transfers` filtered by one account, by status and paged two at a time are the
/// whole list's rows from or to it, newest first.
async fn one_account_s_transfers(h: &Harness, account: &str, all: &[TransferRow]) {
    let of =
        |r: &&TransferRow| r.view.from_account_id == account || r.view.to_account_id == account;
    let want: Vec<&TransferRow> = all.iter().filter(of).collect();
    let filter = |before, status| TransferFilter {
        account_id: Some(account.to_owned()),
        status,
        before,
        limit: 2,
        ..Default::default()
    };
    let (mut paged, mut before) = (Vec::new(), None);
    loop {
        let page = h.read.transfers(filter(before, None)).await.expect("page");
        before = page.last().map(|r| r.created_position);
        let last = page.len() < 2;
        paged.extend(page);
        if last {
            break;
        }
    }
    assert_eq!(paged.iter().collect::<Vec<_>>(), want, "{account}, paged");
    let pending = Some(ledger_domain::TransferStatus::Pending);
    let mut only = filter(None, pending);
    only.limit = 1000;
    let shown = h.read.transfers(only).await.expect("by status");
    let want_pending: Vec<&TransferRow> = want
        .into_iter()
        .filter(|r| r.view.status == ledger_domain::TransferStatus::Pending)
        .collect();
    assert_eq!(
        shown.iter().collect::<Vec<_>>(),
        want_pending,
        "{account}, pending"
    );
}
