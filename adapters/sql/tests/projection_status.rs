//! How a projection's row reads as its status: a negative checkpoint (written by hand)
//! reads `failed`, unless a rebuild runs to replace it or a failure is stored with its
//! own cause.

use ledger_application::ports::readmodel::{ProjectionState, REBUILD_INTERRUPTED};
use ledger_sql::{projection_status, CHECKPOINT_UNREADABLE};

fn read(state: &str, tx: i64, error: Option<&str>, claimed: bool) -> (ProjectionState, String) {
    let s = projection_status(
        "analytics".into(),
        state,
        tx,
        4,
        error.map(String::from),
        claimed,
    );
    (s.state, s.last_error.unwrap_or_default())
}

#[test]
fn a_negative_checkpoint_reads_failed_until_its_rebuild() {
    let unreadable = (ProjectionState::Failed, CHECKPOINT_UNREADABLE.to_owned());
    assert_eq!(read("live", -1, None, false), unreadable);
    // A rebuild left interrupted: the live view it names cannot be read either.
    assert_eq!(read("rebuilding", -1, None, false), unreadable);
    assert_eq!(
        read("rebuilding", -1, None, true),
        (ProjectionState::Rebuilding, String::new())
    );
    // The rebuild meant to mend it failed: its own cause is kept.
    assert_eq!(
        read("failed", -1, Some("the read-model store refused"), false),
        (
            ProjectionState::Failed,
            "the read-model store refused".into()
        )
    );
}

#[test]
fn a_readable_checkpoint_reads_as_stored() {
    assert_eq!(
        read("live", 3, None, false),
        (ProjectionState::Live, String::new())
    );
    assert_eq!(
        read("rebuilding", 3, None, false),
        (ProjectionState::Live, REBUILD_INTERRUPTED.to_owned())
    );
    let s = projection_status("analytics".into(), "live", -5, 4, None, false);
    assert_eq!((s.position.tx, s.position.position), (0, 4));
}
