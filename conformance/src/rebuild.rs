//! Conformance of the rebuild claim (feature `conformance`): one rebuild at a time
//! across every instance on a store, and statuses that tell a running rebuild from one
//! whose instance stopped.

use std::sync::Arc;
use std::time::Duration;

use ledger_application::ports::readmodel::{
    Projection, ProjectionState, ProjectionStore, REBUILD_INTERRUPTED,
};

async fn analytics_state(store: &dyn ProjectionStore) -> (ProjectionState, Option<String>) {
    let all = store.statuses().await.expect("statuses");
    let s = all
        .into_iter()
        .find(|s| s.name == "analytics")
        .expect("analytics");
    (s.state, s.last_error)
}

/// `first` and `second` are two store objects on the same data, as two instances have
/// (the same object twice for a store that lives in one process).
pub async fn a_rebuild_claim_is_exclusive(
    first: Arc<dyn ProjectionStore>,
    second: Arc<dyn ProjectionStore>,
) {
    let claim = first.claim_rebuild().await.expect("claim").expect("free");
    assert!(
        second.claim_rebuild().await.expect("claim").is_none(),
        "another instance is refused while the claim is held"
    );
    assert!(
        first.claim_rebuild().await.expect("claim").is_none(),
        "so is the holder's own instance"
    );
    first
        .start_rebuild(Projection::Analytics)
        .await
        .expect("start");
    assert_eq!(
        analytics_state(second.as_ref()).await,
        (ProjectionState::Rebuilding, None),
        "every instance reads the running rebuild from the store"
    );
    // The holder stops without finishing (its connection, file or process goes away);
    // a store may take a moment to notice (a server sees the connection close).
    drop(claim);
    let mut reported = None;
    for _ in 0..100 {
        let state = analytics_state(second.as_ref()).await;
        if state.0 != ProjectionState::Rebuilding {
            reported = Some(state);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        reported,
        Some((ProjectionState::Live, Some(REBUILD_INTERRUPTED.to_owned()))),
        "a rebuild nobody runs is not reported as running"
    );
    let again = second.claim_rebuild().await.expect("claim");
    let again = again.expect("the claim is released with its holder");
    // Released explicitly, as a finished rebuild releases it: free at once, anywhere.
    again.release().await;
    let next = first.claim_rebuild().await.expect("claim");
    assert!(next.is_some(), "a released claim is free at once");
}
