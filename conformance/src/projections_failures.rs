//! The projections' conformance suite, continued: stepping every projection together,
//! a projection that cannot apply an event (failed alone, the others going on, its
//! rebuild refused), and rebuild steps that must not be taken. Same harness as
//! [`crate::projections`].

use std::time::Duration;

use ledger_domain::{AccountEvent, Currency, Owner};

use ledger_application::commands::{AccountAction, OpenAccount};
use ledger_application::ports::readmodel::{AuditFilter, Projection, ProjectionState, PROJECTIONS};
use ledger_application::ports::store::{ChainHash, FeedCursor};
use ledger_application::projection::{ProjectionError, ProjectionRunner};

use crate::fold::{expected, observed};
use crate::projections::{catch_up_all, ctx, dec, id, workload, Harness};

/// Two JPY accounts with a deposit each, then, written straight to the store (no
/// command would decide it), a deposit of US dollars into `big-1`: the current-state
/// view cannot add it to a yen account's totals; the analytics (per the currency of
/// each amount) and the audit log can record it.
async fn a_foreign_currency_deposit(h: &Harness) {
    use ledger_application::ports::store::{AppendRequest, EventMetadata, NewEvent, StreamWrite};
    use ledger_domain::{Aggregate, Money};
    let commands = h.commands();
    for a in ["big-1", "big-2"] {
        let req = OpenAccount {
            overdraft_limit: None,
            account_id: Some(id(a)),
            owner: Owner::parse("Rich").expect("owner"),
            currency: Currency::parse("JPY").expect("currency"),
        };
        commands.open_account(req, &ctx(0)).await.expect("open");
        let amount = dec("6000000000000000000");
        commands
            .act(
                id(a),
                AccountAction::Deposit {
                    amount,
                    description: None,
                },
                &ctx(0),
            )
            .await
            .expect("deposit");
    }
    let usd = Currency::parse("USD").expect("currency");
    let foreign = ledger_domain::Account::encode(&AccountEvent::Deposited {
        account_id: id("big-1"),
        amount: Money::from_minor(100, usd),
        balance: Money::from_minor(100, usd),
        description: None,
    });
    let event = NewEvent {
        event_id: uuid::Uuid::new_v4(),
        event_type: foreign.event_type.to_owned(),
        schema_version: foreign.schema_version,
        data: foreign.data,
        metadata: EventMetadata {
            actor: "conformance".into(),
            request_id: None,
            causation_id: None,
            correlation_id: None,
        },
        recorded_at: chrono::Utc::now(),
        prev_hash: ChainHash::ZERO,
        hash: ChainHash::ZERO,
    };
    h.store
        .append(AppendRequest {
            streams: vec![StreamWrite {
                stream_id: "big-1".into(),
                stream_type: ledger_domain::Account::STREAM_TYPE.into(),
                expected_version: 2,
                events: vec![event],
            }],
            idempotency: vec![],
        })
        .await
        .expect("append");
}

/// The projections that cannot apply [`a_foreign_currency_deposit`].
const CANNOT_APPLY: [Projection; 1] = [Projection::CurrentState];

/// Whether a status names one of [`CANNOT_APPLY`].
fn cannot_apply(name: &str) -> bool {
    CANNOT_APPLY.iter().any(|p| p.as_str() == name)
}

