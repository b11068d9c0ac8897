//! The command service's own logic, against mocked ports.
//! `conflicts.rs`: retries after a lost race; `idempotency.rs`: keys stored with the
//! events; `failures.rs`: the ports failing and refusals; `chain.rs`: the hash chain; `times.rs`: one time per write;
//! `transfers.rs`: a transfer's `If-Match`.

mod chain;
mod conflicts;
mod failures;
mod idempotency;
mod times;
mod transfers;

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use ledger_application::ports::snapshot::{MockSnapshotStore, SnapshotError};
use ledger_application::ports::store::{
    AppendError, AppendHold, EventStore, FeedCursor, IdempotencyRecord, MockEventStore, NewEvent,
    RecordedEvent, StoreError,
};
use ledger_application::ports::system::{SystemClock, UuidV7Ids};
use ledger_application::repository::Repository;
use ledger_application::*;
use ledger_domain::*;

fn opened_stream() -> Vec<RecordedEvent> {
    opened_stream_of("a")
}

/// The stream of account `id` holding only its opening event.
fn opened_stream_of(id: &str) -> Vec<RecordedEvent> {
    let enc = Account::encode(&AccountEvent::Opened {
        account_id: AccountId::parse(id).unwrap(),
        owner: Owner::parse("Ada").unwrap(),
        currency: Currency::parse("USD").unwrap(),
    });
    vec![RecordedEvent {
        cursor: FeedCursor { tx: 1, position: 1 },
        event_id: uuid::Uuid::nil(),
        stream_id: id.into(),
        stream_type: "account".into(),
        version: 1,
        event_type: enc.event_type.into(),
        schema_version: enc.schema_version,
        data: enc.data,
        metadata: Default::default(),
        recorded_at: Utc.timestamp_opt(0, 0).unwrap(),
        prev_hash: ledger_domain::ChainHash::ZERO,
        hash: ledger_domain::ChainHash([7; 32]),
    }]
}

fn no_snapshots() -> MockSnapshotStore {
    let mut s = MockSnapshotStore::new();
    s.expect_load().returning(|_| Ok(None));
    s.expect_save().returning(|_| Ok(()));
    s
}

fn service(store: MockEventStore, snapshots: MockSnapshotStore, every: u64) -> CommandService {
    let store: Arc<dyn EventStore> = Arc::new(store);
    let repo = Arc::new(Repository::new(store.clone(), Arc::new(snapshots), every));
    CommandService::new(
        store,
        repo,
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        test_spawner(),
        3,
    )
}

/// [`service`] with an in-process cache of 10 aggregates and no snapshots.
fn cached_service(store: MockEventStore) -> CommandService {
    let store: Arc<dyn EventStore> = Arc::new(store);
    let repo = Repository::new(store.clone(), Arc::new(no_snapshots()), 0).with_cache(10);
    CommandService::new(
        store,
        Arc::new(repo),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        test_spawner(),
        3,
    )
}

/// A store whose stream `a` holds only its opening event.
fn store_with_account() -> MockEventStore {
    let mut store = MockEventStore::new();
    store.expect_read_stream().returning(|q| {
        Ok(if q.after_version == 0 {
            opened_stream()
        } else {
            vec![]
        })
    });
    store.expect_idempotency_record().returning(|_| Ok(None));
    store
}

fn deposit(amount: &str) -> AccountAction {
    AccountAction::Deposit {
        amount: Decimal::parse(amount).unwrap(),
        description: None,
    }
}

fn ctx() -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new("tester", Default::default()),
        ..Default::default()
    }
}

fn a() -> AccountId {
    AccountId::parse("a").unwrap()
}

fn conflict() -> AppendError {
    AppendError::Conflict {
        stream_id: "a".into(),
        expected: 1,
    }
}

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}
