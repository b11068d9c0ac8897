//! What the PostgreSQL and SQLite adapters share, written once: the mapping of
//! read-model rows into views (through [`Columns`], which each dialect implements for
//! its row type), number conversions, the read models' table names, and the
//! translation of sqlx errors into the ports' errors (each dialect says which of its
//! errors are outages).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod keys;
mod rows;

pub use keys::{api_key, replayed_key, role_columns, KEY_COLUMNS, REPLAYED_KEY_COLUMNS};

pub use rows::{
    account_view, audit_entry, currency_summary, currency_totals, daily_volume, day_totals,
    transfer_checked, transfer_json, transfer_row, Columns,
};

use ledger_application::ports::readmodel::{
    interrupted_if_unclaimed, Generation, Projection, ProjectionState, ProjectionStatus,
    ReadModelError,
};
use ledger_application::ports::store::{AppendError, StoreError};

/// A stored value that does not decode, as sqlx's decode error.
pub fn decode_error(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(e.to_string().into())
}

/// A stored hash column. A missing one (an event not yet given its hash, see the
/// stores' `backfill_hashes`) or one of the wrong length reads as zeros, which never
/// matches a computed hash: `ledger verify` reports it instead of the read failing.
pub fn chain_hash(stored: Option<Vec<u8>>) -> Result<ledger_domain::ChainHash, sqlx::Error> {
    Ok(stored
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .map_or(ledger_domain::ChainHash::ZERO, ledger_domain::ChainHash))
}

/// A stored count or version (never negative) as `u64`.
pub fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A count, version or limit as a bound parameter (saturating).
pub fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A limit as a bound parameter (saturating).
pub fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The tables each projection writes (the same schema on both dialects).
pub fn tables(projection: Projection) -> &'static [&'static str] {
    match projection {
        Projection::CurrentState => &["current_state", "transfers"],
        Projection::Analytics => &["analytics_currency", "analytics_daily"],
        Projection::AuditLog => &["audit_log"],
    }
}

/// The suffix of a generation's tables (`current_state__rebuild` while rebuilding).
pub fn suffix(g: Generation) -> &'static str {
    match g {
        Generation::Live => "",
        Generation::Rebuild => "__rebuild",
    }
}

/// A read failure of the event store; `outage` is the dialect's test for "retry later".
pub fn store_error(e: sqlx::Error, outage: fn(&sqlx::Error) -> bool) -> StoreError {
    if outage(&e) {
        StoreError::Unavailable(e.to_string())
    } else if let sqlx::Error::Decode(why) = &e {
        // What the adapters say of a row they cannot read (a column of another type,
        // a store of another schema, stays a failure).
        StoreError::Unreadable(why.to_string())
    } else {
        StoreError::Failed(e.to_string())
    }
}

/// A read-model failure; `outage` is the dialect's test for "retry later".
pub fn read_model_error(e: sqlx::Error, outage: fn(&sqlx::Error) -> bool) -> ReadModelError {
    if outage(&e) {
        ReadModelError::Unavailable(e.to_string())
    } else if let sqlx::Error::Decode(why) = &e {
        ReadModelError::Unreadable(why.to_string())
    } else {
        ReadModelError::Failed(e.to_string())
    }
}

/// An append failure that is not a version conflict (the dialect recognises those).
pub fn append_failure(e: sqlx::Error, outage: fn(&sqlx::Error) -> bool) -> AppendError {
    if outage(&e) {
        AppendError::Unavailable(e.to_string())
    } else {
        AppendError::Failed(e.to_string())
    }
}

/// A stored checkpoint. The service never stores a negative one: such a row was changed
/// outside it, and is refused rather than read as the feed's start (a projection would
/// then apply the whole feed again, adding the analytics' sums twice).
pub fn checkpoint(
    tx: i64,
    position: i64,
) -> Result<ledger_application::ports::store::FeedCursor, sqlx::Error> {
    match (u64::try_from(tx), u64::try_from(position)) {
        (Ok(tx), Ok(position)) => Ok(ledger_application::ports::store::FeedCursor { tx, position }),
        _ => Err(decode_error(format!(
            "a stored checkpoint {tx}-{position} is negative: changed outside the service"
        ))),
    }
}

/// A live checkpoint a rebuild replaces: one that cannot be read (changed by hand) is
/// the feed's start, so that the rebuild that mends it can finish.
pub fn replaced_anyway(
    read: Result<Option<ledger_application::ports::store::FeedCursor>, ReadModelError>,
) -> Result<Option<ledger_application::ports::store::FeedCursor>, ReadModelError> {
    match read {
        Err(ReadModelError::Unreadable(_)) => Ok(None),
        other => other,
    }
}

/// A generation's checkpoint columns in the `projections` table.
pub fn checkpoint_columns(g: Generation) -> (&'static str, &'static str) {
    match g {
        Generation::Live => ("tx", "position"),
        Generation::Rebuild => ("rebuild_tx", "rebuild_position"),
    }
}

/// What a projection whose live checkpoint cannot be read says, until a rebuild
/// replaces that checkpoint.
pub const CHECKPOINT_UNREADABLE: &str = "its checkpoint cannot be read (its row was \
    changed outside the service): rebuild the projection to replace it";

/// A projection's status from its row (`state`, live `tx` and `position`,
/// `last_error`), `claimed` saying whether a rebuild holds its claim anywhere. A
/// negative checkpoint (changed by hand: [`checkpoint`] refuses it) reads `failed`
/// with [`CHECKPOINT_UNREADABLE`] and position 0, unless a rebuild runs to replace it
/// or a failure is stored with its own cause.
/// It is read so, never written: a runner marking it failed could land after the
/// rebuild that mended it (a review saw that race leave a rebuilt projection failed).
pub fn projection_status(
    name: String,
    state: &str,
    tx: i64,
    position: i64,
    last_error: Option<String>,
    claimed: bool,
) -> ProjectionStatus {
    // Unreadable as `checkpoint` finds it; listed with each negative half as 0.
    let readable = checkpoint(tx, position).is_ok();
    let stored = ProjectionStatus {
        name,
        state: ProjectionState::parse(state),
        position: ledger_application::ports::store::FeedCursor {
            tx: u64::try_from(tx).unwrap_or(0),
            position: u64::try_from(position).unwrap_or(0),
        },
        last_error,
    };
    let mut status = interrupted_if_unclaimed(stored, claimed);
    // A failure already stored (the rebuild meant to mend it failed, say) keeps its
    // own cause.
    if !readable && status.state == ProjectionState::Live {
        status.state = ProjectionState::Failed;
        status.last_error = Some(CHECKPOINT_UNREADABLE.to_owned());
    }
    status
}

/// The relay's checkpoint row: its name.
pub const RELAY: &str = "relay";

/// The relay's status from its checkpoint row (`tx_id`, `position`, `last_error`).
pub fn relay_status(
    tx: i64,
    position: i64,
    last_error: Option<String>,
) -> ledger_application::ports::readmodel::ProjectionStatus {
    ledger_application::ports::readmodel::ProjectionStatus {
        name: RELAY.into(),
        state: ledger_application::ports::readmodel::ProjectionState::Live,
        position: ledger_application::ports::store::FeedCursor {
            tx: u64_of(tx),
            position: u64_of(position),
        },
        last_error,
    }
}
