//! Unit tests of `verify_legs.rs`: one transfer's flows, as the fold adds them.

use super::*;

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("USD").expect("USD"))
}

/// A pending transfer of 10.00 from `a` to `b`, 4.00 posted, the rest released,
/// each step as the service writes it: both legs, then the record.
fn settled_pending() -> Transfer {
    let mut t = Transfer::default();
    for (kind, amount) in [
        (Kind::Reserved, 1000),
        (Kind::Moved, 400),
        (Kind::Released, 600),
    ] {
        t.leg(DEBIT, "a", usd(amount), None);
        t.add(kind, DEBIT, usd(amount));
        t.leg(CREDIT, "b", usd(amount), None);
        t.add(kind, CREDIT, usd(amount));
        if matches!(kind, Kind::Reserved) {
            t.recorded("a", "b", usd(amount), true);
        }
        t.add(kind, RECORD, usd(amount));
    }
    t
}

#[test]
fn a_pending_transfer_whose_legs_follow_its_record_agrees_and_ends() {
    let t = settled_pending();
    assert_eq!(t.disagreement(), None);
    assert!(t.ended());
}

#[test]
fn a_credit_leg_that_moved_more_than_the_record_is_named() {
    let mut t = settled_pending();
    t.add(Kind::Moved, CREDIT, usd(99_900));
    assert_eq!(
        t.disagreement().as_deref(),
        Some("moved: 4.00 on its record, 4.00 on its debit leg, 1003.00 on its credit leg")
    );
}

#[test]
fn a_leg_on_another_account_and_legs_without_a_record_are_named() {
    let mut t = settled_pending();
    t.leg(CREDIT, "c", usd(1), None);
    assert_eq!(
        t.disagreement().as_deref(),
        Some("one leg is on b in USD, another on c in USD")
    );
    let mut orphan = Transfer::default();
    orphan.leg(DEBIT, "a", usd(100), None);
    orphan.add(Kind::Moved, DEBIT, usd(100));
    assert!(!orphan.ended());
    assert_eq!(
        orphan.disagreement().as_deref(),
        Some("its legs have no record of the transfer")
    );
}

#[test]
fn more_posted_and_released_than_reserved_is_named() {
    let mut t = settled_pending();
    for side in [RECORD, DEBIT, CREDIT] {
        t.add(Kind::Released, side, usd(9_100));
    }
    assert_eq!(
        t.disagreement().as_deref(),
        Some("4.00 posted and 97.00 released of the 10.00 reserved")
    );
}

#[test]
fn a_leg_in_another_currency_than_its_account_is_named() {
    let mut t = settled_pending();
    t.leg(DEBIT, "a", usd(1), Currency::parse("EUR").ok());
    assert_eq!(
        t.disagreement().as_deref(),
        Some("a leg of 0.01 USD on a, an account in EUR")
    );
}

#[test]
fn a_pending_transfer_still_held_has_not_ended() {
    let mut t = Transfer::default();
    t.recorded("a", "b", usd(1000), true);
    t.add(Kind::Reserved, RECORD, usd(1000));
    t.add(Kind::Moved, RECORD, usd(400));
    assert!(!t.ended());
}
