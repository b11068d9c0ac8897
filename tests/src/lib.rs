//! End-to-end tests. Empty until the HTTP/binary issue lands.
#![forbid(unsafe_code)]
