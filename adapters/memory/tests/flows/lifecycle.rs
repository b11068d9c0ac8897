//! An account from opening to closing, projected, and shown as it was.

use super::*;

#[tokio::test]
async fn a_full_life_of_an_account_projects_into_the_current_view() {
    let app = app(0, 5);
    open(&app, "a", "USD").await;
    open(&app, "b", "USD").await;
    deposit(&app, "a", "100").await.unwrap();
    let reply = app
        .commands
        .transfer(
            TransferRequest {
                pending: false,
                expires_in_seconds: None,
                transfer_id: None,
                from: id("a"),
                to: id("b"),
                amount: dec("30.25"),
                description: None,
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(reply.from.balance.to_string(), "69.75");
    assert_eq!(reply.to.balance.to_string(), "30.25");
    let withdraw = AccountAction::Withdraw {
        amount: dec("30.25"),
        description: None,
    };
    app.commands.act(id("b"), withdraw, &ctx()).await.unwrap();
    let close = AccountAction::Close { reason: None };
    let closed = app.commands.act(id("b"), close, &ctx()).await.unwrap();
    assert_eq!(closed.status, AccountStatus::Closed);

    app.runner.catch_up(Projection::CurrentState).await.unwrap();
    let a = app
        .queries
        .current(&Principal::anonymous(), "a")
        .await
        .unwrap()
        .expect("a is projected");
    assert_eq!(a.balance.to_string(), "69.75");
    assert_eq!(a.total_deposits.to_string(), "100.00");
    assert_eq!(a.total_withdrawals.to_string(), "30.25");
    assert_eq!(a.transaction_count, 2);
    let b = app
        .queries
        .current(&Principal::anonymous(), "b")
        .await
        .unwrap()
        .expect("b is projected");
    assert_eq!(b.status, AccountStatus::Closed);
    assert!(b.closed_at.is_some());
    assert_eq!(b.version, 4);
}

#[tokio::test]
async fn an_account_can_be_shown_as_it_was_at_a_version_or_instant() {
    let app = app(0, 5);
    open(&app, "a", "USD").await;
    deposit(&app, "a", "1").await.unwrap();
    deposit(&app, "a", "2").await.unwrap();
    let at_two = app
        .queries
        .state_at(&Principal::anonymous(), "a", StreamBound::Version(2))
        .await
        .unwrap()
        .expect("existed");
    assert_eq!(at_two.account.version, 2);
    assert_eq!(
        at_two.account.state.details().unwrap().balance.to_string(),
        "1.00"
    );
    let instant = at_two.as_of;
    let by_time = app
        .queries
        .state_at(
            &Principal::anonymous(),
            "a",
            StreamBound::RecordedAt(instant),
        )
        .await
        .unwrap()
        .expect("existed");
    assert!(by_time.account.version >= 2);
    let before = instant - chrono::Duration::days(1);
    assert!(app
        .queries
        .state_at(
            &Principal::anonymous(),
            "a",
            StreamBound::RecordedAt(before)
        )
        .await
        .unwrap()
        .is_none());
    let history = app.queries.history("a", 1, 10).await.unwrap();
    assert_eq!(history.len(), 2);
}
