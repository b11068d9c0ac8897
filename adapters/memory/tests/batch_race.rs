//! An atomic batch plans the accounts of each post and void before it takes their locks.
//! A transfer it was to make itself, made meanwhile by another request between other
//! accounts, must be settled on those accounts or not at all: the batch plans again.
//! (Found in review: the batch's refusal wrote the due transfer's expiry against the
//! batch's own two accounts, releasing another transfer's hold and keeping this one's
//! for good.) The race is made certain by a store that hides the transfer from the
//! batch's first look, as if it were made a moment later.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use ledger_application::batch::BatchOperation;
use ledger_application::ports::store::{
    AppendError, AppendRequest, EventStore, FeedCursor, FeedPage, IdempotencyRecord, RecordedEvent,
    StoreError, StreamQuery,
};
use ledger_application::ports::system::{ManualClock, Spawner, UuidV7Ids};
use ledger_application::repository::Repository;
use ledger_application::*;
use ledger_domain::*;
use ledger_memory::{MemoryEventStore, MemorySnapshotStore};

/// The memory store, but the next read of one stream finds it empty.
struct HidesOnce {
    inner: MemoryEventStore,
    hidden: Mutex<Option<String>>,
}

#[async_trait]
impl EventStore for HidesOnce {
    async fn append(&self, request: AppendRequest) -> Result<(), AppendError> {
        self.inner.append(request).await
    }
    async fn read_stream<'a>(
        &self,
        query: StreamQuery<'a>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let hide = {
            let mut hidden = self.hidden.lock().unwrap();
            let hide = hidden.as_deref() == Some(query.stream_id);
            if hide {
                *hidden = None;
            }
            hide
        };
        match hide {
            true => Ok(Vec::new()),
            false => self.inner.read_stream(query).await,
        }
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

fn spawner() -> Arc<dyn Spawner> {
    Arc::new(|task| {
        tokio::spawn(task);
    })
}

fn ctx() -> CommandContext {
    CommandContext {
        principal: ledger_application::access::Principal::new("tester", Default::default()),
        ..Default::default()
    }
}

fn id(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

fn pending(t: &str, from: &str, to: &str, expires: Option<u32>) -> TransferRequest {
    TransferRequest {
        transfer_id: Some(TransferId::parse(t).unwrap()),
        from: id(from),
        to: id(to),
        amount: Decimal::parse("10").unwrap(),
        description: None,
        pending: true,
        expires_in_seconds: expires,
    }
}

/// An account's (pending out, pending in), from the store.
async fn held(repo: &Repository, account: &str) -> (String, String) {
    let a = repo.load_existing::<Account>(account).await.unwrap().state;
    let d = a.details().unwrap();
    (d.pending_out.to_string(), d.pending_in.to_string())
}

/// A ledger of accounts a, b, c and d (100.00 each) on a store that can hide a stream.
async fn ledger() -> (Arc<HidesOnce>, CommandService, Arc<ManualClock>) {
    let store = Arc::new(HidesOnce {
        inner: MemoryEventStore::new(),
        hidden: Mutex::new(None),
    });
    let dyn_store: Arc<dyn EventStore> = store.clone();
    let clock = Arc::new(ManualClock::new(
        Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    ));
    let repo = Repository::new(dyn_store.clone(), Arc::new(MemorySnapshotStore::new(10)), 0);
    let svc = CommandService::new(
        dyn_store,
        Arc::new(repo),
        clock.clone(),
        Arc::new(UuidV7Ids),
        spawner(),
        5,
    );
    for account in ["a", "b", "c", "d"] {
        let open = OpenAccount {
            overdraft_limit: None,
            account_id: Some(id(account)),
            owner: Owner::parse("Ada").unwrap(),
            currency: Currency::parse("USD").unwrap(),
        };
        svc.open_account(open, &ctx()).await.unwrap();
        let deposit = AccountAction::Deposit {
            amount: Decimal::parse("100").unwrap(),
            description: None,
        };
        svc.act(id(account), deposit, &ctx()).await.unwrap();
    }
    (store, svc, clock)
}

fn checker(store: &Arc<HidesOnce>) -> Repository {
    let store: Arc<dyn EventStore> = store.clone();
    Repository::new(store, Arc::new(MemorySnapshotStore::new(10)), 0)
}

#[tokio::test]
async fn a_settled_transfer_made_meanwhile_between_other_accounts_moves_only_its_own() {
    let (store, svc, clock) = ledger().await;
    // P holds 10 of a for b; T, made "meanwhile", holds 10 of c for d and is due.
    svc.transfer(pending("p", "a", "b", None), &ctx())
        .await
        .unwrap();
    svc.transfer(pending("t", "c", "d", Some(1)), &ctx())
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(2));
    *store.hidden.lock().unwrap() = Some("transfer/t".to_owned());
    let t = TransferId::parse("t").unwrap();
    let batch = vec![
        BatchOperation::Post(t.clone(), None),
        BatchOperation::Transfer(pending("t", "a", "b", None)),
    ];
    let outcome = svc.atomic_batch(batch, &ctx()).await.expect("answered");
    let refusal = outcome.expect_err("T is past due");
    assert_eq!(refusal.code, ErrorCode::TransferExpired, "{refusal:?}");
    assert_eq!(
        store.hidden.lock().unwrap().as_deref(),
        None,
        "T was hidden once"
    );

    // T's expiry released c and d; a and b still hold P, which posts in full.
    let check = checker(&store);
    assert_eq!(held(&check, "a").await, ("10.00".into(), "0.00".into()));
    assert_eq!(held(&check, "b").await, ("0.00".into(), "10.00".into()));
    assert_eq!(held(&check, "c").await, ("0.00".into(), "0.00".into()));
    assert_eq!(held(&check, "d").await, ("0.00".into(), "0.00".into()));
    let p = TransferId::parse("p").unwrap();
    svc.post_transfer(p, None, &ctx()).await.expect("P posts");
    assert_eq!(held(&check, "a").await, ("0.00".into(), "0.00".into()));
}

