//! Every transition of a pending transfer and every refusal.

use super::*;

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
    // Written as the API's JSON writes `expires_at` (it once said `+00:00`).
    let json = serde_json::to_value(at).unwrap();
    assert_eq!(
        err,
        DomainError::TransferNotDue(json.as_str().unwrap().into())
    );
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

/// The accounts a settlement is planned on must be the transfer's: other accounts
/// (swapped, or a third account holding as much) would move holds that are not its.
#[test]
fn a_settlement_on_accounts_other_than_the_transfers_is_refused() {
    let (a, b, t) = reserved("4", None);
    let c = account(&[opened("c"), deposited("c", 1000, 1000)]);
    for s in [Settlement::Post(None), Settlement::Void(None)] {
        for (from, to) in [(&b, &a), (&c, &b), (&a, &c)] {
            let err = plan_settlement(&s, t0(), &t, from, to).unwrap_err();
            assert_eq!(err, DomainError::NotTheTransfersAccounts("t1".into()));
            assert_eq!(err.code(), ErrorCode::Internal);
        }
    }
    assert!(plan_settlement(&Settlement::Void(None), t0(), &t, &a, &b).is_ok());
}

#[test]
fn an_account_with_anything_pending_cannot_close() {
    let (a, b, _) = reserved("4", None);
    let close = AccountCommand::Close { reason: None };
    assert_eq!(b.decide(&close).unwrap_err(), DomainError::PendingTransfers);
    assert_eq!(a.decide(&close).unwrap_err(), DomainError::PendingTransfers);
}

/// `balance + pending_in` always fits, so every held credit can be posted: a hold the
/// payee could never receive is refused when it is made, and so is a deposit that
/// would leave no room for what is held.
#[test]
fn a_credit_that_could_never_be_posted_is_refused_up_front() {
    let near = i64::MAX - 500;
    let a = account(&[opened("a"), deposited("a", 1000, 1000)]);
    let b = account(&[opened("b"), deposited("b", near, near)]);
    let err = plan_transfer(&order("10.00", None), &a, &b, &Transfer::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAmount, "{err:?}");
    let plan = plan_transfer(&order("5.00", None), &a, &b, &Transfer::default()).unwrap();
    let (a, b, t) = (
        fold(a, &plan.debit),
        fold(b, &plan.credit),
        fold(Transfer::default(), &plan.record),
    );
    let deposit = |amount: &str| AccountCommand::Deposit {
        amount: dec(amount),
        description: None,
    };
    let err = b.decide(&deposit("0.01")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidAmount, "{err:?}");
    let (_, b, _) = settle(Settlement::Post(None), t0(), &(a, b, t)).unwrap();
    assert_eq!(b.details().unwrap().balance, m(i64::MAX));
}

/// Refusals come in the documented order: equal currencies, both accounts open, then
/// the amount and the funds. A payer short of funds (or giving a too precise amount)
/// is told the payee is closed, not sent to find money that could never arrive.
#[test]
fn a_closed_account_is_refused_before_the_amount_and_the_funds() {
    let closed = |who: &str| AccountEvent::Closed {
        account_id: id(who),
        reason: None,
    };
    let (poor, open_b) = (account(&[opened("a")]), account(&[opened("b")]));
    let shut_b = account(&[opened("b"), closed("b")]);
    let shut_a = account(&[opened("a"), closed("a")]);
    for pending in [true, false] {
        for amount in ["5.00", "0.001"] {
            let order = TransferOrder {
                pending,
                ..order(amount, None)
            };
            for (from, to) in [(&poor, &shut_b), (&shut_a, &open_b)] {
                let err = plan_transfer(&order, from, to, &Transfer::default()).unwrap_err();
                assert_eq!(
                    err,
                    DomainError::AccountClosed,
                    "{amount}, pending {pending}"
                );
            }
        }
    }
}
