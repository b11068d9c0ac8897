//! Ports: what the application needs from the outside world, as traits.

pub mod feed_cursor;
pub mod filters;
pub mod keys;
pub mod read_views;
pub mod readmodel;
pub mod relay;
pub mod snapshot;
pub mod store;
pub mod system;
