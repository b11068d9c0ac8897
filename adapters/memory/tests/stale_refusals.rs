//! Refusals are final (stored under their idempotency key), so they are never decided on
//! a cache another instance has outdated; and a precondition is part of the request a
//! key stands for.

use std::sync::Arc;

use ledger_application::ports::store::EventStore;
use ledger_application::ports::system::{Spawner, SystemClock, UuidV7Ids};
use ledger_application::repository::Repository;
use ledger_application::*;
use ledger_domain::*;
use ledger_memory::{MemoryEventStore, MemorySnapshotStore};

fn spawner() -> Arc<dyn Spawner> {
    Arc::new(|task| {
        tokio::spawn(task);
    })
}

/// An instance with its own aggregate cache on the shared store.
fn instance(store: &Arc<dyn EventStore>) -> CommandService {
    let repo = Arc::new(
        Repository::new(store.clone(), Arc::new(MemorySnapshotStore::new(10)), 0).with_cache(100),
    );
    CommandService::new(
        store.clone(),
        repo,
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        spawner(),
        5,
    )
}

fn ctx(key: Option<&str>, if_match: Option<IfMatch>) -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new("tester", Default::default()),
        idempotency_key: key.map(str::to_owned),
        if_match,
        ..Default::default()
    }
}

fn id(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

fn money(action: &str, amount: &str) -> AccountAction {
    let amount = Decimal::parse(amount).unwrap();
    match action {
        "deposit" => AccountAction::Deposit {
            amount,
            description: None,
        },
        _ => AccountAction::Withdraw {
            amount,
            description: None,
        },
    }
}

#[tokio::test]
async fn a_refusal_is_decided_on_the_store_not_on_an_outdated_cache() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let (a, b) = (instance(&store), instance(&store));
    let open = OpenAccount {
        overdraft_limit: None,
        account_id: Some(id("x")),
        owner: Owner::parse("Ada").unwrap(),
        currency: Currency::parse("USD").unwrap(),
    };
    a.open_account(open, &ctx(None, None)).await.unwrap();
    b.act(id("x"), money("deposit", "10"), &ctx(None, None))
        .await
        .unwrap();
    // B's cache now holds x at 10.00; A takes it to 110.00.
    a.act(id("x"), money("deposit", "100"), &ctx(None, None))
        .await
        .unwrap();
    let reply = b
        .act(id("x"), money("withdraw", "50"), &ctx(Some("k"), None))
        .await
        .expect("the store's balance covers it");
    assert_eq!(reply.balance.to_string(), "60.00");
    // A retry gets the same answer, not a refusal stored from the outdated state.
    let again = b
        .act(id("x"), money("withdraw", "50"), &ctx(Some("k"), None))
        .await
        .unwrap();
    assert_eq!(again, reply);
}

#[tokio::test]
async fn a_transfer_refusal_is_decided_on_the_store_too() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let (a, b) = (instance(&store), instance(&store));
    for account in ["p", "q"] {
        let open = OpenAccount {
            overdraft_limit: None,
            account_id: Some(id(account)),
            owner: Owner::parse("Ada").unwrap(),
            currency: Currency::parse("USD").unwrap(),
        };
        b.open_account(open, &ctx(None, None)).await.unwrap();
    }
    b.act(id("p"), money("deposit", "1"), &ctx(None, None))
        .await
        .unwrap();
    a.act(id("p"), money("deposit", "99"), &ctx(None, None))
        .await
        .unwrap();
    let req = TransferRequest {
        pending: false,
        expires_in_seconds: None,
        transfer_id: None,
        from: id("p"),
        to: id("q"),
        amount: Decimal::parse("50").unwrap(),
        description: None,
    };
    let reply = b.transfer(req, &ctx(Some("t"), None)).await.unwrap();
    assert_eq!(reply.from.balance.to_string(), "50.00");
}

#[tokio::test]
async fn a_key_stands_for_its_precondition_too() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let a = instance(&store);
    let open = OpenAccount {
        overdraft_limit: None,
        account_id: Some(id("y")),
        owner: Owner::parse("Ada").unwrap(),
        currency: Currency::parse("USD").unwrap(),
    };
    a.open_account(open, &ctx(None, None)).await.unwrap();
    // A list naming no version (a weak tag) is refused, and stored under the key...
    let naming_none = Some(IfMatch::Versions(vec![]));
    let err = a
        .act(id("y"), money("deposit", "1"), &ctx(Some("k"), naming_none))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "version_mismatch");
    // ...so the same key without a precondition is another request.
    let err = a
        .act(id("y"), money("deposit", "1"), &ctx(Some("k"), None))
        .await
        .unwrap_err();
    assert_eq!(err, CommandError::IdempotencyKeyReused);
    // The same versions in another order are the same request.
    let first = Some(IfMatch::Versions(vec![1, 7]));
    let reply = a
        .act(id("y"), money("deposit", "1"), &ctx(Some("j"), first))
        .await
        .unwrap();
    let again = a
        .act(
            id("y"),
            money("deposit", "1"),
            &ctx(Some("j"), Some(IfMatch::Versions(vec![7, 1, 1]))),
        )
        .await
        .unwrap();
    assert_eq!(again, reply);
}
