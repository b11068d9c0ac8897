//! A host clock stepped back (NTP, a restored virtual machine), or two instances whose
//! clocks disagree. Black-box testing with a faked clock found that a stream's events
//! could be stamped out of time order, so that `?as_of=` showed a transfer's debit
//! without its credit; and that a post refused as expired by one clock could be
//! accepted by a slower one afterwards (alone, and, as a review found, in an atomic
//! batch).

use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use ledger_application::ports::system::ManualClock;
use ledger_tests::{json, Backend, Options, TestApp};
use serde_json::{json, Value};

ledger_tests::on_both_backends!(
    a_clock_stepped_back_keeps_each_stream_in_time_order,
    a_post_refused_as_expired_stays_refused_on_a_slower_clock,
    a_batch_refused_at_an_expired_transfer_records_the_expiry,
    a_time_a_fast_clock_left_on_an_account_expires_nothing_early,
);

async fn started(backend: Backend) -> (TestApp, Arc<ManualClock>, DateTime<Utc>) {
    let start = chrono::SubsecRound::trunc_subsecs(Utc::now(), 0);
    let clock = Arc::new(ManualClock::new(start));
    let options = Options {
        clock: Some(clock.clone()),
        ..Options::default()
    };
    (TestApp::spawn_with(backend, options).await, clock, start)
}

async fn ok(app: &TestApp, path: &str, body: Value) -> Value {
    let (s, b) = json(app.post(path, body).await).await;
    assert!(s == 200 || s == 201, "{path}: {s} {b}");
    b
}

async fn open(app: &TestApp, id: &str) {
    let body = json!({"account_id": id, "owner": "O", "currency": "USD"});
    ok(app, "/accounts", body).await;
}

/// The `recorded_at` of an account's events, oldest first.
async fn times(app: &TestApp, id: &str) -> Vec<DateTime<Utc>> {
    let (s, page) = json(app.get(&format!("/accounts/{id}/events")).await).await;
    assert_eq!(s, 200, "{page}");
    let events = page["events"].as_array().cloned().unwrap_or_default();
    let time = |e: &Value| e["recorded_at"].as_str().and_then(|t| t.parse().ok());
    events.iter().map(|e| time(e).expect("a time")).collect()
}

async fn balance_as_of(app: &TestApp, id: &str, at: DateTime<Utc>) -> String {
    let at = at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let (s, b) = json(app.get(&format!("/accounts/{id}?as_of={at}")).await).await;
    assert_eq!(s, 200, "{b}");
    b["balance"].as_str().unwrap_or_default().to_owned()
}

pub(crate) async fn a_clock_stepped_back_keeps_each_stream_in_time_order(backend: Backend) {
    let (app, clock, start) = started(backend).await;
    open(&app, "u").await;
    open(&app, "v").await;
    ok(&app, "/accounts/u/deposit", json!({"amount": "100"})).await;
    // A clock an hour fast writes to `v`, then is corrected while `u` pays `v`.
    clock.set(start + Duration::hours(1));
    ok(&app, "/accounts/v/deposit", json!({"amount": "1"})).await;
    clock.set(start + Duration::seconds(1));
    let body = json!({"transfer_id": "t", "from_account_id": "u", "to_account_id": "v",
                      "amount": "60"});
    ok(&app, "/transfers", body).await;
    // A batch decides its time as a lone command does: after the last event of every
    // stream it writes (here `v`'s, later than `u`'s).
    clock.set(start + Duration::hours(2));
    ok(&app, "/accounts/v/deposit", json!({"amount": "1"})).await;
    clock.set(start + Duration::seconds(1));
    let op = json!({"op": "transfer", "from_account_id": "u", "to_account_id": "v",
                    "amount": "10"});
    ok(&app, "/batches", json!({"operations": [op]})).await;
    let (u, v) = (times(&app, "u").await, times(&app, "v").await);
    for (id, times) in [("u", &u), ("v", &v)] {
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{id}: {times:?}");
    }
    assert_eq!(u.last(), v.last(), "the batch's two legs");
    assert_eq!(u[u.len() - 2], v[v.len() - 3], "the transfer's two legs");
    // Between the corrected time and the fast one, the 100 is somewhere, once.
    let at = start + Duration::seconds(2);
    let (u_then, v_then) = (
        balance_as_of(&app, "u", at).await,
        balance_as_of(&app, "v", at).await,
    );
    assert_eq!((u_then.as_str(), v_then.as_str()), ("100.00", "0.00"));
}

