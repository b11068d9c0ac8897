//! Audit-log conformance for the filtered reads: one account's entries, an owner's,
//! paged a few at a time, must be exactly the unfiltered log's entries that match,
//! newest first, whatever index a store answers them from (PostgreSQL reads one
//! account's from the events' own `(stream_id, version)` index, which needs a stream's
//! positions to grow with its versions: checked here too).

use std::collections::BTreeMap;

use ledger_application::ports::readmodel::AuditFilter;
use ledger_application::views::AuditEntry;

use crate::projections::{catch_up_all, workload, Harness};

/// Every entry the filter selects, read `page` at a time by the keyset cursor.
async fn paged(h: &Harness, filter: &AuditFilter, page: usize) -> Vec<AuditEntry> {
    let mut out = Vec::new();
    let mut before = filter.before;
    loop {
        let got = h
            .read
            .audit(AuditFilter {
                before,
                limit: page,
                ..filter.clone()
            })
            .await
            .expect("audit");
        assert!(got.len() <= page, "a page holds at most its limit");
        let Some(last) = got.last() else { break };
        before = Some(last.position);
        out.extend(got);
    }
    out
}

fn ids(entries: &[AuditEntry]) -> Vec<(u64, String, u64)> {
    entries
        .iter()
        .map(|e| (e.position, e.stream_id.clone(), e.version))
        .collect()
}

/// After a concurrent workload: each account's entries, paged 7 at a time, alone and
/// with an event type, after a cursor taken from another stream, and under an owner's
/// scope, equal the full log's matching entries in the same order; each stream's
/// versions fall as its positions fall.
pub async fn filtered_audit_pages_equal_the_full_log(h: Harness) {
    workload(&h, 40).await;
    catch_up_all(&h.runner(50)).await;
    let all = paged(&h, &AuditFilter::default(), 500).await;
    assert!(!all.is_empty(), "the workload wrote events");
    let mut last_version: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &all {
        if let Some(newer) = last_version.insert(&e.stream_id, e.version) {
            assert!(
                e.version < newer,
                "{}: versions fall with positions",
                e.stream_id
            );
        }
    }
    let owner_of = |a: usize| format!("owner-{}", a % 4);
    let middle = all[all.len() / 2].position;
    for a in 0..12 {
        let account = format!("acc-{a}");
        let mine = |e: &&AuditEntry| e.stream_id == account;
        let want: Vec<AuditEntry> = all.iter().filter(mine).cloned().collect();
        assert!(want.len() > 1, "{account} has a history");
        let by_account = AuditFilter {
            account_id: Some(account.clone()),
            ..Default::default()
        };
        assert_eq!(
            ids(&paged(&h, &by_account, 7).await),
            ids(&want),
            "{account}"
        );

        let deposits = AuditFilter {
            event_type: Some("MoneyDeposited".into()),
            ..by_account.clone()
        };
        let want_deposits: Vec<_> = want
            .iter()
            .filter(|e| e.event_type == "MoneyDeposited")
            .cloned()
            .collect();
        assert_eq!(ids(&paged(&h, &deposits, 3).await), ids(&want_deposits));

        // A cursor that is not one of this stream's positions still cuts at it.
        let after_foreign = AuditFilter {
            before: Some(middle),
            ..by_account.clone()
        };
        let want_older: Vec<_> = want
            .iter()
            .filter(|e| e.position < middle)
            .cloned()
            .collect();
        assert_eq!(ids(&paged(&h, &after_foreign, 5).await), ids(&want_older));

        let own = AuditFilter {
            owner: Some(owner_of(a)),
            ..by_account.clone()
        };
        assert_eq!(ids(&paged(&h, &own, 7).await), ids(&want), "own account");
        let foreign = AuditFilter {
            owner: Some(owner_of(a + 1)),
            ..by_account.clone()
        };
        assert!(paged(&h, &foreign, 7).await.is_empty(), "another owner's");
    }
    for o in 0..4 {
        let owner = format!("owner-{o}");
        let accounts: Vec<String> = (0..12)
            .filter(|a| owner_of(*a) == owner)
            .map(|a| format!("acc-{a}"))
            .collect();
        let want: Vec<_> = all
            .iter()
            .filter(|e| accounts.contains(&e.stream_id))
            .cloned()
            .collect();
        let scoped = AuditFilter {
            owner: Some(owner.clone()),
            ..Default::default()
        };
        assert_eq!(ids(&paged(&h, &scoped, 9).await), ids(&want), "{owner}");
    }
}
