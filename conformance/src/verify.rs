//! `ledger verify`'s read-model pass on each store: after instant, pending, posted and
//! voided transfers it finds nothing; and a transfer event after the transfer ended (a
//! store the service did not write, which the projection folds all the same) is folded
//! as the projection folds it, not taken for a difference.

use std::sync::Arc;

use ledger_application::commands::{AccountAction, OpenAccount};
use ledger_application::ports::store::{
    AppendRequest, ChainHash, EventMetadata, NewEvent, StreamQuery, StreamWrite,
};
use ledger_application::ports::system::Spawner;
use ledger_application::transfers::{transfer_stream, TransferRequest};
use ledger_application::verify::{Report, Verifier};
use ledger_domain::{
    AccountId, Aggregate, Currency, Decimal, Money, Owner, Transfer, TransferEvent, TransferId,
};

use crate::projections::{catch_up_all, ctx, Harness};

fn id(s: &str) -> AccountId {
    AccountId::parse(s).expect("id")
}

/// Verifies twice, its read-ahead polled beside the checks and on tasks of its own:
/// both must give the same report.
async fn verify(h: &Harness) -> Report {
    let spawner: Arc<dyn Spawner> = Arc::new(|task| {
        tokio::spawn(task);
    });
    let mut reports = Vec::new();
    for spawner in [None, Some(spawner)] {
        let verifier = Verifier {
            store: h.store.clone(),
            models: h.read.clone(),
            checkpoints: h.projections.clone(),
            public_keys: Vec::new(),
            kept_seal: None,
            spawner,
        };
        reports.push(verifier.run(None, &|_| {}).await.expect("verify runs"));
    }
    let (beside, apart) = (&reports[0], &reports[1]);
    assert_eq!(
        (
            beside.events,
            beside.streams,
            beside.accounts,
            beside.transfers,
            beside.analytics
        ),
        (
            apart.events,
            apart.streams,
            apart.accounts,
            apart.transfers,
            apart.analytics
        )
    );
    assert_eq!(beside.findings, apart.findings);
    reports.swap_remove(0)
}

/// The workload, verify, an event after an end, verify again.
pub async fn verify_folds_transfers_as_the_projection_does(h: Harness) {
    let commands = h.commands();
    for a in ["v-1", "v-2"] {
        let open = OpenAccount {
            account_id: Some(id(a)),
            owner: Owner::parse("owner").expect("owner"),
            currency: Currency::parse("USD").expect("USD"),
            overdraft_limit: None,
        };
        commands.open_account(open, &ctx(0)).await.expect("open");
        let deposit = AccountAction::Deposit {
            amount: Decimal::parse("100").expect("amount"),
            description: None,
        };
        commands
            .act(id(a), deposit, &ctx(0))
            .await
            .expect("deposit");
    }
    for (t, pending) in [("vt-instant", false), ("vt-held", true), ("vt-void", true)] {
        let req = TransferRequest {
            transfer_id: Some(TransferId::parse(t).expect("id")),
            from: id("v-1"),
            to: id("v-2"),
            amount: Decimal::parse("5").expect("amount"),
            description: None,
            pending,
            expires_in_seconds: None,
        };
        commands.transfer(req, &ctx(0)).await.expect("transfer");
    }
    let voided = TransferId::parse("vt-void").expect("id");
    commands
        .void_transfer(voided.clone(), None, &ctx(0))
        .await
        .expect("void");
    // Two partial posts: each moves the balances and lowers what is held, figures pass
    // 4's arithmetic checks on both sides.
    for part in ["2", "1.5"] {
        let held = TransferId::parse("vt-held").expect("id");
        let amount = Some(Decimal::parse(part).expect("amount"));
        commands
            .post_transfer(held, amount, &ctx(0))
            .await
            .expect("post");
    }
    catch_up_all(&h.runner(7)).await;
    let report = verify(&h).await;
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!((report.accounts, report.transfers), (2, 3));
    assert!(report.analytics, "the analytics were compared");
    // Every event has its audit entry (no seals here), and the log's size was compared.
    assert_eq!(report.audit_entries, report.events);
    assert!(report.audit_counted, "the audit log's size was compared");

    // A `Posted` after the void, chained properly: the projection shows it posted.
    let stream = transfer_stream(&voided);
    let stream_id = stream.as_str();
    let stored = h
        .store
        .read_stream(StreamQuery {
            stream_id,
            after_version: 0,
            until: None,
            limit: 100,
        })
        .await
        .expect("read");
    let last = stored.last().expect("the voided transfer's events");
    let usd = Currency::parse("USD").expect("USD");
    let enc = Transfer::encode(&TransferEvent::Posted {
        transfer_id: voided,
        amount: Money::from_minor(100, usd),
        remaining: Money::zero(usd),
    });
    let event = NewEvent {
        event_id: uuid::Uuid::new_v4(),
        event_type: enc.event_type.to_owned(),
        schema_version: enc.schema_version,
        data: enc.data,
        metadata: EventMetadata {
            actor: "conformance".into(),
            request_id: None,
            causation_id: None,
            correlation_id: None,
        },
        recorded_at: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
        prev_hash: ChainHash::ZERO,
        hash: ChainHash::ZERO,
    }
    .chained(stream_id, last.version + 1, last.hash);
    let write = StreamWrite {
        stream_id: stream_id.into(),
        stream_type: Transfer::STREAM_TYPE.into(),
        expected_version: last.version,
        events: vec![event],
    };
    h.store
        .append(AppendRequest {
            streams: vec![write],
            idempotency: vec![],
        })
        .await
        .expect("append");
    catch_up_all(&h.runner(7)).await;
    let report = verify(&h).await;
    assert_eq!(report.transfers, 3);
    assert!(report.analytics, "the analytics were compared");
    // The views follow it, as the projection does; but it moved no account: the one
    // finding is the transfer's legs against its record.
    let found: Vec<_> = report.findings.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [format!(
            "pass 4 (read models), stream {stream}, position {}: the transfer's legs and \
             record disagree: an event of its stream after it ended, or with no transfer made",
            report.findings[0].position.unwrap_or_default()
        )],
    );
}