/// Two instances: the first (`slow`) holds the expirer's lease and its clock never
/// reaches the expiry; on the second's (`fast`) clock, pending transfer `h` (5.00 of
/// `a`'s 10.00, to `b`) has expired.
async fn expired_on_the_fast_one(backend: Backend) -> (TestApp, TestApp) {
    let (slow, _, start) = started(backend).await;
    let fast_clock = Arc::new(ManualClock::new(start));
    let fast = slow.spawn_beside_with_clock(fast_clock.clone()).await;
    open(&fast, "a").await;
    open(&fast, "b").await;
    ok(&fast, "/accounts/a/deposit", json!({"amount": "10"})).await;
    let body = json!({"transfer_id": "h", "from_account_id": "a", "to_account_id": "b",
                      "amount": "5", "pending": true, "expires_in_seconds": 60});
    ok(&fast, "/transfers", body).await;
    fast_clock.set(start + Duration::seconds(120));
    (slow, fast)
}

/// `h` reads `expired` on both instances, and a post of it is refused on both.
async fn expired_on_both(slow: &TestApp, fast: &TestApp) {
    for app in [slow, fast] {
        let (s, b) = json(app.post("/transfers/h/post", json!({})).await).await;
        assert_eq!((s, &b["code"]), (409, &json!("transfer_expired")), "{b}");
        let (_, t) = json(app.get("/transfers/h").await).await;
        assert_eq!(t["status"], json!("expired"), "{t}");
    }
}

pub(crate) async fn a_post_refused_as_expired_stays_refused_on_a_slower_clock(backend: Backend) {
    let (slow, fast) = expired_on_the_fast_one(backend).await;
    let (s, b) = json(fast.post("/transfers/h/post", json!({})).await).await;
    assert_eq!((s, &b["code"]), (409, &json!("transfer_expired")), "{b}");
    // The refusal recorded the expiry: no clock can post the transfer now.
    expired_on_both(&slow, &fast).await;
    let (_, a) = json(slow.get("/accounts/a?version=999999").await).await;
    assert_eq!(
        (&a["balance"], &a["available"]),
        (&json!("10.00"), &json!("10.00"))
    );
    assert_eq!(slow.verify_here().await, Vec::<String>::new());
}

pub(crate) async fn a_batch_refused_at_an_expired_transfer_records_the_expiry(backend: Backend) {
    let (slow, fast) = expired_on_the_fast_one(backend).await;
    let batch = json!({"operations": [
        {"op": "deposit", "account_id": "a", "amount": "1"},
        {"op": "void_transfer", "transfer_id": "h"}]});
    let key = [("idempotency-key", "k-1")];
    for _ in 0..2 {
        let answer = fast
            .send(reqwest::Method::POST, "/batches", Some(batch.clone()), &key)
            .await;
        let (s, b) = json(answer).await;
        assert_eq!(
            (s, &b["code"], &b["operation"]),
            (409, &json!("transfer_expired"), &json!(1)),
            "{b}"
        );
    }
    // The expiry is written, nothing of the batch's operations is: no clock can post
    // the transfer now, and the deposit was not made.
    expired_on_both(&slow, &fast).await;
    let (_, a) = json(slow.get("/accounts/a?version=999999").await).await;
    let (_, b) = json(slow.get("/accounts/b?version=999999").await).await;
    let money = |x: &Value| {
        [
            x["balance"].clone(),
            x["available"].clone(),
            x["pending_in"].clone(),
        ]
    };
    assert_eq!(
        money(&a),
        [json!("10.00"), json!("10.00"), json!("0.00")],
        "{a}"
    );
    assert_eq!(
        money(&b),
        [json!("0.00"), json!("0.00"), json!("0.00")],
        "{b}"
    );
    assert_eq!(slow.verify_here().await, Vec::<String>::new());
}

pub(crate) async fn a_time_a_fast_clock_left_on_an_account_expires_nothing_early(backend: Backend) {
    let (app, _, start) = started(backend).await;
    let fast_clock = Arc::new(ManualClock::new(start + Duration::hours(1)));
    let fast = app.spawn_beside_with_clock(fast_clock).await;
    open(&app, "u").await;
    open(&app, "v").await;
    ok(&app, "/accounts/u/deposit", json!({"amount": "100"})).await;
    let body = json!({"transfer_id": "h", "from_account_id": "u", "to_account_id": "v",
                      "amount": "50", "pending": true, "expires_in_seconds": 600});
    ok(&app, "/transfers", body).await;
    // An instance an hour fast writes to the payee: its stream now ends an hour ahead.
    ok(&fast, "/accounts/v/deposit", json!({"amount": "1"})).await;
    // The post is decided on this instance's clock, ten minutes before the expiry
    // (before: refused as expired, and the expiry recorded for good). Its events are
    // still recorded no earlier than the payee's last.
    let posted = ok(&app, "/transfers/h/post", json!({})).await;
    assert_eq!(posted["status"], json!("posted"), "{posted}");
    let v = times(&app, "v").await;
    assert!(v.windows(2).all(|w| w[0] <= w[1]), "{v:?}");
}
