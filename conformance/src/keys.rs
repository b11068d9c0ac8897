//! The API-key store's contract: found by the hash of its secret, listed while active,
//! revoked once, counted forever, touched at most once a minute.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use ledger_application::access::Role;
use ledger_application::ports::keys::{ApiKey, KeyReplay, KeyStore};
use ledger_domain::Owner;

fn key(id: &str, role: Role, second: i64) -> ApiKey {
    ApiKey {
        key_id: id.into(),
        name: format!("key {id}"),
        role,
        created_at: Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap(),
        last_used_at: None,
        revoked_at: None,
    }
}

/// Runs the whole contract on an empty store.
pub async fn the_key_store_contract(store: Arc<dyn KeyStore>) {
    assert!(!store.any().await.unwrap(), "a new store has no key");
    let alice = Role::Owner(Owner::parse("alice").unwrap());
    let (a, b) = (key("a1", alice.clone(), 0), key("b2", Role::Reader, 1));
    assert!(store.insert(&a, &[1; 32], None).await.unwrap());
    assert!(store.insert(&b, &[2; 32], None).await.unwrap());
    assert!(store.any().await.unwrap());
    // Both the id and the secret's hash are unique.
    assert!(store
        .insert(&key("a1", Role::Operator, 2), &[3; 32], None)
        .await
        .is_err());
    assert!(store
        .insert(&key("c3", Role::Operator, 2), &[1; 32], None)
        .await
        .is_err());

    assert_eq!(store.by_secret(&[1; 32]).await.unwrap(), Some(a.clone()));
    assert_eq!(store.by_secret(&[9; 32]).await.unwrap(), None);
    assert_eq!(store.active().await.unwrap(), vec![a.clone(), b.clone()]);

    let at = Utc.timestamp_opt(1_700_000_100, 0).unwrap();
    assert!(store.revoke("a1", at).await.unwrap());
    assert!(!store.revoke("a1", at).await.unwrap(), "revoked once");
    assert!(!store.revoke("zz", at).await.unwrap(), "no such key");
    let revoked = store.by_secret(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(
        revoked.revoked_at,
        Some(at),
        "a revoked key is still found, as revoked"
    );
    assert_eq!(revoked.role, alice);
    assert_eq!(store.active().await.unwrap(), vec![b]);
    assert!(store.any().await.unwrap(), "revoked keys still count");

    store.touch("b2", at).await.unwrap();
    store.touch("b2", at + Duration::seconds(59)).await.unwrap();
    let used = |k: Option<ApiKey>| k.unwrap().last_used_at;
    assert_eq!(
        used(store.by_secret(&[2; 32]).await.unwrap()),
        Some(at),
        "once a minute"
    );
    let later = at + Duration::seconds(60);
    store.touch("b2", later).await.unwrap();
    assert_eq!(used(store.by_secret(&[2; 32]).await.unwrap()), Some(later));
    // A use recorded by a clock that ran a day fast is corrected by the next use.
    store.touch("b2", later + Duration::days(1)).await.unwrap();
    store
        .touch("b2", later + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        used(store.by_secret(&[2; 32]).await.unwrap()),
        Some(later + Duration::seconds(1)),
        "a last use in the future"
    );
    the_replay_contract(store).await;
}

/// Keys made under an idempotency key: found by its lookup, one per lookup (the store's
/// unique constraint decides a race, and the loser writes nothing).
async fn the_replay_contract(store: Arc<dyn KeyStore>) {
    let replay = |n: u8| KeyReplay {
        lookup: [n; 32],
        request: [n.wrapping_add(1); 32],
        salt: [n.wrapping_add(2); 32],
    };
    assert_eq!(store.by_replay(&[40; 32]).await.unwrap(), None);
    let d = key("d4", Role::Reader, 3);
    assert!(store.insert(&d, &[4; 32], Some(replay(40))).await.unwrap());
    assert_eq!(
        store.by_replay(&[40; 32]).await.unwrap(),
        Some((d.clone(), [4; 32], replay(40)))
    );
    let before = store.active().await.unwrap();
    let again = key("e5", Role::Reader, 4);
    assert!(
        !store
            .insert(&again, &[5; 32], Some(replay(40)))
            .await
            .unwrap(),
        "one key per lookup"
    );
    assert_eq!(
        store.active().await.unwrap(),
        before,
        "the loser wrote nothing"
    );
    assert_eq!(store.by_secret(&[5; 32]).await.unwrap(), None);

    // Eight racing inserts under one new lookup: exactly one is written.
    let racers: Vec<_> = (0..8u8)
        .map(|i| {
            let store = Arc::clone(&store);
            let mine = replay(50);
            tokio::spawn(async move {
                let k = key(&format!("r{i}"), Role::Operator, 10 + i64::from(i));
                store.insert(&k, &[100 + i; 32], Some(mine)).await
            })
        })
        .collect();
    let mut won = Vec::new();
    for r in racers {
        won.push(r.await.unwrap().unwrap());
    }
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let (winner, _, _) = store.by_replay(&[50; 32]).await.unwrap().unwrap();
    let i = won.iter().position(|w| *w).unwrap();
    assert_eq!(winner.key_id, format!("r{i}"));
}
