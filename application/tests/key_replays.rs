//! Keys made under an idempotency key (`application/src/key_replay.rs`): a retry gets
//! the same key and secret and stores nothing; another request under the key, or a
//! retry under another admin token (whose derived secret would not be the key's), is
//! refused, never answered a secret that does not work. The store is a mock: this is
//! the use case's own logic (the stores' side is the conformance suite's).

use std::sync::{Arc, Mutex};

use ledger_application::access::{Principal, Role};
use ledger_application::api_keys::{hash_of, ApiKeys, KeyError, Replayable};
use ledger_application::ports::keys::{ApiKey, KeyReplay, MockKeyStore, SecretHash};
use ledger_application::ports::system::{SystemClock, UuidV7Ids};

type Row = (ApiKey, SecretHash, KeyReplay);

fn keys_over_one_row() -> (ApiKeys, Arc<Mutex<Option<Row>>>) {
    let row: Arc<Mutex<Option<Row>>> = Arc::default();
    let mut store = MockKeyStore::new();
    let read = Arc::clone(&row);
    store
        .expect_by_replay()
        .returning(move |_| Ok(read.lock().unwrap().clone()));
    let written = Arc::clone(&row);
    store
        .expect_insert()
        .times(1)
        .returning(move |key, hash, replay| {
            *written.lock().unwrap() = Some((key.clone(), *hash, replay.unwrap()));
            Ok(true)
        });
    let keys = ApiKeys::new(
        Arc::new(store),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        Arc::new(|task| {
            tokio::spawn(task);
        }),
    );
    (keys, row)
}

fn under(token: &'static str) -> Option<Replayable<'static>> {
    Some(Replayable {
        idempotency_key: "0b9f3c1e-key",
        server_secret: token.as_bytes(),
    })
}

#[tokio::test]
async fn a_retry_gets_the_same_secret_and_another_token_or_request_is_refused() {
    let (keys, row) = keys_over_one_row();
    let admin = Principal::admin();
    let first = keys
        .create(&admin, "payroll", Role::Operator, under("token-a"))
        .await
        .unwrap();
    assert!(!first.replayed);
    let stored = row.lock().unwrap().clone().unwrap();
    assert_eq!(
        hash_of(&first.secret),
        Some(stored.1),
        "the hash, not the secret"
    );

    let again = keys
        .create(&admin, "payroll", Role::Operator, under("token-a"))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!((&again.key, &again.secret), (&first.key, &first.secret));

    let rotated = keys
        .create(&admin, "payroll", Role::Operator, under("token-b"))
        .await;
    match rotated {
        Err(KeyError::Invalid(m)) => assert!(m.contains("another admin token"), "{m}"),
        other => panic!("{other:?}"),
    }
    let other = keys
        .create(&admin, "payroll", Role::Reader, under("token-a"))
        .await;
    assert!(
        matches!(other, Err(KeyError::IdempotencyKeyReused)),
        "{other:?}"
    );
}
