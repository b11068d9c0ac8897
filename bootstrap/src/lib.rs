//! Wiring of the `ledger` binary. Empty until the HTTP/binary issue lands: no binary yet.
#![forbid(unsafe_code)]