/// A batch that only settles a transfer it saw as missing, made meanwhile: planned on
/// no accounts, it plans again and settles on the transfer's own (it answered 404).
#[tokio::test]
async fn a_transfer_seen_missing_then_found_is_settled_on_its_own_accounts() {
    let (store, svc, _clock) = ledger().await;
    svc.transfer(pending("t", "c", "d", None), &ctx())
        .await
        .unwrap();
    *store.hidden.lock().unwrap() = Some("transfer/t".to_owned());
    let t = TransferId::parse("t").unwrap();
    let outcome = svc
        .atomic_batch(vec![BatchOperation::Post(t, None)], &ctx())
        .await
        .expect("answered");
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(
        store.hidden.lock().unwrap().as_deref(),
        None,
        "T was hidden once"
    );
    let check = checker(&store);
    let balance = |d: &AccountDetails| (d.balance.to_string(), d.pending_out.to_string());
    for (account, want) in [("c", ("90.00", "0.00")), ("d", ("110.00", "0.00"))] {
        let a = check.load_existing::<Account>(account).await.unwrap().state;
        let got = balance(a.details().unwrap());
        assert_eq!(got, (want.0.to_owned(), want.1.to_owned()), "{account}");
    }
}

/// A batch making a transfer whose id exists between other accounts, then settling it:
/// refused at its first operation (`transfer_exists`), as without the settlement. (The
/// batch's own transfer is not read at first, so the settlement met it, not the stored
/// one, and its conflict must not hide the refusal: the model-checked test found 409.)
#[tokio::test]
async fn a_batch_remaking_a_stored_transfer_is_refused_for_the_id() {
    let (_store, svc, _clock) = ledger().await;
    svc.transfer(pending("t", "a", "b", None), &ctx())
        .await
        .unwrap();
    let t = TransferId::parse("t").unwrap();
    let batch = vec![
        BatchOperation::Transfer(pending("t", "c", "d", None)),
        BatchOperation::Post(t, None),
    ];
    let outcome = svc.atomic_batch(batch, &ctx()).await.expect("answered");
    let refusal = outcome.expect_err("the id is taken");
    assert_eq!(
        (refusal.operation, refusal.code),
        (0, ErrorCode::TransferExists),
        "{refusal:?}"
    );
}