/// Steps the projections together, as the service's projector loop does (leaving out
/// failed ones), until those still going have no lag; returns them. Waits on lag, not
/// on an empty page: a store's feed may hold back events of transactions still running.
async fn step_together(
    h: &Harness,
    runner: &ProjectionRunner,
    mut going: Vec<Projection>,
) -> Vec<Projection> {
    for _ in 0..2000 {
        runner.step_many(&going).await.expect("step");
        let statuses = h.projections.statuses().await.expect("statuses");
        going.retain(|p| {
            !statuses
                .iter()
                .any(|s| s.name == p.as_str() && s.state == ProjectionState::Failed)
        });
        let reports = runner.reports().await.expect("reports");
        if reports
            .iter()
            .filter(|r| going.iter().any(|p| p.as_str() == r.status.name))
            .all(|r| r.lag_events == 0)
        {
            return going;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("projections never caught up");
}

/// Stepping all projections together (one feed read and transaction per batch) gives
/// the same views as a fold of all events.
pub async fn stepping_together_equals_a_fold(h: Harness) {
    workload(&h, 30).await;
    let runner = h.runner(25);
    step_together(&h, &runner, PROJECTIONS.to_vec()).await;
    assert_eq!(observed(&h).await, expected(&h).await);
}

/// Stepping together, a projection that cannot apply an event is marked failed and
/// the others still apply every event.
pub async fn stepping_together_isolates_a_failing_projection(h: Harness) {
    a_foreign_currency_deposit(&h).await;
    let runner = h.runner(100);
    let going = step_together(&h, &runner, PROJECTIONS.to_vec()).await;
    assert_eq!(going, [Projection::Analytics, Projection::AuditLog]);
    let statuses = h.projections.statuses().await.expect("statuses");
    for s in &statuses {
        let want = if cannot_apply(&s.name) {
            ProjectionState::Failed
        } else {
            ProjectionState::Live
        };
        assert_eq!(s.state, want, "{}", s.name);
    }
    let reports = runner.reports().await.expect("reports");
    for r in reports.iter().filter(|r| r.status.name != "current_state") {
        assert_eq!(r.lag_events, 0, "{} applied everything", r.status.name);
    }
    let entries = h
        .read
        .audit(AuditFilter {
            account_id: Some("big-1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(entries.len(), 3, "the foreign deposit is on record");
}

/// An event one projection cannot apply marks it failed (with the error) and stops it;
/// the other projections go on.
pub async fn a_failing_projection_stops_alone(h: Harness) {
    a_foreign_currency_deposit(&h).await;
    let runner = h.runner(100);
    for p in CANNOT_APPLY {
        // Retried while the feed may still hold the events back (see `step_together`).
        let mut outcome = Ok(0);
        for _ in 0..2000 {
            outcome = runner.catch_up(p).await;
            if outcome.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let err = outcome.expect_err("it cannot apply the event");
        assert!(!err.is_transient(), "{p}");
    }
    step_together(
        &h,
        &runner,
        vec![Projection::Analytics, Projection::AuditLog],
    )
    .await;
    let statuses = h.projections.statuses().await.expect("statuses");
    for s in &statuses {
        if cannot_apply(&s.name) {
            assert_eq!(s.state, ProjectionState::Failed, "{}", s.name);
            assert!(s.last_error.is_some(), "{}", s.name);
        } else {
            assert_eq!(s.state, ProjectionState::Live, "{}", s.name);
        }
    }
    // Rebuilding all of them: the one that cannot apply the event fails the rebuild (an
    // error, not a silent success) and stays failed; the others are swapped in.
    let err = runner
        .rebuild_many(&PROJECTIONS, &|_| {})
        .await
        .expect_err("they cannot be rebuilt either");
    assert!(
        matches!(&err, ProjectionError::Failed { projection, .. }
            if cannot_apply(projection)),
        "{err:?}"
    );
    for s in h.projections.statuses().await.expect("statuses") {
        let want = if cannot_apply(&s.name) {
            ProjectionState::Failed
        } else {
            ProjectionState::Live
        };
        assert_eq!(s.state, want, "{}", s.name);
    }
}

/// Stepping a rebuild that is not in progress (finished or abandoned elsewhere) is an
/// error, never an endless "someone else moved it".
pub async fn a_rebuild_step_without_a_rebuild_is_an_error(h: Harness) {
    workload(&h, 3).await;
    let runner = h.runner(10);
    for p in PROJECTIONS {
        let got = runner
            .step(p, ledger_application::ports::readmodel::Generation::Rebuild)
            .await;
        assert!(got.is_err(), "{p}: {got:?}");
    }
    runner
        .rebuild_many(&PROJECTIONS, &|_| {})
        .await
        .expect("a real rebuild still works");
    for p in PROJECTIONS {
        let got = runner
            .step(p, ledger_application::ports::readmodel::Generation::Rebuild)
            .await;
        assert!(got.is_err(), "{p} after its rebuild: {got:?}");
    }
}

/// A rebuild that is behind the live tables is not swapped in (readers would see the
/// views go back); the runner catches it up and then swaps it in.
pub async fn a_rebuild_behind_the_live_view_is_not_swapped_in(h: Harness) {
    use ledger_application::ports::readmodel::Generation;
    workload(&h, 3).await;
    let runner = h.runner(10);
    catch_up_all(&runner).await;
    let before = observed(&h).await;
    for p in PROJECTIONS {
        h.projections.start_rebuild(p).await.expect("start");
        let page = h.store.read_feed(FeedCursor::START, 5).await.expect("feed");
        assert_eq!(page.events.len(), 5, "the workload wrote more than a page");
        let batch = runner.decode(page.events).await.expect("decode");
        let applied = h
            .projections
            .apply_batch(p, Generation::Rebuild, FeedCursor::START, &batch, page.next)
            .await
            .expect("apply");
        assert!(applied, "{p}: the rebuild took its first page");
        let swapped = h
            .projections
            .finish_rebuild(p, page.next)
            .await
            .expect("finish");
        assert!(!swapped, "{p}: a rebuild five events in was swapped in");
        assert_eq!(observed(&h).await, before, "{p}: the live view went back");
    }
    runner
        .rebuild_many(&PROJECTIONS, &|_| {})
        .await
        .expect("the runner finishes them");
    assert_eq!(observed(&h).await, before, "the rebuilt views");
    for s in h.projections.statuses().await.expect("statuses") {
        assert_eq!(s.state, ProjectionState::Live, "{}", s.name);
    }
}

/// A failure is marked only where the failing step read its checkpoint: a step that
/// failed on tables a rebuild has since swapped out (another instance's rebuild, say)
/// leaves the rebuilt projection live. A review found an unconditional mark landing
/// right after such a swap, leaving a projection rebuilt correctly `failed`.
pub async fn a_failure_seen_before_a_swap_marks_nothing(h: Harness) {
    use ledger_application::ports::readmodel::Generation;
    workload(&h, 3).await;
    let runner = h.runner(10);
    for p in PROJECTIONS {
        let seen = h.projections.checkpoint(p, Generation::Live).await;
        assert_eq!(seen, Ok(FeedCursor::START), "{p}");
    }
    runner
        .rebuild_many(&PROJECTIONS, &|_| {})
        .await
        .expect("rebuild");
    for p in PROJECTIONS {
        for g in [Generation::Live, Generation::Rebuild] {
            let marked = h.projections.set_failed(p, g, FeedCursor::START, "stale");
            marked.await.expect("mark");
        }
    }
    for s in h.projections.statuses().await.expect("statuses") {
        assert_eq!(
            s.state,
            ProjectionState::Live,
            "{}: {:?}",
            s.name,
            s.last_error
        );
    }
    // Where the checkpoint still is, the mark is made.
    for p in PROJECTIONS {
        let now = h.projections.checkpoint(p, Generation::Live).await;
        let now = now.expect("checkpoint");
        assert_ne!(now, FeedCursor::START, "{p}");
        let marked = h
            .projections
            .set_failed(p, Generation::Live, now, "current");
        marked.await.expect("mark");
    }
    for s in h.projections.statuses().await.expect("statuses") {
        assert_eq!(s.state, ProjectionState::Failed, "{}", s.name);
        assert_eq!(s.last_error.as_deref(), Some("current"), "{}", s.name);
    }
}
