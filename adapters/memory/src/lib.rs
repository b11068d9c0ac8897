//! Every ledger port in memory: the event store, snapshots and read models.
//!
//! It behaves like the real stores (conflicts, atomic multi-stream appends,
//! idempotency records, forward-only snapshots), so it is both a fast test double
//! and the reference the SQL adapters are checked against.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![warn(missing_docs)]

mod keys;
mod readmodel_queries;
mod readmodels;
mod snapshots;
mod store;

pub use keys::MemoryKeyStore;
pub use readmodels::MemoryReadModels;
pub use snapshots::MemorySnapshotStore;
pub use store::MemoryEventStore;
