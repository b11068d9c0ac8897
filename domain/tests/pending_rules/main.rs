//! Pending transfers, available balances and overdraft limits, as given/when/then
//! scenarios: every transition and every refusal.
//! `transitions.rs`: reserve, post, void, expire; `limits.rs`: overdraft limits;
//! `stored_form.rs`: the new events' stored form.

mod limits;
mod stored_form;
mod transitions;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ledger_domain::testkit::given;
use ledger_domain::*;

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}
fn id(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}
fn tid() -> TransferId {
    TransferId::parse("t1").unwrap()
}
fn dec(s: &str) -> Decimal {
    Decimal::parse(s).unwrap()
}
fn m(minor: i64) -> Money {
    Money::from_minor(minor, usd())
}
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}
fn opened(account: &str) -> AccountEvent {
    AccountEvent::Opened {
        account_id: id(account),
        owner: Owner::parse("Ada").unwrap(),
        currency: usd(),
    }
}
fn deposited(account: &str, amount: i64, balance: i64) -> AccountEvent {
    AccountEvent::Deposited {
        account_id: id(account),
        amount: m(amount),
        balance: m(balance),
        description: None,
    }
}
fn account(events: &[AccountEvent]) -> Account {
    fold(Account::default(), events)
}
fn order(amount: &str, expires_at: Option<DateTime<Utc>>) -> TransferOrder {
    TransferOrder {
        transfer_id: tid(),
        from: id("a"),
        to: id("b"),
        amount: dec(amount),
        description: None,
        pending: true,
        expires_at,
    }
}

/// Accounts a (holding 10.00) and b, and a pending transfer of `amount` from a to b,
/// each folded with the plan's events.
fn reserved(amount: &str, expires_at: Option<DateTime<Utc>>) -> (Account, Account, Transfer) {
    let a = account(&[opened("a"), deposited("a", 1000, 1000)]);
    let b = account(&[opened("b")]);
    let plan = plan_transfer(&order(amount, expires_at), &a, &b, &Transfer::default()).unwrap();
    (
        fold(a, &plan.debit),
        fold(b, &plan.credit),
        fold(Transfer::default(), &plan.record),
    )
}

fn settle(
    s: Settlement,
    now: DateTime<Utc>,
    (a, b, t): &(Account, Account, Transfer),
) -> Result<(Account, Account, Transfer), DomainError> {
    let plan = plan_settlement(&s, now, t, a, b)?;
    Ok((
        fold(a.clone(), &plan.debit),
        fold(b.clone(), &plan.credit),
        fold(t.clone(), &plan.record),
    ))
}
