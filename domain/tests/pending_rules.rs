//! Pending transfers, available balances and overdraft limits, as given/when/then
//! scenarios: every transition and every refusal.

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

#[test]
fn a_reservation_holds_funds_without_moving_the_balance() {
    let (a, b, t) = reserved("4", None);
    let (a, b) = (a.details().unwrap(), b.details().unwrap());
    assert_eq!(
        (a.balance, a.pending_out, a.available()),
        (m(1000), m(400), m(600))
    );
    assert_eq!(
        (b.balance, b.pending_in, b.available()),
        (m(0), m(400), m(0))
    );
    let t = t.details().unwrap();
    assert_eq!(
        (t.status, t.remaining, t.posted),
        (TransferStatus::Pending, m(400), m(0))
    );
}

#[test]
fn a_reservation_beyond_available_plus_limit_is_refused() {
    let (a, b, _) = reserved("8", None);
    let mut second = order("2.01", None);
    second.transfer_id = TransferId::parse("t2").unwrap();
    let err = plan_transfer(&second, &a, &b, &Transfer::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InsufficientFunds);
    // A withdrawal sees the reservation too.
    let err = a
        .decide(&AccountCommand::Withdraw {
            amount: dec("2.01"),
            description: None,
        })
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InsufficientFunds);
}

#[test]
fn partial_posts_move_money_until_nothing_remains() {
    let state = reserved("4", None);
    let state = settle(Settlement::Post(Some(dec("1.5"))), t0(), &state).unwrap();
    let state = settle(Settlement::Post(Some(dec("1"))), t0(), &state).unwrap();
    let (a, b, t) = &state;
    assert_eq!(a.details().unwrap().balance, m(750));
    assert_eq!(a.details().unwrap().pending_out, m(150));
    assert_eq!(b.details().unwrap().balance, m(250));
    assert_eq!(t.details().unwrap().remaining, m(150));
    assert_eq!(t.details().unwrap().status, TransferStatus::Pending);
    let (a, b, t) = settle(Settlement::Post(None), t0(), &state).unwrap();
    assert_eq!(a.details().unwrap().balance, m(600));
    assert_eq!(a.details().unwrap().pending_out, m(0));
    assert_eq!(b.details().unwrap().balance, m(400));
    assert_eq!(b.details().unwrap().pending_in, m(0));
    let t = t.details().unwrap();
    assert_eq!(
        (t.status, t.posted, t.remaining),
        (TransferStatus::Posted, m(400), m(0))
    );
}

#[test]
fn posting_more_than_remains_is_refused() {
    let state = reserved("4", None);
    let err = settle(Settlement::Post(Some(dec("4.01"))), t0(), &state).unwrap_err();
    assert_eq!(err.code(), ErrorCode::AmountExceedsPending);
    for bad in ["0", "-1", "0.001"] {
        let err = settle(Settlement::Post(Some(dec(bad))), t0(), &state).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidAmount, "{bad}");
    }
}

#[test]
fn a_void_releases_what_remains_and_keeps_what_was_posted() {
    let state = reserved("4", None);
    let state = settle(Settlement::Post(Some(dec("1"))), t0(), &state).unwrap();
    let (a, b, t) = settle(Settlement::Void(None), t0(), &state).unwrap();
    let (a, b) = (a.details().unwrap(), b.details().unwrap());
    assert_eq!(
        (a.balance, a.pending_out, a.available()),
        (m(900), m(0), m(900))
    );
    assert_eq!((b.balance, b.pending_in), (m(100), m(0)));
    let t = t.details().unwrap();
    assert_eq!(
        (t.status, t.posted, t.remaining),
        (TransferStatus::Voided, m(100), m(0))
    );
}

#[test]
fn nothing_settles_twice() {
    let voided = settle(Settlement::Void(None), t0(), &reserved("4", None)).unwrap();
    for s in [
        Settlement::Void(None),
        Settlement::Post(None),
        Settlement::Expire,
    ] {
        let err = settle(s, t0(), &voided).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TransferNotPending);
    }
    let posted = settle(Settlement::Post(None), t0(), &reserved("4", None)).unwrap();
    let err = settle(Settlement::Void(None), t0(), &posted).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TransferNotPending);
}

#[test]
fn after_expires_at_post_and_void_are_refused_and_the_expiry_releases() {
    let at = t0() + Duration::seconds(30);
    let state = reserved("4", Some(at));
    assert!(settle(
        Settlement::Post(Some(dec("1"))),
        at - Duration::seconds(1),
        &state
    )
    .is_ok());
    for s in [Settlement::Post(None), Settlement::Void(None)] {
        let err = settle(s, at, &state).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TransferExpired);
    }
    let err = settle(Settlement::Expire, at - Duration::seconds(1), &state).unwrap_err();
    assert_eq!(err, DomainError::TransferNotDue(at.to_rfc3339()));
    let (a, b, t) = settle(Settlement::Expire, at, &state).unwrap();
    assert_eq!(a.details().unwrap().available(), m(1000));
    assert_eq!(b.details().unwrap().pending_in, m(0));
    assert_eq!(t.details().unwrap().status, TransferStatus::Expired);
    let expired = (a, b, t);
    for s in [Settlement::Post(None), Settlement::Void(None)] {
        assert_eq!(
            settle(s, at, &expired).unwrap_err().code(),
            ErrorCode::TransferExpired
        );
    }
    let err = settle(Settlement::Expire, at, &expired).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TransferExpired);
}

