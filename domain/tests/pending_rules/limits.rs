//! Overdraft limits: how far below zero they let an account go, and which are refused.

use super::*;

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
fn a_limit_of_zero_takes_the_overdraft_away() {
    let set = |cents| AccountEvent::OverdraftLimitSet {
        account_id: id("a"),
        limit: m(cents),
    };
    given::<Account>(vec![opened("a"), set(5000)])
        .when(AccountCommand::SetOverdraftLimit { limit: dec("0") })
        .then_events([set(0)]);
}
