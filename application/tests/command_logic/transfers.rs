//! A transfer's `If-Match`: it names the payer's version, checked before anything else
//! the transfer is refused for.

use super::*;

/// Accounts `a` and `b`, each at version 1 with nothing in it; nothing else exists.
fn two_empty_accounts() -> MockEventStore {
    let mut store = MockEventStore::new();
    store.expect_read_stream().returning(|q| {
        Ok(match q.stream_id {
            "a" | "b" if q.after_version == 0 => opened_stream_of(q.stream_id),
            _ => vec![],
        })
    });
    store.expect_idempotency_record().returning(|_| Ok(None));
    store.expect_append().never();
    store
}

fn ten_from_a_to_b() -> TransferRequest {
    TransferRequest {
        transfer_id: Some(TransferId::parse("t1").unwrap()),
        from: a(),
        to: AccountId::parse("b").unwrap(),
        amount: Decimal::parse("10").unwrap(),
        description: None,
        pending: false,
        expires_in_seconds: None,
    }
}

#[tokio::test]
async fn a_transfer_whose_if_match_names_another_version_of_the_payer_is_refused_first() {
    let svc = service(two_empty_accounts(), no_snapshots(), 0);
    let with = |versions: Vec<u64>| CommandContext {
        if_match: Some(IfMatch::Versions(versions)),
        ..ctx()
    };
    // Stale: refused for the version, though it could not be paid either.
    let stale = svc.transfer(ten_from_a_to_b(), &with(vec![5])).await;
    assert_eq!(
        stale.unwrap_err(),
        CommandError::VersionMismatch { actual: 1 }
    );
    // Current: the precondition holds, and the transfer is judged on its merits.
    let current = svc.transfer(ten_from_a_to_b(), &with(vec![1])).await;
    let refused = current.unwrap_err();
    assert!(
        matches!(
            refused,
            CommandError::Refused(DomainError::InsufficientFunds { .. })
        ),
        "{refused:?}"
    );
}
