//! HTTP driver. Empty until the HTTP issue lands: it implements nothing yet.
#![forbid(unsafe_code)]
