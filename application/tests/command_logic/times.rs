//! One time per write: every event of one append carries the same `recorded_at`, so a
//! temporal query never sees a transfer's debit without its credit (black-box testing
//! found a transfer's legs some microseconds apart, and `?as_of=` between them showing
//! the money nowhere).

use chrono::{DateTime, Duration, TimeZone};
use ledger_application::ports::system::Clock;
use ledger_application::transfers::TransferRequest;

use super::*;

/// A clock a millisecond later at every reading.
struct Ticking(Mutex<DateTime<Utc>>);

impl Clock for Ticking {
    fn now(&self) -> DateTime<Utc> {
        let mut now = self.0.lock().unwrap();
        *now += Duration::milliseconds(1);
        *now
    }
}

/// Accounts `a` and `b` (USD, opened), any other stream empty; each append's events
/// kept.
fn two_accounts(appends: Arc<Mutex<Vec<Vec<NewEvent>>>>) -> CommandService {
    let mut store = MockEventStore::new();
    store.expect_read_stream().returning(|q| {
        if q.after_version > 0 || !["a", "b"].contains(&q.stream_id) {
            return Ok(vec![]);
        }
        let mut events = opened_stream();
        let opened = Account::encode(&AccountEvent::Opened {
            account_id: AccountId::parse(q.stream_id).unwrap(),
            owner: Owner::parse("Ada").unwrap(),
            currency: Currency::parse("USD").unwrap(),
        });
        events[0].stream_id = q.stream_id.into();
        events[0].data = opened.data;
        Ok(events)
    });
    store.expect_idempotency_record().returning(|_| Ok(None));
    store.expect_append().returning(move |request| {
        let events = request.streams.iter().flat_map(|w| w.events.clone());
        appends.lock().unwrap().push(events.collect());
        Ok(())
    });
    let store: Arc<dyn EventStore> = Arc::new(store);
    let repo = Repository::new(store.clone(), Arc::new(no_snapshots()), 0).with_cache(10);
    let start = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    CommandService::new(
        store,
        Arc::new(repo),
        Arc::new(Ticking(Mutex::new(start))),
        Arc::new(UuidV7Ids),
        test_spawner(),
        3,
    )
}

fn request(amount: &str, pending: bool) -> TransferRequest {
    TransferRequest {
        transfer_id: None,
        from: a(),
        to: AccountId::parse("b").unwrap(),
        amount: Decimal::parse(amount).unwrap(),
        description: None,
        pending,
        expires_in_seconds: None,
    }
}

/// Asserts that each append's events share one time, and returns the appends' times.
fn one_time_each(appends: &Mutex<Vec<Vec<NewEvent>>>) -> Vec<DateTime<Utc>> {
    let appends = appends.lock().unwrap();
    appends
        .iter()
        .map(|events| {
            let first = events[0].recorded_at;
            for e in events {
                assert_eq!(e.recorded_at, first, "{} of one append", e.event_type);
            }
            first
        })
        .collect()
}

/// [`two_accounts`] with 10 deposited into `a` (the first append).
async fn funded(appends: Arc<Mutex<Vec<Vec<NewEvent>>>>) -> CommandService {
    let service = two_accounts(appends);
    service
        .act(a(), deposit("10"), &ctx())
        .await
        .expect("deposit");
    service
}

#[tokio::test]
async fn every_event_of_one_append_has_the_same_time() {
    let appends = Arc::new(Mutex::new(Vec::new()));
    let service = funded(appends.clone()).await;
    // A transfer (three streams), a pending one, then its post.
    service
        .transfer(request("1", false), &ctx())
        .await
        .expect("transfer");
    let pending = service
        .transfer(request("2", true), &ctx())
        .await
        .expect("pending");
    service
        .post_transfer(
            TransferId::parse(pending.transfer.transfer_id).unwrap(),
            None,
            &ctx(),
        )
        .await
        .expect("post");
    // An atomic batch over every stream it touches.
    let ops = vec![
        batch::BatchOperation::Act(a(), deposit("3")),
        batch::BatchOperation::Transfer(request("1", false)),
        batch::BatchOperation::Act(AccountId::parse("b").unwrap(), deposit("4")),
    ];
    let outcome = service.atomic_batch(ops, &ctx()).await.expect("batch");
    assert!(outcome.is_ok(), "{outcome:?}");
    let times = one_time_each(&appends);
    let sizes: Vec<usize> = appends.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 3, 3, 3, 5]);
    // Each write read the clock afresh: later writes are later.
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
}

/// A pending transfer's life runs from the time it is recorded: `expires_at` is its
/// `recorded_at` plus `expires_in_seconds` exactly, however late the command is decided
/// (it was counted from a reading taken before the accounts' locks, so a decide delayed
/// by a wait could record a transfer whose life was partly, or wholly, spent).
#[tokio::test]
async fn a_pending_transfer_expires_its_life_after_it_is_recorded() {
    let appends = Arc::new(Mutex::new(Vec::new()));
    let service = funded(appends.clone()).await;
    let pending = service
        .transfer(
            TransferRequest {
                expires_in_seconds: Some(60),
                ..request("2", true)
            },
            &ctx(),
        )
        .await
        .expect("pending");
    let times = one_time_each(&appends);
    let recorded_at = times[1];
    assert_eq!(
        pending.transfer.expires_at,
        Some(recorded_at + Duration::seconds(60))
    );
}
