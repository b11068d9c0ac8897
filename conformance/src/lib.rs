//! The conformance suites every store adapter runs against the ports of
//! `ledger-application`: the same behaviour from the memory, SQLite and PostgreSQL
//! stores. A dev-dependency of the adapters; nothing in production links it.
#![forbid(unsafe_code)]

pub mod audit_paging;
pub mod expiry_burst;
pub mod expiry_faults;
mod fold;
pub mod keys;
pub mod lag;
pub mod pending;
pub mod projections;
pub mod projections_failures;
pub mod projections_interrupted;
pub mod projections_wide;
pub mod rebuild;
pub mod store;
pub mod store_concurrency;
pub mod verify;
