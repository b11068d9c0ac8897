//! Commands queued on one account are decided together and written in one append;
//! each still gets its own answer, events, metadata and idempotency record.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ledger_application::ports::store::*;
use ledger_application::ports::system::Spawner;
use ledger_application::ports::system::{SystemClock, UuidV7Ids};
use ledger_application::repository::Repository;
use ledger_application::*;
use ledger_domain::*;
use ledger_memory::{MemoryEventStore, MemorySnapshotStore};

/// Counts appends and makes each take a moment, so commands queue up behind it.
struct SlowCounting {
    inner: MemoryEventStore,
    appends: AtomicUsize,
}

#[async_trait]
impl EventStore for SlowCounting {
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.inner.append(request).await
    }
    async fn read_stream<'a>(&self, q: StreamQuery<'a>) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(q).await
    }
    async fn read_feed(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        self.inner.read_feed(after, limit).await
    }
    async fn feed_end(&self) -> Result<FeedCursor, StoreError> {
        self.inner.feed_end().await
    }
    async fn committed_end(&self) -> Result<FeedCursor, StoreError> {
        self.inner.committed_end().await
    }
    async fn count_after(&self, after: FeedCursor) -> Result<u64, StoreError> {
        self.inner.count_after(after).await
    }
    async fn size_bytes(&self) -> Result<u64, StoreError> {
        self.inner.size_bytes().await
    }
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.idempotency_record(key).await
    }
}

fn service() -> (Arc<SlowCounting>, Arc<CommandService>) {
    let store = Arc::new(SlowCounting {
        inner: MemoryEventStore::new(),
        appends: AtomicUsize::new(0),
    });
    let dyn_store: Arc<dyn EventStore> = store.clone();
    let spawner: Arc<dyn Spawner> = Arc::new(|task| {
        tokio::spawn(task);
    });
    let repo = Arc::new(
        Repository::new(dyn_store.clone(), Arc::new(MemorySnapshotStore::new(10)), 0)
            .with_cache(100)
            .with_spawner(spawner),
    );
    let commands = Arc::new(CommandService::new(
        dyn_store,
        repo,
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        test_spawner(),
        5,
    ));
    (store, commands)
}

fn ctx(request: usize, key: Option<String>) -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new("batcher", Default::default()),
        request_id: Some(format!("req-{request}")),
        idempotency_key: key,
        if_match: None,
    }
}

fn amount(s: &str) -> Decimal {
    Decimal::parse(s).unwrap()
}

async fn open_with(commands: &CommandService, id: &str, balance: &str) {
    let account = AccountId::parse(id).unwrap();
    commands
        .open_account(
            OpenAccount {
                overdraft_limit: None,
                account_id: Some(account.clone()),
                owner: Owner::parse("Ada").unwrap(),
                currency: Currency::parse("USD").unwrap(),
            },
            &ctx(0, None),
        )
        .await
        .unwrap();
    let deposit = AccountAction::Deposit {
        amount: amount(balance),
        description: None,
    };
    commands.act(account, deposit, &ctx(0, None)).await.unwrap();
}