#[test]
fn an_unknown_transfer_is_not_found() {
    let (a, b, _) = reserved("4", None);
    let err = plan_settlement(&Settlement::Post(None), t0(), &Transfer::default(), &a, &b);
    assert_eq!(err.unwrap_err(), DomainError::TransferNotFound);
}

#[test]
fn an_account_with_anything_pending_cannot_close() {
    let (a, b, _) = reserved("4", None);
    let close = AccountCommand::Close { reason: None };
    assert_eq!(b.decide(&close).unwrap_err(), DomainError::PendingTransfers);
    assert_eq!(a.decide(&close).unwrap_err(), DomainError::PendingTransfers);
}

#[test]
fn an_overdraft_limit_lets_available_go_below_zero_as_far_as_it_allows() {
    let opened_with_limit = Account::default()
        .decide(&AccountCommand::Open {
            id: id("a"),
            owner: Owner::parse("Ada").unwrap(),
            currency: usd(),
            overdraft_limit: Some(dec("50")),
        })
        .unwrap();
    assert_eq!(opened_with_limit.len(), 2);
    given::<Account>(opened_with_limit.clone())
        .when(AccountCommand::Withdraw {
            amount: dec("50"),
            description: None,
        })
        .then_events([AccountEvent::Withdrawn {
            account_id: id("a"),
            amount: m(5000),
            balance: m(-5000),
            description: None,
        }]);
    let overdrawn = account(&opened_with_limit);
    let err = overdrawn
        .decide(&AccountCommand::Withdraw {
            amount: dec("50.01"),
            description: None,
        })
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InsufficientFunds);
}

#[test]
fn a_limit_below_the_debt_is_refused_and_a_negative_one_is_invalid() {
    let mut events = vec![opened("a")];
    events.push(AccountEvent::OverdraftLimitSet {
        account_id: id("a"),
        limit: m(5000),
    });
    events.push(AccountEvent::Withdrawn {
        account_id: id("a"),
        amount: m(3000),
        balance: m(-3000),
        description: None,
    });
    given::<Account>(events.clone())
        .when(AccountCommand::SetOverdraftLimit {
            limit: dec("29.99"),
        })
        .then_error(DomainError::LimitBelowDebt {
            available: "-30.00".into(),
            limit: "29.99".into(),
        });
    given::<Account>(events.clone())
        .when(AccountCommand::SetOverdraftLimit { limit: dec("30") })
        .then_events([AccountEvent::OverdraftLimitSet {
            account_id: id("a"),
            limit: m(3000),
        }]);
    for bad in ["-1", "0.001"] {
        let err = given::<Account>(events.clone())
            .when(AccountCommand::SetOverdraftLimit { limit: dec(bad) })
            .result()
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidAmount, "{bad}");
    }
}

#[test]
fn pending_and_limit_events_round_trip_through_their_stored_form() {
    let (a, _, t) = reserved("4", Some(t0()));
    let plan = plan_settlement(
        &Settlement::Post(Some(dec("1"))),
        t0() - Duration::seconds(1),
        &t,
        &a,
        &account(&[opened("b")]),
    );
    assert!(plan.is_err(), "b has no pending_in, so its leg refuses");
    let (a, b, t) = reserved("4", Some(t0()));
    let plan = plan_settlement(
        &Settlement::Post(Some(dec("1"))),
        t0() - Duration::seconds(1),
        &t,
        &a,
        &b,
    )
    .unwrap();
    let void = plan_settlement(
        &Settlement::Void(None),
        t0() - Duration::seconds(1),
        &t,
        &a,
        &b,
    )
    .unwrap();
    let account_events = plan
        .debit
        .iter()
        .chain(&plan.credit)
        .chain(&void.debit)
        .cloned()
        .chain([AccountEvent::OverdraftLimitSet {
            account_id: id("a"),
            limit: m(1),
        }]);
    for e in account_events {
        let stored = e.encode();
        let raw = RawEvent {
            event_type: stored.event_type,
            schema_version: stored.schema_version,
            data: &stored.data,
        };
        assert_eq!(AccountEvent::decode(raw, None).unwrap(), e);
    }
    let (_, _, t0state) = reserved("4", Some(t0()));
    let created = fold(Transfer::default(), &[]).decide(&TransferCommand::CreatePending(
        t0state.recorded().unwrap().clone(),
        Some(t0()),
    ));
    for e in created
        .unwrap()
        .iter()
        .chain(&plan.record)
        .chain(&void.record)
    {
        let stored = Transfer::encode(e);
        let raw = RawEvent {
            event_type: stored.event_type,
            schema_version: stored.schema_version,
            data: &stored.data,
        };
        assert_eq!(&Transfer::default().decode(raw).unwrap(), e);
    }
}
