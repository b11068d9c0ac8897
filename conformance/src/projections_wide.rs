//! Read-model conformance for batches wider than one statement: stores that apply a
//! batch with multi-row statements (SQLite: 200 rows each) cut it into several, and
//! what they write must still equal a fold of every event.

use ledger_application::commands::{AccountAction, OpenAccount};
use ledger_domain::{Currency, Owner};

use crate::projections::{catch_up_all, ctx, dec, expected, id, observed, Harness};

/// 450 accounts opened and each deposited into, projected in batches of 2,000 events:
/// every view, total and audit entry as the fold says.
pub async fn batches_of_many_accounts_equal_a_fold(h: Harness) {
    let commands = h.commands();
    for a in 0..450 {
        let currency = if a % 2 == 0 { "EUR" } else { "USD" };
        let req = OpenAccount {
            overdraft_limit: None,
            account_id: Some(id(&format!("wide-{a}"))),
            owner: Owner::parse("Wide").expect("owner"),
            currency: Currency::parse(currency).expect("currency"),
        };
        commands.open_account(req, &ctx(0)).await.expect("open");
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
    assert_eq!(want.events, 900, "every event was projected");
    assert_eq!(got, want);
}