fn action(i: usize) -> AccountAction {
    if i % 3 == 2 {
        AccountAction::Withdraw {
            amount: amount("30"),
            description: None,
        }
    } else {
        AccountAction::Deposit {
            amount: amount(&format!("0.{:02}", i % 100 + 1)),
            description: None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_commands_are_batched_and_each_gets_its_own_answer() {
    for round in 0..5 {
        let (store, commands) = service();
        open_with(&commands, "hot", "100").await;
        let before = store.appends.load(Ordering::SeqCst);
        const N: usize = 60;
        let start = Arc::new(tokio::sync::Barrier::new(N));
        let mut tasks = Vec::new();
        for i in 1..=N {
            let (commands, start) = (commands.clone(), start.clone());
            let key = (i % 4 == 0).then(|| format!("key-{round}-{i}"));
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                let account = AccountId::parse("hot").unwrap();
                let got = commands.act(account, action(i), &ctx(i, key.clone())).await;
                (i, key, got)
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let appends = store.appends.load(Ordering::SeqCst) - before;
        assert!(
            appends < N,
            "{N} queued commands took {appends} appends: nothing was batched"
        );

        let events = store
            .read_stream(StreamQuery {
                stream_id: "hot",
                after_version: 0,
                until: None,
                limit: 10_000,
            })
            .await
            .unwrap();
        let by_version: HashMap<u64, &RecordedEvent> =
            events.iter().map(|e| (e.version, e)).collect();
        let mut versions = BTreeSet::new();
        let mut balance_moves = 0i64;
        for (i, key, got) in &outcomes {
            match got {
                Ok(reply) => {
                    assert!(versions.insert(reply.version), "version given twice");
                    // The reply is the state right after this command's own event...
                    let replayed = replay(
                        Account::default(),
                        events
                            .iter()
                            .take_while(|e| e.version <= reply.version)
                            .map(|e| e.raw()),
                    )
                    .unwrap();
                    let details = replayed.details().unwrap();
                    assert_eq!(details.balance, reply.balance, "command {i}");
                    // ... and that event carries this command's metadata.
                    let event = by_version[&reply.version];
                    assert_eq!(
                        event.metadata.request_id.as_deref(),
                        Some(format!("req-{i}").as_str())
                    );
                    balance_moves += 1;
                }
                Err(CommandError::Refused(DomainError::InsufficientFunds { .. })) => {
                    assert_eq!(i % 3, 2, "only withdrawals may be refused");
                }
                Err(e) => panic!("command {i} failed: {e:?}"),
            }
            // A keyed command's outcome is stored: the retry gets it back, writing nothing.
            if let Some(k) = key {
                let account = AccountId::parse("hot").unwrap();
                let again = commands
                    .act(account, action(*i), &ctx(*i, Some(k.clone())))
                    .await;
                match (got, &again) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b),
                    (Err(_), Err(CommandError::StoredRefusal { code, .. })) => {
                        assert_eq!(*code, "insufficient_funds")
                    }
                    other => panic!("retry of {i} differs: {other:?}"),
                }
            }
        }
        assert_eq!(
            versions,
            (3..3 + balance_moves as u64).collect::<BTreeSet<_>>(),
            "the applied commands hold exactly the versions after the setup"
        );
        assert_eq!(
            events.len() as u64,
            2 + balance_moves as u64,
            "retries wrote nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_that_go_away_leave_no_one_waiting() {
    let (store, commands) = service();
    open_with(&commands, "hot", "1").await;
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for i in 0..40 {
        let commands = commands.clone();
        let task = tokio::spawn(async move {
            let account = AccountId::parse("hot").unwrap();
            let deposit = AccountAction::Deposit {
                amount: amount("1"),
                description: None,
            };
            commands.act(account, deposit, &ctx(i, None)).await
        });
        if i % 2 == 0 {
            dropped.push(task);
        } else {
            kept.push(task);
        }
    }
    for t in &dropped {
        t.abort();
    }
    for t in kept {
        let reply = tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("a kept caller was left waiting")
            .unwrap();
        assert!(reply.is_ok(), "{reply:?}");
    }
    // Whatever the dropped callers' commands did, the stream is consistent.
    let events = store
        .read_stream(StreamQuery {
            stream_id: "hot",
            after_version: 0,
            until: None,
            limit: 10_000,
        })
        .await
        .unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.version, i as u64 + 1);
    }
    assert!(events.len() >= 2 + 20, "every kept command is stored");
}

/// A client retrying before its first try was answered: the same key, queued twice or
/// more in one batch. The first is applied; the others get its outcome, and unrelated
/// commands in the batch are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_repeated_within_a_batch_is_applied_once() {
    let (store, commands) = service();
    open_with(&commands, "hot", "1").await;
    let start = Arc::new(tokio::sync::Barrier::new(12));
    let mut tasks = Vec::new();
    for i in 0..12usize {
        let (commands, start) = (commands.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let account = AccountId::parse("hot").unwrap();
            let (amount_text, key) = if i % 2 == 0 {
                ("7.00", Some("same-key".to_owned()))
            } else {
                ("1.00", None)
            };
            let deposit = AccountAction::Deposit {
                amount: amount(amount_text),
                description: None,
            };
            commands
                .act(account, deposit, &ctx(100 + i, key.clone()))
                .await
                .map(|r| (key.is_some(), r))
        }));
    }
    let mut keyed = Vec::new();
    for t in tasks {
        let (is_keyed, reply) = t.await.unwrap().expect("every command succeeds");
        if is_keyed {
            keyed.push(reply);
        }
    }
    assert_eq!(keyed.len(), 6);
    assert!(keyed.iter().all(|r| *r == keyed[0]), "{keyed:?}");
    let events = store
        .read_stream(StreamQuery {
            stream_id: "hot",
            after_version: 0,
            until: None,
            limit: 100,
        })
        .await
        .unwrap();
    // Opened, the setup deposit, one keyed deposit and six unkeyed ones.
    assert_eq!(events.len(), 2 + 1 + 6);
}

/// Runs the command pipeline's per-account batches on the test's Tokio runtime.
fn test_spawner() -> std::sync::Arc<dyn ledger_application::ports::system::Spawner> {
    std::sync::Arc::new(|task| {
        tokio::spawn(task);
    })
}
