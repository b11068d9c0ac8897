//! Ports and use cases of the ledger.
//!
//! - [`ports`]: the traits adapters implement (event store, snapshots, read models,
//!   clock, ids), each documenting what an adapter must guarantee. With the `mocks`
//!   feature every port has a mockall mock (`MockEventStore`, ...).
//! - [`commands::CommandService`]: load, decide, append with the expected version,
//!   retry on conflict, idempotency, metadata; commands queued on one account are
//!   decided together and written in one append (`combine`).
//! - [`queries::QueryService`]: current view, temporal state, history, feed.
//! - [`projection::ProjectionRunner`]: feed -> read model with its checkpoint.
//! - [`repository::Repository`]: aggregate loading via snapshot + events.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
#![warn(missing_docs)]

pub mod access;
mod account_batch;
mod analytics;
pub mod api_keys;
pub mod batch;
mod batch_non_atomic;
mod batch_state;
mod batch_unit;
mod cache;
mod command_types;
pub mod commands;
pub mod decode;
pub mod expirer;
mod expiry_unit;
pub mod feed;
pub mod feed_hub;
mod feed_subscription;
mod idempotency;
mod key_replay;
mod locks;
mod pipeline;
pub mod ports;
pub mod projection;
mod projection_report;
pub mod queries;
pub mod rebuild;
mod rebuild_read;
pub mod relay;
mod remembered;
pub mod repository;
pub mod seal;
pub mod seal_latest;
mod transfer_unit;
pub mod transfer_views;
pub mod transfers;
pub mod verify;
mod verify_analytics;
mod verify_arithmetic;
mod verify_audit;
mod verify_chain;
mod verify_legs;
mod verify_models;
mod verify_moved;
mod verify_read;
mod verify_report;
mod verify_seals;
mod verify_transfers;
pub mod views;
mod write;

pub use commands::{
    AccountAction, AccountReply, CommandContext, CommandError, CommandService, IfMatch, OpenAccount,
};
pub use transfers::{transfer_stream, TransferReply, TransferRequest, MAX_EXPIRES_IN_SECONDS};
