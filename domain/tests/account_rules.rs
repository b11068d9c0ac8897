//! The Account and Transfer rules, as given/when/then scenarios.

use ledger_domain::testkit::{given, given_no_events};
use ledger_domain::*;

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}
fn id(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}
fn dec(s: &str) -> Decimal {
    Decimal::parse(s).unwrap()
}
fn m(minor: i64) -> Money {
    Money::from_minor(minor, usd())
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
fn closed(account: &str) -> AccountEvent {
    AccountEvent::Closed {
        account_id: id(account),
        reason: None,
    }
}
fn deposit(s: &str) -> AccountCommand {
    AccountCommand::Deposit {
        amount: dec(s),
        description: None,
    }
}
fn withdraw(s: &str) -> AccountCommand {
    AccountCommand::Withdraw {
        amount: dec(s),
        description: None,
    }
}

#[test]
fn opening_a_new_account_records_it() {
    given_no_events::<Account>()
        .when(AccountCommand::Open {
            id: id("a"),
            owner: Owner::parse("Ada").unwrap(),
            currency: usd(),
            overdraft_limit: None,
        })
        .then_events([opened("a")]);
}

#[test]
fn opening_an_existing_account_is_refused() {
    given::<Account>([opened("a")])
        .when(AccountCommand::Open {
            id: id("a"),
            owner: Owner::parse("Bob").unwrap(),
            currency: usd(),
            overdraft_limit: None,
        })
        .then_error(DomainError::AccountExists);
}

/// Withdrawn from ISO 4217: refused for a new account only (events in it still read,
/// as `money.rs` checks).
#[test]
fn opening_in_a_withdrawn_currency_is_refused() {
    let hrk = Currency::parse("HRK").unwrap();
    given_no_events::<Account>()
        .when(AccountCommand::Open {
            id: id("a"),
            owner: Owner::parse("Ada").unwrap(),
            currency: hrk,
            overdraft_limit: None,
        })
        .then_error(DomainError::InvalidCurrency(MoneyError::WithdrawnCurrency(
            "HRK", "EUR",
        )));
}

#[test]
fn commands_on_an_unopened_account_find_no_account() {
    given_no_events::<Account>()
        .when(deposit("1"))
        .then_error(DomainError::AccountNotFound);
}

#[test]
fn depositing_adds_to_the_balance_exactly() {
    let state = given::<Account>([opened("a"), deposited("a", 10, 10)])
        .when(deposit("0.20"))
        .then_events([deposited("a", 20, 30)]);
    assert_eq!(state.details().unwrap().balance.to_string(), "0.30");
}

#[test]
fn withdrawing_more_than_the_balance_is_refused() {
    given::<Account>([opened("a"), deposited("a", 500, 500)])
        .when(withdraw("5.01"))
        .then_error(DomainError::InsufficientFunds {
            available: "5.00".into(),
            limit: "0.00".into(),
            requested: "5.01".into(),
        });
}

#[test]
fn withdrawing_the_whole_balance_leaves_zero() {
    given::<Account>([opened("a"), deposited("a", 500, 500)])
        .when(withdraw("5"))
        .then_events([AccountEvent::Withdrawn {
            account_id: id("a"),
            amount: m(500),
            balance: m(0),
            description: None,
        }]);
}

#[test]
fn amounts_must_be_positive_and_fit_the_currency() {
    let base = || given::<Account>([opened("a"), deposited("a", 500, 500)]);
    for bad in ["0", "-1", "0.00"] {
        base()
            .when(deposit(bad))
            .then_error(DomainError::InvalidAmount(MoneyError::NotPositive));
    }
    base()
        .when(deposit("1.001"))
        .then_error(DomainError::InvalidAmount(MoneyError::TooManyDecimals {
            currency: "USD",
            allowed: 2,
        }));
}

#[test]
fn a_deposit_that_would_overflow_the_balance_is_refused() {
    let near_max = i64::MAX - 5;
    given::<Account>([opened("a"), deposited("a", near_max, near_max)])
        .when(deposit("0.06"))
        .then_error(DomainError::InvalidAmount(MoneyError::OutOfRange));
}

#[test]
fn an_amount_beyond_the_ledger_range_is_refused() {
    given::<Account>([opened("a")])
        .when(deposit("100000000000000000000"))
        .then_error(DomainError::InvalidAmount(MoneyError::Overflow));
}

#[test]
fn closing_needs_a_zero_balance() {
    given::<Account>([opened("a"), deposited("a", 1, 1)])
        .when(AccountCommand::Close { reason: None })
        .then_error(DomainError::BalanceNotZero("0.01".into()));
    given::<Account>([opened("a")])
        .when(AccountCommand::Close { reason: None })
        .then_events([closed("a")]);
}

#[test]
fn a_closed_account_refuses_every_command() {
    let commands = [
        deposit("1"),
        withdraw("1"),
        AccountCommand::Close { reason: None },
        AccountCommand::DebitTransfer {
            transfer_id: TransferId::parse("t").unwrap(),
            to: id("b"),
            amount: dec("1"),
            description: None,
        },
        AccountCommand::CreditTransfer {
            transfer_id: TransferId::parse("t").unwrap(),
            from: id("b"),
            amount: dec("1"),
            description: None,
        },
    ];
    for command in commands {
        given::<Account>([opened("a"), closed("a")])
            .when(command)
            .then_error(DomainError::AccountClosed);
    }
}

#[test]
fn a_transfer_debit_leg_takes_money_and_names_the_counterparty() {
    given::<Account>([opened("a"), deposited("a", 1000, 1000)])
        .when(AccountCommand::DebitTransfer {
            transfer_id: TransferId::parse("t1").unwrap(),
            to: id("b"),
            amount: dec("2.50"),
            description: None,
        })
        .then_events([AccountEvent::TransferDebited {
            account_id: id("a"),
            transfer_id: TransferId::parse("t1").unwrap(),
            counterparty: id("b"),
            amount: m(250),
            balance: m(750),
            description: None,
        }]);
}

#[test]
fn a_transfer_debit_leg_cannot_overdraw() {
    given::<Account>([opened("a")])
        .when(AccountCommand::DebitTransfer {
            transfer_id: TransferId::parse("t1").unwrap(),
            to: id("b"),
            amount: dec("0.01"),
            description: None,
        })
        .then_error(DomainError::InsufficientFunds {
            available: "0.00".into(),
            limit: "0.00".into(),
            requested: "0.01".into(),
        });
}

#[test]
fn a_transfer_credit_leg_adds_money() {
    given::<Account>([opened("b")])
        .when(AccountCommand::CreditTransfer {
            transfer_id: TransferId::parse("t1").unwrap(),
            from: id("a"),
            amount: dec("2.5"),
            description: None,
        })
        .then_events([AccountEvent::TransferCredited {
            account_id: id("b"),
            transfer_id: TransferId::parse("t1").unwrap(),
            counterparty: id("a"),
            amount: m(250),
            balance: m(250),
            description: None,
        }]);
}

#[test]
fn a_transfer_leg_to_the_same_account_is_refused() {
    given::<Account>([opened("a"), deposited("a", 100, 100)])
        .when(AccountCommand::DebitTransfer {
            transfer_id: TransferId::parse("t1").unwrap(),
            to: id("a"),
            amount: dec("1"),
            description: None,
        })
        .then_error(DomainError::SameAccount);
}

fn order(from: &str, to: &str, amount: &str) -> TransferOrder {
    TransferOrder {
        transfer_id: TransferId::parse("t1").unwrap(),
        from: id(from),
        to: id(to),
        amount: dec(amount),
        description: None,
        pending: false,
        expires_at: None,
    }
}

fn account(events: &[AccountEvent]) -> Account {
    fold(Account::default(), events)
}

#[test]
fn planning_a_transfer_gives_both_legs_and_the_record() {
    let from = account(&[opened("a"), deposited("a", 1000, 1000)]);
    let to = account(&[opened("b")]);
    let plan = plan_transfer(&order("a", "b", "4"), &from, &to, &Transfer::default()).unwrap();
    assert_eq!(plan.debit.len(), 1);
    assert_eq!(plan.credit.len(), 1);
    assert!(matches!(&plan.record[0], TransferEvent::Recorded(t) if t.amount == m(400)));
}

#[test]
fn a_transfer_between_currencies_is_refused() {
    let from = account(&[opened("a"), deposited("a", 1000, 1000)]);
    let to = account(&[AccountEvent::Opened {
        account_id: id("b"),
        owner: Owner::parse("B").unwrap(),
        currency: Currency::parse("EUR").unwrap(),
    }]);
    let err = plan_transfer(&order("a", "b", "1"), &from, &to, &Transfer::default()).unwrap_err();
    assert_eq!(err.code(), "currency_mismatch");
}

#[test]
fn a_transfer_to_the_same_account_is_refused() {
    let a = account(&[opened("a"), deposited("a", 1000, 1000)]);
    let err = plan_transfer(&order("a", "a", "1"), &a, &a, &Transfer::default()).unwrap_err();
    assert_eq!(err, DomainError::SameAccount);
}

#[test]
fn a_transfer_id_can_be_used_once() {
    let recorded = TransferRecorded {
        transfer_id: TransferId::parse("t1").unwrap(),
        from: id("a"),
        to: id("b"),
        amount: m(1),
        description: None,
    };
    given::<Transfer>([TransferEvent::Recorded(recorded.clone())])
        .when(TransferCommand::Record(recorded))
        .then_error(DomainError::TransferExists);
}

#[test]
fn every_domain_error_has_an_api_code() {
    let codes = [
        DomainError::AccountExists.code(),
        DomainError::AccountNotFound.code(),
        DomainError::AccountClosed.code(),
        DomainError::SameAccount.code(),
        DomainError::TransferExists.code(),
        DomainError::BalanceNotZero("1".into()).code(),
    ];
    assert_eq!(
        codes,
        [
            "account_exists",
            "account_not_found",
            "account_closed",
            "same_account",
            "transfer_exists",
            "balance_not_zero"
        ]
    );
}

#[test]
fn an_account_status_reads_back_from_its_name_and_nothing_else_does() {
    for s in [AccountStatus::Open, AccountStatus::Closed] {
        assert_eq!(AccountStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(AccountStatus::Open.as_str(), "open");
    assert_eq!(AccountStatus::Closed.as_str(), "closed");
    for other in ["", "Open", "close", "closed "] {
        assert_eq!(AccountStatus::parse(other), None, "{other:?}");
    }
}

/// The test kit's own check: a refusal other than the one expected fails the test.
#[test]
#[should_panic(expected = "the command was refused otherwise")]
fn the_kit_fails_a_test_refused_otherwise_than_it_says() {
    given_no_events::<Account>()
        .when(deposit("1"))
        .then_error(DomainError::AccountClosed);
}
