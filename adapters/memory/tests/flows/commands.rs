//! Transfers refused whole, transfer ids used once, idempotency keys replayed.

use super::*;

#[tokio::test]
async fn a_refused_transfer_writes_neither_leg() {
    let app = app(0, 5);
    open(&app, "a", "USD").await;
    open(&app, "b", "USD").await;
    open(&app, "e", "EUR").await;
    deposit(&app, "a", "10").await.unwrap();
    let before = app.store.len();
    let transfer = |to: &str, amount: &str| TransferRequest {
        pending: false,
        expires_in_seconds: None,
        transfer_id: None,
        from: id("a"),
        to: id(to),
        amount: dec(amount),
        description: None,
    };
    let cases = [
        (transfer("b", "10.01"), "insufficient_funds"),
        (transfer("e", "1"), "currency_mismatch"),
        (transfer("a", "1"), "same_account"),
        (transfer("nobody", "1"), "account_not_found"),
        (transfer("b", "0"), "invalid_amount"),
    ];
    for (req, code) in cases {
        let err = app.commands.transfer(req, &ctx()).await.unwrap_err();
        assert_eq!(err.code(), code);
    }
    assert_eq!(
        app.store.len(),
        before,
        "no refused transfer wrote anything"
    );
}

#[tokio::test]
async fn a_transfer_id_is_used_once() {
    let app = app(0, 5);
    open(&app, "a", "USD").await;
    open(&app, "b", "USD").await;
    deposit(&app, "a", "10").await.unwrap();
    let req = TransferRequest {
        pending: false,
        expires_in_seconds: None,
        transfer_id: Some(TransferId::parse("t-1").unwrap()),
        from: id("a"),
        to: id("b"),
        amount: dec("10"),
        description: None,
    };
    app.commands.transfer(req.clone(), &ctx()).await.unwrap();
    // The first transfer emptied `a`: a retry is still told the transfer exists, not
    // that funds are short (which would read as "it failed").
    let err = app
        .commands
        .transfer(req.clone(), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "transfer_exists");
    let close = AccountAction::Close { reason: None };
    app.commands.act(id("a"), close, &ctx()).await.unwrap();
    let err = app.commands.transfer(req, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), "transfer_exists");
}

#[tokio::test]
async fn a_retried_key_returns_the_first_outcome_and_writes_once() {
    let app = app(0, 5);
    open(&app, "a", "USD").await;
    let keyed = CommandContext {
        idempotency_key: Some("k-1".into()),
        ..ctx()
    };
    let action = || AccountAction::Deposit {
        amount: dec("5"),
        description: None,
    };
    let first = app.commands.act(id("a"), action(), &keyed).await.unwrap();
    let events = app.store.len();
    let second = app.commands.act(id("a"), action(), &keyed).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(app.store.len(), events, "the retry wrote nothing");
    let other = AccountAction::Deposit {
        amount: dec("6"),
        description: None,
    };
    let err = app.commands.act(id("a"), other, &keyed).await.unwrap_err();
    assert_eq!(err, CommandError::IdempotencyKeyReused);
    // A refusal is an outcome too: it comes back even after the account could satisfy it.
    let withdraw = || AccountAction::Withdraw {
        amount: dec("50"),
        description: None,
    };
    let refusing = CommandContext {
        idempotency_key: Some("k-2".into()),
        ..ctx()
    };
    let err = app
        .commands
        .act(id("a"), withdraw(), &refusing)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insufficient_funds");
    deposit(&app, "a", "100").await.unwrap();
    let again = app
        .commands
        .act(id("a"), withdraw(), &refusing)
        .await
        .unwrap_err();
    assert_eq!(again.code(), "insufficient_funds");
}
