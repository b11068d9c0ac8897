//! Read-model conformance for batches wider than one statement: stores that apply a
//! batch with multi-row statements (SQLite: 200 rows each) cut it into several, and
//! what they write must still equal a fold of every event.

use ledger_application::commands::{AccountAction, OpenAccount};
use ledger_domain::{Currency, Owner};

use crate::fold::{all_accounts, expected, observed};
use crate::projections::{catch_up_all, ctx, dec, id, Harness};

const ACCOUNTS: usize = 450;

fn currency(a: usize) -> &'static str {
    if a.is_multiple_of(2) {
        "EUR"
    } else {
        "USD"
    }
}

/// 450 accounts opened and projected, then each deposited into and projected again, in
/// batches of 2,000 events (so the second batch reads 450 existing rows): every view,
/// total and audit entry as the fold says, and each row's owner and currency as opened.
pub async fn batches_of_many_accounts_equal_a_fold(h: Harness) {
    let commands = h.commands();
    for a in 0..ACCOUNTS {
        let req = OpenAccount {
            overdraft_limit: None,
            account_id: Some(id(&format!("wide-{a}"))),
            owner: Owner::parse(format!("owner-{}", a % 7)).expect("owner"),
            currency: Currency::parse(currency(a)).expect("currency"),
        };
        commands.open_account(req, &ctx(0)).await.expect("open");
    }
    catch_up_all(&h.runner(2000)).await;
    for a in 0..ACCOUNTS {
        let deposit = AccountAction::Deposit {
            amount: dec(&format!("{}.{:02}", 1 + a % 40, a % 100)),
            description: None,
        };
        commands
            .act(id(&format!("wide-{a}")), deposit, &ctx(1))
            .await
            .expect("deposit");
    }
    catch_up_all(&h.runner(2000)).await;
    let (want, got) = (expected(&h).await, observed(&h).await);
    assert_eq!(want.events, 2 * ACCOUNTS, "every event was projected");
    assert_eq!(got, want);
    let rows = all_accounts(&h).await;
    assert_eq!(rows.len(), ACCOUNTS);
    for row in rows {
        let a: usize = row.account_id["wide-".len()..].parse().expect("index");
        assert_eq!(row.owner, format!("owner-{}", a % 7), "{}", row.account_id);
        assert_eq!(row.currency.code(), currency(a), "{}", row.account_id);
    }
}
